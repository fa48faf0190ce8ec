"""The conversations table: every connection of a capture as one row of a few columns, to
sort, filter and page through without reading each connection's summary.

Wireshark's Statistics → Conversations (TCP tab) and Zeek's conn.log are the models: the
two endpoints, packets and bytes each way, start and duration, the connection's state
(Zeek's ``conn_state``), its round-trip time, and which findings it has.  A pair of
endpoints used by more than one connection (a client port reused after the first
connection ended, RFC 9293 §3.4's quiet time notwithstanding) is marked on each of them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.decode.analysis.facts import Facts
from app.decode.analysis.flows import FlowTable
from app.decode.model.codes import FINDING_CODES, ConnState
from app.decode.model.packet import ENDPOINT_PORTS, format_endpoint

Columns = dict[str, npt.NDArray[Any]]
I64 = npt.NDArray[np.int64]

PAGE = 100  # rows of the table a page shows
# How a column sorts: the key is built from the columns (see Conversations.key).
SORTS = (
    "id",
    "client",
    "server",
    "state",
    "packets",
    "sent",
    "received",
    "start",
    "duration",
    "rtt",
    "findings",
)
# Findings that are not trouble: counted, but do not make a connection stand out.
QUIET = frozenset({"tcp.checksum_offload"})
_QUIET_MASK = sum(1 << FINDING_CODES.index(c) for c in QUIET)


def conversation_columns(ft: FlowTable, facts: Facts) -> tuple[Columns, dict[str, list[int]]]:
    """Every connection's row (0-based, flow order) and the capture-wide count of each
    finding: ``{code: [packets, connections]}``."""
    cols: Columns = {
        "client_ep": ft.client_ep.astype(np.int64),
        "server_ep": ft.server_ep.astype(np.int64),
        "packets": (ft.bounds[1:] - ft.bounds[:-1]).astype(np.int64),
        "bytes": ft.side_bytes.astype(np.int64),  # (flows, 2): client → server, server → client
        "start": ft.start.astype(np.float64),
        "end": ft.end.astype(np.float64),
        "state": facts.state.astype(np.int8),
        "rtt": facts.path_rtt.median.astype(np.float64),  # seconds; NaN: not known
    }
    return _with_findings(cols, facts.counts)


def _with_findings(
    cols: Columns, counts: npt.NDArray[np.integer[Any]]
) -> tuple[Columns, dict[str, list[int]]]:
    """``cols`` with which findings each connection has (``mask``, bit i: code i) and how
    many that warn (``warns``); and the capture's totals."""
    bits = (1 << np.arange(len(FINDING_CODES), dtype=np.int64))[None, :]
    has = counts > 0
    quiet = np.array([c in QUIET for c in FINDING_CODES])
    cols["mask"] = (has * bits).sum(axis=1).astype(np.int64)
    cols["warns"] = counts[:, ~quiet].sum(axis=1).astype(np.int64)
    totals = {
        code: [int(counts[:, i].sum()), int(has[:, i].sum())]
        for i, code in enumerate(FINDING_CODES)
        if has[:, i].any()
    }
    return cols, totals


def columns_from_summaries(
    summaries: list[dict[str, Any]], hosts: list[str]
) -> tuple[Columns, dict[str, list[int]]]:
    """The same columns made from summary JSON objects (a session stored before the table
    existed)."""
    host_id = {h: i for i, h in enumerate(hosts)}

    def ep(text: str) -> int:
        host, _, port = text.rpartition(":")
        host = host[1:-1] if host.startswith("[") else host
        number = int(port) + 1 if port.isdigit() else 0
        return host_id.get(host, 0) * ENDPOINT_PORTS + number

    n = len(summaries)
    counts = np.zeros((n, len(FINDING_CODES)), np.int64)
    for i, s in enumerate(summaries):
        for code, k in (s.get("findings") or {}).items():
            if code in FINDING_CODES:
                counts[i, FINDING_CODES.index(code)] = k
    states = ConnState.texts()
    cols: Columns = {
        "client_ep": np.array([ep(s["client"]) for s in summaries], np.int64),
        "server_ep": np.array([ep(s["server"]) for s in summaries], np.int64),
        "packets": np.array([s["packet_count"] for s in summaries], np.int64),
        "bytes": np.array(
            [[s["sides"]["client"]["bytes"], s["sides"]["server"]["bytes"]] for s in summaries],
            np.int64,
        ).reshape(n, 2),
        "start": np.array([_num(s.get("start")) for s in summaries], np.float64),
        "end": np.array(
            [_num(s.get("start")) + _num(s.get("duration")) for s in summaries], np.float64
        ),
        "state": np.array(
            [states.index(s["state"]) if s.get("state") in states else 0 for s in summaries],
            np.int8,
        ),
        "rtt": np.array(
            [_num((s.get("path_rtt_ms") or {}).get("median")) / 1e3 for s in summaries],
            np.float64,
        ),
    }
    return _with_findings(cols, counts)


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True, slots=True)
class Query:
    """What the table is asked to show: a filter, an order and a page."""

    q: str = ""  # an address (or part of one), a port, or address:port
    state: str = ""  # a conn_state
    finding: str = ""  # a finding code
    reused: bool = False  # only endpoint pairs used by more than one connection
    sort: str = "id"
    desc: bool = False
    page: int = 0

    def normal(self) -> Query:
        """The same query with unknown values dropped (so that it keys a cache)."""
        return Query(
            q=self.q.strip()[:100],
            state=self.state if self.state in ConnState.texts() else "",
            finding=self.finding if self.finding in FINDING_CODES else "",
            reused=self.reused,
            sort=self.sort if self.sort in SORTS else "id",
            desc=self.desc,
            page=max(self.page, 0),
        )

    def params(self, **change: Any) -> dict[str, str]:
        """The query as URL parameters (the defaults left out), with ``change`` applied."""
        values = {
            "q": self.q,
            "state": self.state,
            "finding": self.finding,
            "reused": "1" if self.reused else "",
            "sort": "" if self.sort == "id" else self.sort,
            "desc": "1" if self.desc else "",
            "cp": str(self.page) if self.page else "",
        }
        for k, v in change.items():
            values[k] = v if isinstance(v, str) else ("1" if v is True else "" if not v else str(v))
        return {k: v for k, v in values.items() if v}


@dataclass(slots=True)
class Page:
    """One page of the table: the rows' 0-based connection indices and the counts."""

    rows: I64
    matched: int
    total: int
    page: int
    pages: int


@dataclass(slots=True)
class Conversations:
    """The table of one session: columns over all its connections, and the hosts their
    endpoint codes refer to."""

    cols: Columns
    hosts: list[str]
    port_names: dict[int, str]
    totals: dict[str, list[int]]
    _reuse: tuple[I64, I64] | None = field(default=None, repr=False)
    _host_rank: I64 | None = field(default=None, repr=False)

    @property
    def count(self) -> int:
        return len(self.cols["packets"])

    @property
    def nbytes(self) -> int:
        return sum(int(v.nbytes) for v in self.cols.values())

    def origin(self) -> float:
        """When the first connection started (the table's times count from it)."""
        start = self.cols["start"]
        known = start[~np.isnan(start)]
        return float(known.min()) if len(known) else 0.0

    def reuse(self) -> tuple[I64, I64]:
        """For each connection: how many use its pair of endpoints, and which of them it is
        (1-based, in order of start)."""
        if self._reuse is None:
            a, b = self.cols["client_ep"], self.cols["server_ep"]
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            order = np.lexsort((self.cols["start"], np.arange(self.count), hi, lo))
            lo_s, hi_s = lo[order], hi[order]
            new = np.ones(self.count, bool)
            new[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
            group = np.cumsum(new) - 1
            starts = np.flatnonzero(new)
            sizes = np.diff(np.append(starts, self.count))
            size = np.empty(self.count, np.int64)
            nth = np.empty(self.count, np.int64)
            size[order] = sizes[group]
            nth[order] = np.arange(self.count) - starts[group] + 1
            self._reuse = (size, nth)
        return self._reuse

    def _rank(self) -> I64:
        """Each host's place in address order (IPv4 before IPv6, then numerically)."""
        if self._host_rank is None:

            def key(h: str) -> tuple[int, int, str]:
                try:
                    ip = ipaddress.ip_address(h)
                except ValueError:
                    return (2, 0, h)  # a name (pasted text printed without -n)
                return (ip.version, int(ip), h)

            order = sorted(range(len(self.hosts)), key=lambda i: key(self.hosts[i]))
            rank = np.empty(max(len(self.hosts), 1), np.int64)
            rank[order] = np.arange(len(order))
            self._host_rank = rank
        return self._host_rank

    def key(self, sort: str) -> npt.NDArray[Any]:
        c = self.cols
        if sort in ("client", "server"):
            ep = c["client_ep" if sort == "client" else "server_ep"]
            host, port = np.divmod(ep, ENDPOINT_PORTS)
            out: npt.NDArray[Any] = self._rank()[host] * ENDPOINT_PORTS + port
            return out
        simple = {
            "state": c["state"],
            "packets": c["packets"],
            "sent": c["bytes"][:, 0],
            "received": c["bytes"][:, 1],
            "start": c["start"],
            "duration": c["end"] - c["start"],
            "rtt": c["rtt"],
            "findings": c["warns"],
        }
        return simple.get(sort, np.arange(self.count))

    def match(self, query: Query) -> npt.NDArray[np.bool_]:
        keep = np.ones(self.count, bool)
        c = self.cols
        if query.q:
            keep &= self._address_match(query.q)
        if query.state:
            keep &= c["state"] == ConnState.texts().index(query.state)
        if query.finding:
            keep &= (c["mask"] >> FINDING_CODES.index(query.finding)) & 1 == 1
        if query.reused:
            keep &= self.reuse()[0] > 1
        return keep

    def _address_match(self, q: str) -> npt.NDArray[np.bool_]:
        """``q`` as a port (a number, ``:443``, or a service name tcpdump printed), a host or
        part of one, or ``host:port``: connections with such an endpoint on either side."""
        text = q.strip().lower()
        host_part, port_part = text, ""
        head, sep, tail = text.rpartition(":")
        if (
            sep
            and (tail.isdigit() or tail in self._names())
            and (head.count(":") == 0 or "]" in head)
        ):
            host_part, port_part = head.strip("[]"), tail
        elif text.isdigit() or text in self._names():
            host_part, port_part = "", text
        host_part = host_part.strip("[]")
        ports = self._port_codes(port_part) if port_part else None
        hosts = (
            [i for i, h in enumerate(self.hosts) if host_part in h.lower()] if host_part else None
        )
        out = np.zeros(self.count, bool)
        for side in ("client_ep", "server_ep"):
            host, port = np.divmod(self.cols[side], ENDPOINT_PORTS)
            ok = np.ones(self.count, bool)
            if hosts is not None:
                ok &= np.isin(host, np.array(hosts, np.int64))
            if ports is not None:
                ok &= np.isin(port, ports)
            out |= ok
        return out

    def _names(self) -> set[str]:
        return {v.lower() for v in self.port_names.values()}

    def _port_codes(self, text: str) -> I64:
        """The endpoint port codes (port + 1) that ``text`` names."""
        codes = [int(text) + 1] if text.isdigit() else []
        codes += [k + 1 for k, v in self.port_names.items() if v.lower() == text]
        return np.array(codes, np.int64)

    def page(self, query: Query) -> Page:
        """The rows ``query`` asks for."""
        keep = np.flatnonzero(self.match(query))
        key = self.key(query.sort)[keep]
        if key.dtype.kind == "f":  # unknown values last, whichever the direction
            unknown = np.isnan(key)
            key = np.where(unknown, 0.0, key)
            order = np.lexsort((keep, -key if query.desc else key, unknown))
        else:
            order = np.lexsort((keep, -key if query.desc else key))
        ranked = keep[order]
        pages = max(1, -(-len(ranked) // PAGE))
        at = min(query.page, pages - 1)
        return Page(ranked[at * PAGE : (at + 1) * PAGE], len(ranked), self.count, at, pages)

    def endpoint(self, ep: int) -> str:
        host, port = divmod(int(ep), ENDPOINT_PORTS)
        return format_endpoint(self.hosts[host], None if port < 1 else port - 1, self.port_names)

    def row(self, i: int) -> dict[str, Any]:
        """Connection ``i`` (0-based) as the table shows it."""
        c = self.cols
        size, nth = self.reuse()
        start, end, rtt = float(c["start"][i]), float(c["end"][i]), float(c["rtt"][i])
        mask = int(c["mask"][i])
        return {
            "id": i + 1,
            "client": self.endpoint(int(c["client_ep"][i])),
            "server": self.endpoint(int(c["server_ep"][i])),
            "state": ConnState(int(c["state"][i])).text,
            "packets": int(c["packets"][i]),
            "sent": int(c["bytes"][i, 0]),
            "received": int(c["bytes"][i, 1]),
            "start": None if np.isnan(start) else start,
            "duration": None if np.isnan(end - start) else end - start,
            "rtt_ms": None if np.isnan(rtt) else round(rtt * 1e3, 3),
            "findings": [code for b, code in enumerate(FINDING_CODES) if mask >> b & 1],
            "warns": int(c["warns"][i]),
            "quiet": not (mask & ~_QUIET_MASK),
            "reuse": (int(nth[i]), int(size[i])) if size[i] > 1 else None,
        }
