"""The one error path: a TraceError becomes a JSON error, an htmx fragment or a 4xx page."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from app.decode.model.errors import NotFound, TraceError
from app.store import UNAVAILABLE, StoreUnavailable

from .templating import Renderer


def install(app: FastAPI, renderer: Renderer) -> None:
    def respond(request: Request, err: TraceError, status: int) -> Response:
        wants_json = request.url.path.startswith("/api/") or (
            "application/json" in request.headers.get("accept", "")
            and "text/html" not in request.headers.get("accept", "")
        )
        if wants_json:
            return JSONResponse({"error": err.as_dict()}, status_code=status)
        response = renderer.page(
            request,
            "error.html",
            {"error": err, "status": status},
            partial="_error.html",
            status_code=status,
        )
        if request.headers.get("hx-request") == "true":
            # Let htmx swap the error fragment into the page instead of ignoring a 4xx.
            response.headers["HX-Retarget"] = "#result"
            response.headers["HX-Reswap"] = "innerHTML"
        return response

    @app.exception_handler(TraceError)
    async def trace_error(request: Request, exc: TraceError) -> Response:
        response = respond(request, exc, exc.status)
        retry = getattr(exc, "retry_after", None)
        if retry is not None:
            response.headers["Retry-After"] = str(retry)
        return response

    async def store_unavailable(request: Request, exc: Exception) -> Response:
        err = StoreUnavailable(exc)
        response = respond(request, err, err.status)
        response.headers["Retry-After"] = str(err.retry_after)
        return response

    for kind in UNAVAILABLE:  # the database is down or restarting: a 503, never a 500
        app.add_exception_handler(kind, store_unavailable)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            err: TraceError = NotFound(f"nothing at {request.url.path}")
        else:
            err = TraceError(str(exc.detail))
        return respond(request, err, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return respond(request, TraceError(f"bad request: {where}: {first.get('msg', '')}"), 400)
