"""JSON API: create, read, delete sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.store import Store, new_token

from .upload import read_submission

router = APIRouter(prefix="/api")
OWNER_COOKIE = "tl_owner"


def owner_token(request: Request) -> str | None:
    return request.headers.get("x-owner-token") or request.cookies.get(OWNER_COOKIE)


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.post("/sessions", status_code=201)
async def create_session(request: Request) -> JSONResponse:
    data, title = await read_submission(request, request.app.state.settings.max_input)
    token = owner_token(request) or new_token()
    rec = store_of(request).create(data, title=title, owner_token=token)
    body: dict[str, Any] = {
        "id": rec.id,
        "url": str(request.url_for("session_page", sid=rec.id)),
        "owner_token": token,
    }
    return JSONResponse(body, status_code=201, headers={"Location": f"/api/sessions/{rec.id}"})


@router.get("/sessions/{sid}")
async def get_session(request: Request, sid: str) -> JSONResponse:
    rec = store_of(request).get(sid)
    return JSONResponse(rec.result)


@router.delete("/sessions/{sid}", status_code=204)
async def delete_session(request: Request, sid: str) -> Response:
    store_of(request).delete(sid, owner_token(request))
    return Response(status_code=204)


@router.get("/sessions/{sid}/packets/{n}")
async def packet_detail(request: Request, sid: str, n: int) -> JSONResponse:
    """One packet dissected in full: Scapy's layers, its bytes, the payload recognised."""
    return JSONResponse(store_of(request).detail(sid, n).as_dict())
