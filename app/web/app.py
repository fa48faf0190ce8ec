"""The FastAPI application: routers, static files, templates, the one error handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app import __version__
from app.decode import Limits
from app.store import Store, default_url
from app.store.pool import Analysts

from . import api, errors, health, pages
from .pagecache import PageCache
from .ratelimit import CreateLimit
from .security import SecurityHeaders
from .settings import Settings
from .templating import Renderer, isotime


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    analysts = app.state.analysts
    analysts.warm()
    sweeping = asyncio.create_task(analysts.sweep_forever(app.state.settings.sweep_every))
    yield
    sweeping.cancel()
    analysts.close()


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
    limits = Limits(
        max_input=settings.max_input,
        max_expanded=settings.max_expanded,
        max_packets=settings.max_packets,
        max_lines=settings.max_lines,
        max_line_length=settings.max_line_length,
        max_comment_lines=settings.max_comment_lines,
        max_flows=settings.max_flows,
        max_stored=settings.max_stored,
    )
    app.state.store = Store(
        settings.database_url or default_url(settings.data_dir), limits=limits, lease=settings.lease
    )
    app.state.analysts = Analysts(app.state.store, settings.workers, grace=settings.grace)
    templates = Jinja2Templates(directory=str(settings.templates_dir))
    templates.env.globals["version"] = __version__
    templates.env.filters["isotime"] = isotime
    app.state.renderer = Renderer(templates)
    app.state.page_cache = PageCache(settings.page_cache)
    app.mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static")
    if settings.allowed_hosts != ("*",):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.add_middleware(SecurityHeaders)
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(pages.router)
    errors.install(app, app.state.renderer)
    return app
