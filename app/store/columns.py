"""The stored form of an analysis: column chunks.

A chunk is a JSON header (each column's name, dtype, shape and byte range, and whatever is
not a number) followed by the columns' bytes, compressed with zstd (``pack``).  A session's analysis is cut into chunks so that a page reads what it shows:

- ``p`` chunks hold ``PACKET_CHUNK`` consecutive positions (flow order: connection by
  connection, capture order inside one) with every per-packet column: the packet table's
  and the analysis's.  A window of one connection is one or two chunks.
- ``f`` chunks hold ``FLOW_CHUNK`` connections' columns (``Summaries.columns``): what
  their summaries, negotiations and narratives are made from, by the same functions as
  ``tcpladder explain --json`` (``summary_texts``), when they are read: storing texts made
  an upload wait for JSON nobody may read (measured: 0.29 s of a 250k-packet upload's
  0.55 s of flow chunks).  Chunks stored before keep the summaries as texts, cut around
  the narrative, in their JSON header (``summary_halves`` reads either).
- ``c`` is the conversations table: a few columns over every connection, to sort, filter
  and page (``app.decode.analysis.conversations``); sessions stored before it have none,
  and the table is made from the ``f`` chunks' summaries.
- ``r`` chunks map packet numbers (table rows) to positions, for the packet detail view.
- ``m`` (meta: hosts, link types, sizes) and ``s`` (the JSON ``source`` object), one each.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import zstandard

from app.decode import Analysis
from app.decode.analysis.conversations import conversation_columns
from app.decode.analysis.flows import FlowTable
from app.decode.export.document import (
    EndpointTexts,
    Summaries,
    has_summary_columns,
    source_json,
    summary_columns_of,
    summary_texts,
)
from app.decode.model.packet import packet_from_record, packet_record
from app.decode.model.parallel import Blobs, worth
from app.decode.model.table import PacketTable

PACKET_CHUNK = 4096
FLOW_CHUNK = 512
ROW_CHUNK = 65536
FORMAT = 2  # schema_version of sessions stored as chunks (1: one JSON document)

_OPTS = "__opt_bytes__"
# zstandard's (de)compressor objects must not be shared between threads (the pages read
# chunks in the threadpool): one of each a thread.
_LOCAL = threading.local()


def _z() -> Any:
    z = getattr(_LOCAL, "z", None)
    if z is None:
        z = _LOCAL.z = zstandard.ZstdCompressor(level=1)
    return z


def _u() -> Any:
    u = getattr(_LOCAL, "u", None)
    if u is None:
        u = _LOCAL.u = zstandard.ZstdDecompressor()
    return u


Cols = dict[str, npt.NDArray[Any]]


def decompress_input(blob: bytes) -> bytes:
    """The input of a session stored in ``sessions.input`` (before inputs were kept as
    pieces, ``app.store.inputs``): one zstd frame, or zlib (RFC 1950) before that."""
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return bytes(_u().decompress(blob))
    return zlib.decompress(blob)


def pack(cols: Cols, extra: dict[str, Any] | None = None) -> bytes:
    """Columns and a JSON object as one zstd frame: a little-endian u32 header length, the
    JSON header (each column's name, dtype, shape and byte range, and ``extra``), then the
    columns' bytes.  Numbers only: nothing is unpickled when it is read back."""
    layout = []
    at = 0
    for name, a in cols.items():
        a = np.ascontiguousarray(a)
        cols[name] = a
        layout.append([name, a.dtype.str, list(a.shape), at, a.nbytes])
        at += a.nbytes
    head = json.dumps(
        {"columns": layout, "extra": extra or {}}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    body = b"".join([len(head).to_bytes(4, "little"), head, *(a.data for a in cols.values())])
    return bytes(_z().compress(body))


def unpack(data: bytes) -> tuple[Cols, dict[str, Any]]:
    raw = _u().decompress(data)
    size = int.from_bytes(raw[:4], "little")
    head = json.loads(raw[4 : 4 + size])
    base = 4 + size
    cols: Cols = {}
    for name, dtype, shape, at, nbytes in head["columns"]:
        buf = raw[base + at : base + at + nbytes]
        cols[name] = np.frombuffer(buf, dtype=np.dtype(dtype)).reshape(shape)
    extra: dict[str, Any] = head["extra"]
    return cols, extra


def summary_halves(
    cols: Cols, extra: dict[str, Any], first: int, endpoints: EndpointTexts, a: int, b: int
) -> tuple[list[str], list[str]]:
    """The summary texts of connections ``a:b`` of a flow chunk whose first connection is
    ``first`` (0-based), cut after ``"narrative":``: made from its columns, or as stored in
    its JSON header before they were."""
    if has_summary_columns(cols):
        return summary_texts(summary_columns_of(cols, a, b), first + a, endpoints)
    return extra["heads"][a:b], extra["tails"][a:b]


def pack_positions(part: PacketTable) -> bytes:
    """A slice of positions (``FlowTable.positions``) with its option bytes, kept packet
    objects and capture comments."""
    cols: Cols = dict(part.cols)
    cols[_OPTS] = np.frombuffer(part.opt_bytes, np.uint8)
    extra = {
        "objects": {str(i): packet_record(p) for i, p in part.object_items()},
        "comments": {str(i): texts for i, texts in part.comments.items()},
        "apps": {str(i): text for i, text in part.apps.items()},
    }
    return pack(cols, extra)


def unpack_positions(
    data: bytes,
    kind: str,
    hosts: list[str],
    links: list[int],
    port_names: dict[int, str] | None = None,
) -> PacketTable:
    cols, extra = unpack(data)
    blob = cols.pop(_OPTS).tobytes()
    return PacketTable(
        kind,
        cols,
        hosts,
        opt_bytes=blob,
        objects={int(i): packet_from_record(r) for i, r in extra.get("objects", {}).items()},
        comments={int(i): t for i, t in extra.get("comments", {}).items()},
        apps={int(i): t for i, t in extra.get("apps", {}).items()},
        linktypes=links,
        port_names=port_names or {},
    )


def chunks(analysis: Analysis) -> Generator[tuple[str, int, bytes]]:
    """Everything a session stores of an analysis, as (kind, number, bytes)."""
    ft: FlowTable = analysis.table
    table = ft.table
    meta = {
        "format": FORMAT,
        "hosts": table.hosts,
        "port_names": {str(p): n for p, n in table.port_names.items()},
        "linktypes": table.linktypes,
        "table_kind": table.kind,
        "packet_chunk": PACKET_CHUNK,
        "flow_chunk": FLOW_CHUNK,
        "row_chunk": ROW_CHUNK,
        "packet_count": len(table),
        "flow_count": ft.count,
    }
    n = len(ft.order)
    count = -(-n // PACKET_CHUNK)

    def position_chunks(a: int, b: int) -> Iterator[bytes]:
        for k in range(a, b):
            lo = k * PACKET_CHUNK
            yield pack_positions(ft.positions(lo, min(lo + PACKET_CHUNK, n)))

    # a second process makes the last packet chunks while this one makes the rest, then
    # the first packet chunks: its share evens out the two (``mine``)
    split = mine(count, n, ft.count)
    later = Blobs(lambda: position_chunks(split, count), n)
    try:
        yield from _flow_chunks(analysis, meta)
        for k, blob in enumerate(position_chunks(0, split)):
            yield "p", k, blob
        for k, blob in enumerate(later, split):
            yield "p", k, blob
    finally:
        later.close()
    pos_of_row = np.empty(n, np.int64)
    pos_of_row[ft.order] = np.arange(n)
    for k, lo in enumerate(range(0, n, ROW_CHUNK)):
        yield "r", k, pack({"pos": pos_of_row[lo : lo + ROW_CHUNK]})


# measured costs (250k packets, 19,708 connections): a position's share of the packet
# chunks, a connection's of the flow chunks (facts, conversations, columns)
POSITION_COST = 1.6e-6
FLOW_COST = 8e-6


def mine(chunks: int, positions: int, flows: int) -> int:
    """How many of the first packet chunks this process makes itself, after the flow
    chunks, when a second process makes the others from the start: so that both end
    together (measured on a 250k-packet upload: its chunks 0.46 -> 0.31 s)."""
    if not worth(positions):
        return 0
    packets, connections = positions * POSITION_COST, flows * FLOW_COST
    share = max(0.0, (packets - connections) / (2 * packets)) if packets else 0.0
    return min(int(chunks * share), chunks)


def _flow_chunks(analysis: Analysis, meta: dict[str, Any]) -> Iterator[tuple[str, int, bytes]]:
    """The meta, source, conversations and flow chunks."""
    ft: FlowTable = analysis.table
    yield "m", 0, pack({}, meta)
    yield "s", 0, pack({}, {"source": source_json(analysis.trace)})
    from app.decode.analysis.facts import connection_facts

    facts = connection_facts(ft)
    table_cols, totals = conversation_columns(ft, facts)
    yield "c", 0, pack(table_cols, {"totals": totals})
    summaries = Summaries(ft, facts)
    for k, lo in enumerate(range(0, ft.count, FLOW_CHUNK)):
        yield "f", k, pack(summaries.columns(lo, min(lo + FLOW_CHUNK, ft.count)))
