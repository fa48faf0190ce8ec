"""``GET /healthz``: whether this server can serve, for load balancers and HEALTHCHECK."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app import __version__

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    """200 with the database reached, its kind, the version, the analysis workers and the
    queue (sessions processing, of which nobody holds ``orphaned``); 503
    when the database does not answer."""
    state = request.app.state
    body: dict[str, object] = {"version": __version__, "workers": state.settings.workers}
    try:
        body["database"] = await run_in_threadpool(state.store.ping)
        body["queue"] = {"kind": state.settings.queue, **await run_in_threadpool(state.store.jobs)}
    except Exception as exc:  # any driver error: the point is to say so, not to raise
        body |= {"status": "unavailable", "reason": type(exc).__name__}
        return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
    body["status"] = "ok"
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
