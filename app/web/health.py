"""``GET /healthz``: whether this server can serve, for load balancers and HEALTHCHECK;
``GET /docs``: the API's documentation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from app import __version__

router = APIRouter()


SWAGGER_UI = "5.35.0"  # static/swagger/, from npm's swagger-ui-dist


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """The API's documentation: Swagger UI vendored under static/, so the page loads
    nothing from another origin, reading ``/api/openapi.json``."""
    templates = request.app.state.renderer.templates
    response = templates.TemplateResponse(request, "docs.html", {"swagger_version": SWAGGER_UI})
    assert isinstance(response, HTMLResponse)
    return response


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
