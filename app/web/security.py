"""Security for a public upload form: response headers, CSRF, URLs that never echo Host.

- Every response gets a Content-Security-Policy (same origin only, no inline script, not
  framable), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
  sessions and the API also ``Cache-Control: private, no-store`` and ``X-Robots-Tag:
  noindex`` (a permalink is shared, not published).
- A state-changing form (submit, delete) must come from this origin: ``Sec-Fetch-Site`` (when
  the browser sends it) is ``same-origin`` or ``none``, ``Origin`` (when sent) is this
  site's, and the form carries the token of the ``tl_csrf`` cookie (double submit: a page
  on another origin can neither read the cookie nor set the field).
- Links and redirects are paths, or built on the configured ``TCPLADDER_BASE_URL``; the
  ``Host`` header a client sends is never written into a page, a header or a permalink.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.decode.model.errors import Forbidden

CSRF_COOKIE = "tl_csrf"
CSRF_FIELD = "csrf"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_PRIVATE = ("/s/", "/api/")


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                if path.startswith(_PRIVATE):
                    headers["Cache-Control"] = "private, no-store"
                    headers.setdefault("X-Robots-Tag", "noindex")
            await send(message)

        await self.app(scope, receive, with_headers)


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (made on first use; ``set_csrf_cookie`` stores it)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 64:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


def check_same_origin(request: Request, base_url: str | None) -> None:
    """Refuse a state-changing request that a page of another site made."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden(f"refused: the request came from another site (Sec-Fetch-Site: {site})")
    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and site in ("same-origin", "none")):
        return
    allowed = {_origin_of(str(request.base_url))}
    if base_url:
        allowed.add(_origin_of(base_url))
    if _origin_of(origin) not in allowed:
        raise Forbidden("refused: the request came from another origin")


def check_token(request: Request, sent: str | None) -> None:
    """The form's token must be the one in this browser's CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise Forbidden(
            "refused: the form's security token is missing or stale",
            hint="Reload the page and submit again.",
        )


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def secure_cookie(request: Request) -> bool:
    """Cookies are ``Secure`` when the site is served over TLS."""
    return request.url.scheme == "https"
