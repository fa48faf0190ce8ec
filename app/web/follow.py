"""Follow the byte stream: a connection's reassembled bytes as a page, raw downloads and JSON.

The bytes are read back from the stored input each time (``Store.stream``); nothing of
them is stored with the analysis.  The page shows at most ``SHOWN_TEXT`` bytes as text
(``SHOWN_HEX`` as hex) and says where it stopped; the downloads and the JSON hold all.
"""

from __future__ import annotations

import base64
import math
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from app.decode.analysis.stream import Piece, Side, Stream
from app.decode.explain.detail import hexdump, printable
from app.decode.model.errors import NotFound

from .api import store_of
from .models import StreamBody, errors
from .templating import Renderer

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", responses=errors(400, 503))

SHOWN_TEXT = 256 * 1024  # bytes shown on the page as text
SHOWN_HEX = 32 * 1024  # as hex
DIRECTIONS = ("c2s", "s2c")
VIEWS = ("text", "hex")


def _number(stream: Stream, pos: int) -> int | None:
    return stream.numbers[pos] if 0 <= pos < len(stream.numbers) else None


def _side_dict(stream: Stream, side: Side) -> dict[str, Any]:
    return {
        "size": side.size,
        "captured": side.captured,
        "holes": side.holes,
        "hole_bytes": side.hole_bytes,
        "retransmitted": side.retransmitted,
        "conflicts": side.conflicts,
        "conflict_packets": [_number(stream, i) for i in side.conflict_at],
        "clipped": side.clipped,
    }


def _block(stream: Stream, p: Piece) -> dict[str, Any]:
    out: dict[str, Any] = {
        "direction": DIRECTIONS[p.direction],
        "offset": p.start,
        "size": p.size,
        "first_packet": _number(stream, p.first),
        "last_packet": _number(stream, p.last),
        "time": None if math.isnan(p.time) else p.time,
    }
    if p.hole:
        out["missing"] = p.hole
    else:
        out["data"] = base64.b64encode(p.data).decode("ascii")
    return out


def stream_json(stream: Stream, flow_id: int) -> dict[str, Any]:
    """The API's document of a connection's streams (``models.StreamBody``)."""
    return {
        "flow": flow_id,
        "directions": {
            d: _side_dict(stream, s) for d, s in zip(DIRECTIONS, stream.sides, strict=True)
        },
        "unknown_segments": stream.unknown,
        "blocks": [_block(stream, p) for p in stream.blocks],
    }


def _shown_blocks(stream: Stream, show: str, view: str) -> tuple[list[dict[str, Any]], int]:
    """The blocks the page shows, rendered, and how many bytes it left out."""
    budget = SHOWN_HEX if view == "hex" else SHOWN_TEXT
    out, left_out = [], 0
    for p in stream.blocks:
        d = DIRECTIONS[p.direction]
        if show != "both" and d != show:
            continue
        block: dict[str, Any] = {
            "dir": d,
            "start": p.start,
            "end": p.end,
            "size": p.size,
            "hole": p.hole,
            "first": _number(stream, p.first),
            "last": _number(stream, p.last),
        }
        if p.hole is None:
            data = p.data[: max(budget, 0)]
            budget -= len(data)
            left_out += p.size - len(data)
            if not data:
                continue
            block["cut"] = len(data) < p.size
            if view == "hex":
                block["hex"] = hexdump(data, start=p.start)
            else:
                block["text"] = printable(data)
        out.append(block)
    return out, left_out


# Reassembly holds the input and the connection's bytes (up to TCPLADDER_MAX_INPUT each):
# two at a time at most, the rest wait their turn.
_AT_ONCE = anyio.Semaphore(2)


async def _stream(request: Request, sid: str, flow_id: int, *, checked: bool = False) -> Stream:
    """The connection's streams; first a 404/409 when the session is missing or still
    processing, unless the caller ``checked`` that already."""
    store = store_of(request)
    if not checked:
        await run_in_threadpool(store.ready, sid)
    async with _AT_ONCE:
        got: Stream = await run_in_threadpool(store.stream, sid, flow_id)
    return got


@router.get("/s/{sid}/f/{flow_id}/stream", response_class=HTMLResponse, name="stream_page")
async def stream_page(
    request: Request, sid: str, flow_id: int, view: str = "text", show: str = "both"
) -> Response:
    """The connection's conversation as the applications saw it: both directions' bytes
    interleaved by time, holes and retransmitted bytes accounted for."""
    view = view if view in VIEWS else "text"
    show = show if show in (*DIRECTIONS, "both") else "both"
    store = store_of(request)
    rec = await run_in_threadpool(store.ready, sid)
    summary = await run_in_threadpool(store.flow_summary, sid, flow_id)
    stream = await _stream(request, sid, flow_id, checked=True)
    blocks, left_out = _shown_blocks(stream, show, view)
    ctx = {
        "rec": rec,
        "flow": summary,
        "sides": dict(zip(DIRECTIONS, stream.sides, strict=True)),
        "conflicts": {
            d: [_number(stream, i) for i in s.conflict_at[:20]]
            for d, s in zip(DIRECTIONS, stream.sides, strict=True)
        },
        "unknown": stream.unknown,
        "blocks": blocks,
        "left_out": left_out,
        "view": view,
        "show": show,
    }
    r: Renderer = request.app.state.renderer
    return r.page(request, "stream.html", ctx)


@router.get("/s/{sid}/f/{flow_id}/stream/{direction}.bin", name="stream_download")
async def stream_download(request: Request, sid: str, flow_id: int, direction: str) -> Response:
    """One direction's bytes in sequence order, holes left out (their places are in the
    ``X-Stream-Holes`` header and the JSON), as a file."""
    if direction not in DIRECTIONS:
        raise NotFound(f"there is no direction {direction!r}; there are c2s and s2c")
    stream = await _stream(request, sid, flow_id)
    side = stream.sides[DIRECTIONS.index(direction)]
    holes = ",".join(f"{p.start}+{p.size}" for p in side.pieces if p.hole)[:4000]
    name = f"tcpladder-{sid}-{flow_id}-{direction}.bin"
    return Response(
        side.data(),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Stream-Holes": holes or "none",
        },
    )


@api_router.get(
    "/sessions/{sid}/flows/{flow_id}/stream",
    response_model=StreamBody,
    responses=errors(404, 409, 422),
)
async def get_stream(
    request: Request,
    sid: str,
    flow_id: int,
    direction: Literal["c2s", "s2c"] | None = Query(
        None, description="one direction's blocks only"
    ),
) -> JSONResponse:
    """Follow TCP stream: the connection's bytes reassembled, each direction in sequence
    order, interleaved by time into ``blocks`` (base64 ``data``, or ``missing`` with the
    reason for a hole)."""
    stream = await _stream(request, sid, flow_id)
    body = stream_json(stream, flow_id)
    if direction is not None:
        body["blocks"] = [b for b in body["blocks"] if b["direction"] == direction]
    return JSONResponse(body)
