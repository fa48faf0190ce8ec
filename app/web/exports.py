"""Exports of one connection, or a window of it: the ladder as SVG, PNG, Mermaid and
PlantUML, and its packets as a capture file.

    /s/{id}/f/{n}/ladder.svg|png|mmd|puml  ?from=&count=&lang=&absolute=1
    /s/{id}/f/{n}/packets.pcap             ?from=&count=
    /api/sessions/{id}/flows/{n}/ladder.…, /api/sessions/{id}/flows/{n}/packets.pcap

``from`` is the position of the first packet in the connection (0 for its first, as the
page's ``?from=``), ``count`` how many; without them, the whole connection. A diagram holds
at most ``MAX_ARROWS`` packets (``MAX_PNG`` for a PNG); a longer connection needs a window,
and the answer says so. A capture's packets are its original records, read again from the
stored input (a session stored without it has none to give).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.decode.export.diagram import diagram, png, to_mermaid, to_plantuml, to_svg
from app.decode.model.errors import InputTooLarge, NotFound

from .api import store_of
from .models import errors
from .templating import choose_lang

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", responses=errors(400, 404, 409, 413, 503))

MAX_ARROWS = 5000  # packets in one SVG, Mermaid or PlantUML diagram
MAX_PNG = 400  # packets in one PNG
PNG_PIXELS = 16_000_000  # a PNG is scaled down to at most this many pixels (64 MB to draw)
# the rendered diagram documents; media type, and whether the browser shows it
KINDS = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "mmd": "text/plain; charset=utf-8",
    "puml": "text/plain; charset=utf-8",
}
# An SVG document styles itself with its own <style>: allowed there, and nothing else.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
# Diagrams drawn, and capture files begun (their first piece read), at a time; a capture
# file's further records stream outside it, one block in memory at a time.
_AT_ONCE = anyio.Semaphore(2)


def _ladder(
    request: Request,
    sid: str,
    flow_id: int,
    kind: str,
    start: int,
    count: int | None,
    absolute: bool,
) -> bytes:
    store = store_of(request)
    store.ready(sid)
    total = store.window(sid, flow_id, 0, 0).packet_count
    limit = MAX_PNG if kind == "png" else MAX_ARROWS
    if not 0 <= start < total:
        raise NotFound(f"connection #{flow_id} has {total:,} packets: from={start} is past its end")
    a = start
    n = total - a if count is None else max(count, 0)
    if min(n, total - a) > limit:
        raise InputTooLarge(
            f"a {kind} diagram holds at most {limit:,} packets and connection #{flow_id} has "
            f"{total - a:,} from position {a}",
            hint=f"ask for a window: ?from={a}&count={limit}",
        )
    flow = store.window(sid, flow_id, a, n)
    d = diagram(flow, choose_lang(request), absolute=absolute)
    if kind == "mmd":
        return to_mermaid(d).encode()
    if kind == "puml":
        return to_plantuml(d).encode()
    if kind == "svg":
        return to_svg(d).encode()
    return png(d, PNG_PIXELS)


def _filename(sid: str, flow_id: int, start: int, count: int | None, ext: str) -> str:
    window = f"-{start}+{count}" if start or count is not None else ""
    return f"tcpladder-{sid}-{flow_id}{window}.{ext}"


async def ladder(
    request: Request,
    sid: str,
    flow_id: int,
    kind: str,
    start: int = Query(0, alias="from", ge=0),
    count: int | None = Query(None, ge=1),
    absolute: bool = False,
) -> Response:
    """The connection's ladder as ``kind`` (svg, png, mmd: Mermaid, puml: PlantUML)."""
    if kind not in KINDS:
        raise NotFound(f"there is no ladder.{kind}; there are {', '.join(KINDS)}")
    async with _AT_ONCE:
        body = await run_in_threadpool(_ladder, request, sid, flow_id, kind, start, count, absolute)
    name = _filename(sid, flow_id, start, count, kind)
    headers = {"Content-Disposition": f'inline; filename="{name}"'}
    if kind == "svg":
        headers["Content-Security-Policy"] = SVG_CSP
    return Response(body, media_type=KINDS[kind], headers=headers)


async def packets(
    request: Request,
    sid: str,
    flow_id: int,
    start: int = Query(0, alias="from", ge=0),
    count: int | None = Query(None, ge=1),
) -> Response:
    """The connection's packets as a capture file (pcap or pcapng, as the input was; pcap
    for pasted text)."""
    store = store_of(request)
    await run_in_threadpool(store.ready, sid)
    async with _AT_ONCE:
        pieces = await run_in_threadpool(store.pcap, sid, flow_id, start, count)
        first = await run_in_threadpool(next, pieces, b"")  # a problem shows before a byte is sent
    kind = "pcapng" if first[:4] == b"\x0a\x0d\x0d\x0a" else "pcap"
    name = _filename(sid, flow_id, start, count, kind)

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for piece in iterate_in_threadpool(pieces):
            yield piece

    return StreamingResponse(
        body(),
        media_type="application/vnd.tcpdump.pcap" if kind == "pcap" else "application/x-pcapng",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


router.add_api_route(
    "/s/{sid}/f/{flow_id}/ladder.{kind}", ladder, methods=["GET"], name="ladder_export"
)
router.add_api_route(
    "/s/{sid}/f/{flow_id}/packets.pcap", packets, methods=["GET"], name="pcap_export"
)
api_router.add_api_route(
    "/sessions/{sid}/flows/{flow_id}/ladder.{kind}",
    ladder,
    methods=["GET"],
    summary="A connection's ladder diagram: svg, png, mmd (Mermaid) or puml (PlantUML)",
    response_class=Response,
)
api_router.add_api_route(
    "/sessions/{sid}/flows/{flow_id}/packets.pcap",
    packets,
    methods=["GET"],
    summary="A connection's packets as a capture file",
    response_class=Response,
)
