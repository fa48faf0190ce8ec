"""The FastAPI application: routers, static files, templates, the one error handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette_compress import CompressMiddleware

from app import __version__
from app.decode import Limits
from app.store import Store, default_url
from app.store.pool import Analysts

if TYPE_CHECKING:
    from app.store.queue import QueuedAnalysts

from . import api, errors, exports, follow, health, pages
from .pagecache import PageCache
from .ratelimit import CreateLimit
from .security import SecurityHeaders
from .settings import Settings
from .templating import Renderer, install_gettext, isotime


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    analysts = app.state.analysts
    await analysts.open()
    await analysts.warm()
    sweeping = asyncio.create_task(analysts.sweep_forever(app.state.settings.sweep_every))
    yield
    sweeping.cancel()
    analysts.close()
    await analysts.aclose()


def limits_of(settings: Settings) -> Limits:
    return Limits(
        max_input=settings.max_input,
        max_expanded=settings.max_expanded,
        max_packets=settings.max_packets,
        max_lines=settings.max_lines,
        max_line_length=settings.max_line_length,
        max_comment_lines=settings.max_comment_lines,
        max_flows=settings.max_flows,
        max_stored=settings.max_stored,
    )


def _analysts(store: Store, settings: Settings) -> Analysts | QueuedAnalysts:
    """Where jobs run: this server's worker processes, or a PostgreSQL queue."""
    if settings.queue == "procrastinate":
        if store.engine.dialect.name != "postgresql":
            raise SystemExit("TCPLADDER_QUEUE=procrastinate needs DATABASE_URL=postgresql://…")
        from app.store.queue import QueuedAnalysts

        return QueuedAnalysts(store, grace=settings.grace)
    if settings.queue != "local":
        raise SystemExit(f"TCPLADDER_QUEUE is 'local' or 'procrastinate', not {settings.queue!r}")
    return Analysts(store, settings.workers, grace=settings.grace)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
        lifespan=_lifespan,
        title="tcpladder",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.create_limit = CreateLimit(settings.rate_limit)
    limits = limits_of(settings)
    app.state.store = Store(
        settings.database_url or default_url(settings.data_dir), limits=limits, lease=settings.lease
    )
    app.state.analysts = _analysts(app.state.store, settings)
    templates = Jinja2Templates(directory=str(settings.templates_dir))
    templates.env.globals["version"] = __version__
    templates.env.filters["isotime"] = isotime
    install_gettext(templates.env)
    app.state.renderer = Renderer(templates)
    app.state.page_cache = PageCache(settings.page_cache)
    app.mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static")
    if settings.allowed_hosts != ("*",):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.add_middleware(SecurityHeaders)
    # zstd, br or gzip, as the client prefers; already compressed (cached) pages pass as they are
    app.add_middleware(CompressMiddleware)
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(follow.router)
    app.include_router(follow.api_router)
    app.include_router(exports.router)
    app.include_router(exports.api_router)
    errors.install(app, app.state.renderer)
    return app
