"""JSON API: create, read (streamed, or a window of one connection), delete sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.decode.export import shapes
from app.decode.export.document import packets_json
from app.decode.model.memory import trim_heap
from app.store import Store, new_token
from app.store.pool import Analysts

from .upload import read_submission

router = APIRouter(prefix="/api")
OWNER_COOKIE = "tl_owner"
MAX_WINDOW = 10_000  # packets in one window request


def owner_token(request: Request) -> str | None:
    """The API's owner token: the ``X-Owner-Token`` header only, never a cookie (a cookie
    would be sent along with a request another site makes)."""
    return request.headers.get("x-owner-token")


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def analysts_of(request: Request) -> Analysts:
    """Where uploads are decoded and analysed (worker processes, TCPLADDER_WORKERS)."""
    analysts: Analysts = request.app.state.analysts
    return analysts


@router.post("/sessions", status_code=201)
async def create_session(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    request.app.state.create_limit.check(request)
    sub = await read_submission(request, settings.max_input, settings.body_timeout)
    token = owner_token(request) or new_token()
    rec = await analysts_of(request).create(sub.data, title=sub.title, owner_token=token)
    path = f"/s/{rec.id}"
    body: dict[str, Any] = {
        "id": rec.id,
        # absolute only when TCPLADDER_BASE_URL says where the site is: never from Host
        "url": (settings.base_url or "") + path,
        "owner_token": token,
    }
    return JSONResponse(
        body,
        status_code=201,
        headers={"Location": f"/api/sessions/{rec.id}"},
        background=BackgroundTask(trim_heap),  # the upload's bytes, freed, back to the system
    )


@router.get(
    "/sessions/{sid}",
    response_model=None,
    responses={200: {"model": shapes.Document, "description": "the analysis document"}},
)
async def get_session(
    request: Request, sid: str, summary: bool = Query(False, description="omit packet lists")
) -> Response:
    """The session's analysis: the document ``tcpladder explain --json`` prints, streamed
    connection by connection (``?summary=true``: without the per-packet lists)."""
    store = store_of(request)
    await run_in_threadpool(store.get, sid)  # 404 before the stream starts
    return StreamingResponse(
        iterate_in_threadpool(store.stream_json(sid, summary=summary)),
        media_type="application/json",
    )


@router.get("/sessions/{sid}/flows/{flow_id}", response_model=shapes.FlowWithNegotiation)
async def get_flow(request: Request, sid: str, flow_id: int) -> JSONResponse:
    """One connection's summary and negotiation, without its packets."""
    return JSONResponse(await run_in_threadpool(store_of(request).flow_summary, sid, flow_id))


@router.get("/sessions/{sid}/flows/{flow_id}/packets", response_model=shapes.PacketWindow)
async def get_packets(
    request: Request,
    sid: str,
    flow_id: int,
    start: int = Query(0, alias="from", ge=0, description="first packet, 0-based in the flow"),
    count: int = Query(400, ge=0, le=MAX_WINDOW, description="how many packets"),
) -> JSONResponse:
    """A window of one connection's packets (the JSON's ``packets`` objects)."""
    store = store_of(request)

    def window() -> shapes.PacketWindow:
        flow = store.window(sid, flow_id, start, count)
        return {
            "flow": flow_id,
            "from": flow.offset,
            "count": len(flow.packets),
            "total": flow.packet_count,
            "packets": packets_json(flow),
        }

    return JSONResponse(await run_in_threadpool(window))


@router.delete("/sessions/{sid}", status_code=204)
async def delete_session(request: Request, sid: str) -> Response:
    await run_in_threadpool(store_of(request).delete, sid, owner_token(request))
    request.app.state.page_cache.drop(sid)
    return Response(status_code=204)


@router.get("/sessions/{sid}/packets/{n}")
async def packet_detail(request: Request, sid: str, n: int) -> JSONResponse:
    """One packet dissected in full: Scapy's layers, its bytes, the payload recognised."""
    detail = await run_in_threadpool(store_of(request).detail, sid, n)
    return JSONResponse(detail.as_dict())
