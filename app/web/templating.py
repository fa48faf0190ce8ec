"""Jinja templates, language choice and htmx-aware rendering (full page or fragment)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from app.decode.model.i18n import LANGS, gettext, ngettext

from .security import CSRF_COOKIE, csrf_token, secure_cookie
from .upload import DEFAULT_TITLES

THEMES = ("auto", "light", "dark")  # auto: the system's (prefers-color-scheme)


def isotime(t: float) -> str:
    """A Unix time as UTC, to the minute (the expiry shown on a session page)."""
    import datetime

    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return gettext(ctx.get("lang", "en"), message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return ngettext(ctx.get("lang", "en"), singular, plural, n)


@pass_context
def _session_title(ctx: Context, title: str) -> str:
    return gettext(ctx.get("lang", "en"), title) if title in DEFAULT_TITLES else title


def install_gettext(env: Environment) -> None:
    """``_``, ``gettext``, ``ngettext`` and ``{% trans %}`` in templates, in the language of
    the page being rendered (its context's ``lang``), new-style: ``_("%(n)s left", n=3)``
    formats after translating, and escapes what it fills in."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["session_title"] = _session_title


def choose_lang(request: Request) -> str:
    """The one place a page's language is chosen: ``?lang=``, else the cookie it set, else
    the browser's Accept-Language, else English."""
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get("lang")
    if c in LANGS:
        return c
    return accepted_lang(request.headers.get("accept-language", ""))


def accepted_lang(header: str) -> str:
    """The language of ours the browser ranks highest (RFC 9110 §12.5.4: quality values,
    then order); English when it ranks none of them."""
    best, best_q = "en", 0.0
    for item in header.lower().split(",")[:32]:
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        lang = tag.strip().split("-")[0]
        if lang in LANGS and q > best_q:
            best, best_q = lang, q
    return best


def choose_theme(request: Request) -> str:
    """The colour theme asked for (``?theme=``, else the cookie), else "auto"."""
    q = request.query_params.get("theme")
    if q in THEMES:
        return q
    c = request.cookies.get("theme")
    return c if c in THEMES else "auto"


class Renderer:
    def __init__(self, templates: Jinja2Templates) -> None:
        self.templates = templates

    def page(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        partial: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        """Render ``partial`` for htmx requests (HX-Request) and ``name`` otherwise."""
        lang = choose_lang(request)
        ctx = {
            "lang": lang,
            "other_lang": "zh" if lang == "en" else "en",
            "theme": choose_theme(request),
            "csrf": csrf_token(request),
        }
        ctx.update(context)
        template = self.template_for(request, name, partial)
        response = self.templates.TemplateResponse(request, template, ctx, status_code=status_code)
        return self.finish(request, response)

    @staticmethod
    def template_for(request: Request, name: str, partial: str | None) -> str:
        """The fragment for htmx requests, else the whole page."""
        return partial if partial and request.headers.get("hx-request") == "true" else name

    def finish(self, request: Request, response: HTMLResponse) -> HTMLResponse:
        """Headers and cookies every page answer carries (a cached body's too)."""
        lang = choose_lang(request)
        csrf_token(request)
        # (the compression middleware adds Accept-Encoding to what it compresses)
        response.headers["Vary"] = "HX-Request, Accept-Language, Cookie"
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
        if request.query_params.get("theme") in THEMES:
            response.set_cookie("theme", choose_theme(request), max_age=365 * 86400, samesite="lax")
        new = getattr(request.state, "new_csrf", None)
        if new:
            response.set_cookie(
                CSRF_COOKIE,
                new,
                httponly=True,
                samesite="strict",
                secure=secure_cookie(request),
                path="/",
            )
        return response
