"""JSON API: create, read (streamed, or a window of one connection), delete sessions."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.decode.export import shapes
from app.decode.export.document import packets_json
from app.decode.model.memory import trim_heap
from app.store import Options, SessionRecord, Store, new_token
from app.store.pool import Analysts

from .models import UPLOAD, Created, Edit, SessionStatus, errors
from .upload import Submission, expiry, flag, read_submission

router = APIRouter(prefix="/api", responses=errors(400, 503))
OWNER_COOKIE = "tl_owner"
MAX_WINDOW = 10_000  # packets in one window request
# The owner token, as a header only, never a cookie (a cookie would be sent along with a
# request another site makes).
OwnerHeader = Annotated[str | None, Header(description="the owner_token the upload returned")]


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


async def create_from(request: Request, sub: Submission, token: str) -> SessionRecord:
    """The session for a submission: stored, its analysis started, awaited for the grace
    period. Input found unexplainable within it is answered with its error and not kept."""
    settings = request.app.state.settings
    try:
        expires_at = expiry(sub.fields, settings.default_expiry, settings.max_expiry, time.time())
        options = Options(
            keep_input=flag(sub.fields, "keep_input", True),
            anonymise=flag(sub.fields, "anonymise", False),
        )
        rec = await analysts_of(request).submit(
            sub.data, title=sub.title, owner_token=token, expires_at=expires_at, options=options
        )
    finally:
        sub.data.close()
    if rec.status == "failed":
        await run_in_threadpool(store_of(request).discard, rec.id)
        raise rec.failure()
    return rec


def status_json(rec: SessionRecord, base_url: str | None) -> dict[str, Any]:
    """What a client polls: the session's state, not its analysis."""
    out: dict[str, Any] = {
        "id": rec.id,
        # absolute only when TCPLADDER_BASE_URL says where the site is: never from Host
        "url": (base_url or "") + f"/s/{rec.id}",
        "status": rec.status,
        "title": rec.title,
        "note": rec.note,
        "created_at": rec.created_at,
        "expires_at": rec.expires_at,
        "kind": rec.kind,
        "packet_count": rec.packet_count,
        "flow_count": rec.flow_count,
        "options": {"keep_input": rec.options.keep_input, "anonymise": rec.options.anonymise},
    }
    if rec.progress is not None:
        out["progress"] = rec.progress
    if rec.error is not None:
        out["error"] = {k: v for k, v in rec.error.items() if k != "status"}
    return out


@router.post(
    "/sessions",
    status_code=201,
    response_model=Created,
    responses={
        202: {"model": Created, "description": "stored; the analysis is still running"},
        **errors(408, 413, 422, 429),
    },
    openapi_extra=UPLOAD,
)
async def create_session(request: Request) -> JSONResponse:
    """Upload a capture (multipart ``file``), paste text (form ``text``) or send either as
    the raw body. Fields: ``expires_in`` (seconds, 0 never), ``anonymise``, ``keep_input``,
    ``title``. 201 when the analysis finished within the grace period, else 202 with
    ``"status": "processing"``; poll ``GET /api/sessions/{id}/status``."""
    settings = request.app.state.settings
    request.app.state.create_limit.check(request)
    sub = await read_submission(request, settings.max_input, settings.body_timeout)
    token = owner_token(request) or new_token()
    rec = await create_from(request, sub, token)
    body = {**status_json(rec, settings.base_url), "owner_token": token}
    return JSONResponse(
        body,
        status_code=201 if rec.status == "ready" else 202,
        headers={"Location": f"/api/sessions/{rec.id}"},
        background=BackgroundTask(trim_heap),  # the upload's bytes, freed, back to the system
    )


@router.get("/sessions/{sid}/status", response_model=SessionStatus, responses=errors(404))
async def get_status(request: Request, sid: str) -> JSONResponse:
    """The session's status (``processing`` with its progress, ``ready``, or ``failed``
    with its error), title, note and expiry."""
    rec = await run_in_threadpool(store_of(request).get, sid)
    return JSONResponse(status_json(rec, request.app.state.settings.base_url))


@router.patch("/sessions/{sid}", response_model=SessionStatus, responses=errors(403, 404))
async def edit_session(
    request: Request, sid: str, edit: Edit, x_owner_token: OwnerHeader = None
) -> JSONResponse:
    """The owner sets the title and note (JSON ``{"title", "note"}``, ``X-Owner-Token``)."""
    store = store_of(request)
    rec = await run_in_threadpool(store.get, sid)
    title = rec.title if edit.title is None else edit.title
    note = rec.note if edit.note is None else edit.note
    await run_in_threadpool(store.set_note, sid, x_owner_token, title=title, note=note)
    request.app.state.page_cache.drop(sid)
    rec = await run_in_threadpool(store.get, sid)
    return JSONResponse(status_json(rec, request.app.state.settings.base_url))


@router.get(
    "/sessions/{sid}",
    response_model=None,
    responses={
        200: {"model": shapes.Document, "description": "the analysis document"},
        202: {"model": SessionStatus, "description": "the analysis is still running"},
        **errors(404, 422),
    },
)
async def get_session(
    request: Request, sid: str, summary: bool = Query(False, description="omit packet lists")
) -> Response:
    """The session's analysis: the document ``tcpladder explain --json`` prints, streamed
    connection by connection (``?summary=true``: without the per-packet lists). While the
    analysis runs: 202 with the status and progress; when it failed: its error."""
    store = store_of(request)
    rec = await run_in_threadpool(store.get, sid)  # 404 before the stream starts
    if rec.status == "processing":
        body = status_json(rec, request.app.state.settings.base_url)
        return JSONResponse(body, status_code=202, headers={"Retry-After": "1"})
    if rec.status == "failed":
        raise rec.failure()
    return StreamingResponse(
        iterate_in_threadpool(store.stream_json(sid, summary=summary)),
        media_type="application/json",
    )


@router.get(
    "/sessions/{sid}/flows/{flow_id}",
    response_model=shapes.FlowWithNegotiation,
    responses=errors(404, 409, 422),
)
async def get_flow(request: Request, sid: str, flow_id: int) -> JSONResponse:
    """One connection's summary and negotiation, without its packets."""
    return JSONResponse(await run_in_threadpool(store_of(request).flow_summary, sid, flow_id))


@router.get(
    "/sessions/{sid}/flows/{flow_id}/packets",
    response_model=shapes.PacketWindow,
    responses=errors(404, 409, 422),
)
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


@router.delete("/sessions/{sid}", status_code=204, responses=errors(403, 404))
async def delete_session(request: Request, sid: str, x_owner_token: OwnerHeader = None) -> Response:
    """Delete the session, its input and analysis (``X-Owner-Token``)."""
    await run_in_threadpool(store_of(request).delete, sid, x_owner_token)
    request.app.state.page_cache.drop(sid)
    return Response(status_code=204)


@router.get(
    "/sessions/{sid}/packets/{n}",
    response_model=shapes.PacketDetail,
    responses=errors(404, 409, 422),
)
async def packet_detail(request: Request, sid: str, n: int) -> JSONResponse:
    """One packet dissected in full: Scapy's layers, its bytes, the payload recognised."""
    detail = await run_in_threadpool(store_of(request).detail, sid, n)
    return JSONResponse(detail.as_dict())
