"""The JSON form of an analysis (the contract in docs/json.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

import numpy as np
import numpy.typing as npt

from app.decode.analysis.facts import PATH_SOURCES, STATES, VANTAGES, Facts, connection_facts
from app.decode.analysis.flows import (
    ENDED_BY,
    HANDSHAKE,
    PHASE_NAMES,
    ROLES_FROM,
    SCALING,
    Flow,
    FlowTable,
    Side,
    endpoint_text,
    row_objects,
)
from app.decode.analysis.result import Analysis
from app.decode.analysis.stats import Stats
from app.decode.explain.fields import ENDINGS, PHASES, describe_ending
from app.decode.explain.narrative import TFO_NAMES, Story, negotiation
from app.decode.explain.narratives import narrate_many
from app.decode.export import typeset
from app.decode.model.codes import CHECKSUM_STATUS as STATUS_NAMES
from app.decode.model.codes import FINDING_CODES, Finding
from app.decode.model.codes import Direction as DirectionCode
from app.decode.model.memory import trim_heap
from app.decode.model.packet import (
    ACK,
    ENDPOINT_PORTS,
    NAMED_PORTS,
    flags_to_letters,
    format_endpoint,
)
from app.decode.model.parallel import write_in_two
from app.decode.model.table import Columns, PacketTable
from app.decode.model.trace import Trace

if TYPE_CHECKING:  # the shapes (pydantic) are types here; the API and docs import them
    from app.decode.export import shapes

# The model keeps these as plain strings; the document's shapes name their values.
Direction = Literal["c2s", "s2c"]
PhaseName = Literal["handshake", "data", "teardown", "half_close"]
Position = Literal["before", "after"]
Kind = Literal["text", "pcap", "pcapng"]
Numbering = Literal["absolute", "relative"]
Compression = Literal["gzip", "zstd"] | None


def packets_json(flow: Flow) -> list[shapes.Packet]:
    """The ``packets`` list of one flow's JSON."""
    return [
        {
            "n": p.n,
            "time": p.time,
            "src": p.src,
            "dst": p.dst,
            "flags": p.letters,
            "seq": p.seq,
            "ack": p.ack,
            "rel_seq": p.rel_seq,
            "rel_ack": p.rel_ack,
            "len": p.length,
            "win": p.win,
            "options": {
                "mss": p.options.mss,
                "wscale": p.options.wscale,
                "sack_perm": p.options.sack_perm,
                "ts_val": p.options.ts_val,
                "ts_ecr": p.options.ts_ecr,
                "sack": [list(b) for b in p.options.sack],
            },
            "findings": list(p.findings),
            "seq_inferred": p.seq_inferred,
            "eff_win": info.eff_win,
            "direction": cast(Direction, info.direction),
            "phase": cast(PhaseName, info.phase),
            "ts_echo_of": info.echo_of,
            "dup_ack": info.dup_ack,
            "acks": info.acks,
            "ack_rtt_ms": _ms_or_none(info.ack_rtt),
            "ts_rtt_ms": _ms_or_none(info.ts_rtt),
            "bytes_in_flight": info.in_flight,
            "line": p.line,
            "frame": p.frame,
            "truncated": p.truncated,
            "checksum": {
                "value": p.cksum,
                "status": cast(ChecksumStatus, STATUS_NAMES[p.cksum_verdict()]),
                "expected": p.cksum_expected,
            },
            "ecn": ecn_name(p.ip_value("tos")),
            "annotation": p.annotation,
            "comments": [
                {"line": c.line, "text": c.text, "position": cast(Position, c.position)}
                for c in p.comments
            ],
            "app": p.app,
        }
        for p, info in zip(flow.packets, flow.info, strict=True)
    ]


EcnName = Literal["Not-ECT", "ECT(1)", "ECT(0)", "CE"]
ECN_NAMES: tuple[EcnName, ...] = ("Not-ECT", "ECT(1)", "ECT(0)", "CE")  # RFC 3168 §5: 00..11
_ECN_TEXT = tuple(f'"{n}"' for n in ECN_NAMES)


ChecksumStatus = Literal["unverified", "good", "bad"]


def ecn_name(tos: int | None) -> EcnName | None:
    """The ECN field's name from a TOS / traffic class byte."""
    return None if tos is None else ECN_NAMES[tos & 3]


def packet_texts(part: PacketTable) -> list[str]:
    """``packets_json`` of a slice of positions (``FlowTable.positions``) as JSON texts,
    typeset from the columns (``typeset``).  Rows whose packet was kept as an object
    (pasted text, Scapy's frames), carries SACK blocks or a malformed option go through
    ``packets_json``; the test suite and scripts/compare-outputs hold both paths to the
    same bytes."""
    c, n = part.cols, len(part)
    if not n:
        return []
    kept = range(n) if part.remake is not None else part.objects
    slow = set(kept) | set(np.flatnonzero(c["sack"] | c["bad_opt"]).tolist())
    # every row of a paste is slow: nothing to typeset from the columns then
    out = [""] * n if len(slow) == n else typeset.typeset(_PACKET_PIECES, _packet_slots(part))
    for i in sorted(slow):
        p, info = row_objects(part, i)
        one = Flow(0, Side(""), Side(""), [p], [info])
        out[i] = _js(packets_json(one)[0])
    return out


def _packet_slots(part: PacketTable) -> list[typeset.Slot]:
    """The slots of ``_PACKET``, in its order."""
    c, n = part.cols, len(part)
    ints = typeset.integers

    def plus_one(a: npt.NDArray[Any]) -> typeset.Slot:
        return ints(np.where(a >= 0, a + 1, -1))

    def flag(name: str) -> typeset.Slot:
        return typeset.table(c[name], _BOOL)

    tos = c["tos"] if "tos" in c else np.full(n, -1)
    return [
        ints(c["row"] + 1),
        typeset.decimals(c["time"], 6, _float, rounding="none"),
        _endpoint_slot(part, c["src"], c["sport"]),
        _endpoint_slot(part, c["dst"], c["dport"]),
        typeset.table(c["flags"], _LETTERS),
        ints(c["seq_shown"]),
        ints(np.where(c["flags"] & ACK, c["ack"], -1)),
        *(ints(c[name]) for name in ("rel_seq", "rel_ack", "length", "win", "mss", "wscale")),
        flag("sackok"),
        ints(c["ts_val"]),
        ints(c["ts_ecr"]),
        _findings_slot(c["findings"]),
        flag("seq_inferred"),
        ints(c["eff_win"]),
        typeset.table(c["dir"], _DIRS),
        typeset.table(c["phase"], PHASE_NAMES),
        plus_one(c["echo_row"]),
        ints(np.where(c["dup_ack"] > 0, c["dup_ack"], -1)),
        plus_one(c["acked_row"]),
        *(
            typeset.decimals(c[n] * 1000, 3, _ms_of_ms, rounding="python")
            for n in ("ack_rtt", "ts_rtt")
        ),
        ints(c["in_flight"]),
        ints(c["frame"]),
        flag("truncated"),
        ints(c["cksum"]),
        typeset.table(c["cksum_status"], _STATUS_TEXTS)
        if "cksum_status" in c
        else typeset.constant(n, _STATUS_TEXTS[0]),  # stored before statuses: unverified
        ints(c["cksum_expected"]) if "cksum_expected" in c else typeset.constant(n, "null"),
        typeset.table(np.where(tos >= 0, tos & 3, 4), _ECN_OR_NULL),
        _sparse_slot(n, part.comments, _comments_text, ""),
        _sparse_slot(n, part.apps, _str, "null"),
    ]


_STATUS_TEXTS = tuple(f'"{s}"' for s in STATUS_NAMES)
_ECN_OR_NULL = (*_ECN_TEXT, "null")


def _comments_text(texts: list[str]) -> str:
    return ",".join(f'{{"line":0,"text":{_js(t)},"position":"before"}}' for t in texts)


def _sparse_slot(
    n: int, rows: Mapping[int, Any], text: Callable[[Any], str], other: str
) -> typeset.Slot:
    """``text`` of the few rows given, ``other`` on the rest."""
    if not rows:
        return typeset.constant(n, other)
    out = [other] * n
    for i, value in rows.items():
        out[i] = text(value)
    return typeset.texts(out)


# one packet's JSON, its values in the order ``_packet_slots`` lists them
_PACKET = (
    '{"n":%s,"time":%s,"src":%s,"dst":%s,'
    '"flags":"%s","seq":%s,"ack":%s,'
    '"rel_seq":%s,"rel_ack":%s,'
    '"len":%s,"win":%s,'
    '"options":{"mss":%s,"wscale":%s,'
    '"sack_perm":%s,"ts_val":%s,'
    '"ts_ecr":%s,"sack":[]},'
    '"findings":%s,"seq_inferred":%s,'
    '"eff_win":%s,"direction":"%s",'
    '"phase":"%s","ts_echo_of":%s,'
    '"dup_ack":%s,"acks":%s,'
    '"ack_rtt_ms":%s,"ts_rtt_ms":%s,'
    '"bytes_in_flight":%s,"line":null,'
    '"frame":%s,"truncated":%s,'
    '"checksum":{"value":%s,"status":%s,"expected":%s},"ecn":%s,'
    '"annotation":null,'
    '"comments":[%s],"app":%s}'
)
_PACKET_PIECES = _PACKET.split("%s")


class PacketBlocks:
    """The ``packets`` texts of flows taken in position order, made a block of positions at
    a time (small flows share a block; a big one is made in blocks of its own), so a
    capture of many small connections costs as little as one of a few big ones.
    ``positions(a, b)`` gives positions ``a:b`` as a table (``FlowTable.positions`` or a
    stored session's chunks)."""

    def __init__(
        self, positions: Callable[[int, int], PacketTable], total: int, block: int = 4096
    ) -> None:
        self.positions, self.total, self.block = positions, total, block
        self.lo = self.hi = 0
        self.texts: list[str] = []

    def flow(self, lo: int, hi: int) -> Iterator[str]:
        """Pieces of the JSON list's inside for positions ``lo:hi`` (one flow)."""
        if hi - lo > self.block:
            for a in range(lo, hi, self.block):
                texts = packet_texts(self.positions(a, min(a + self.block, hi)))
                yield ("," if a > lo else "") + ",".join(texts)
            return
        if not (self.lo <= lo and hi <= self.hi):
            self.lo, self.hi = lo, min(max(hi, lo + self.block), self.total)
            self.texts = packet_texts(self.positions(self.lo, self.hi))
        yield ",".join(self.texts[lo - self.lo : hi - self.lo])


_LETTERS = [flags_to_letters(f) for f in range(1 << 9)]
_DIRS = DirectionCode.texts()


def _ms_of_ms(ms: float) -> str:
    return "null" if ms != ms else repr(round(ms, 3))


def _findings_slot(bits: npt.NDArray[np.int32]) -> typeset.Slot:
    """JSON lists of finding codes, made once per distinct set."""

    def lists(sets: npt.NDArray[np.int32]) -> list[str]:
        return [_js([c for k, c in enumerate(FINDING_CODES) if b >> k & 1]) for b in sets.tolist()]

    return typeset.by_key(bits, lists)


def _endpoint_slot(
    part: PacketTable, hosts: npt.NDArray[Any], ports: npt.NDArray[Any]
) -> typeset.Slot:
    """JSON strings "host:port" of many rows, each distinct endpoint formatted once."""

    def names(ends: npt.NDArray[np.int64]) -> list[str]:
        hosts_of, ports_of = np.divmod(ends, _PORT_KEYS)
        return [
            _str(format_endpoint(part.hosts[h], None if port == 0 else port - 1, part.port_names))
            for h, port in zip(hosts_of.tolist(), ports_of.tolist(), strict=True)
        ]

    return typeset.by_key(hosts.astype(np.int64) * _PORT_KEYS + ports.astype(np.int64) + 1, names)


_PORT_KEYS = 65_537  # a port, or -1 (none), plus one


def _ms_or_none(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_str = encode_basestring  # a str as a JSON string, without json.dumps' overhead


_PLAIN_HOST = re.compile(r"[\w.:%-]+\Z")


def _float(v: float) -> str:
    return "null" if v != v else repr(v)


_BOOL = ("false", "true")


def _int(text: str) -> int:
    return -1 if text == "null" else int(text)


def negotiation_columns(ft: FlowTable, facts: Facts, lo: int, hi: int) -> Columns:
    """Connections ``lo:hi`` as the columns ``negotiation_json`` reads (the flow table's
    ``flow_columns`` and the SYN facts beyond them)."""
    cols = ft.flow_columns(lo, hi)
    cols.update(ecn=facts.ecn[lo:hi], tfo=facts.tfo[lo:hi], mptcp=facts.mptcp[lo:hi])
    return cols


def negotiation_json(cols: Columns, i: int) -> str:
    """Connection ``i``'s ``negotiation`` list as JSON text, from ``negotiation_columns``."""

    def pair(name: str) -> tuple[Any, Any]:
        a, b = cols[name][i].tolist()
        return a, b

    syn = pair("syn_row")
    return _negotiation_text(
        syn=(syn[0] >= 0, syn[1] >= 0),
        mss=pair("mss"),
        wscale=pair("wscale"),
        scaling=SCALING[int(cols["scaling"][i])],
        sack=pair("sackok"),
        ts=pair("timestamps"),
        ecn=int(cols["ecn"][i]),
        tfo=pair("tfo"),
        mptcp=pair("mptcp"),
    )


def negotiations_json(cols: Columns) -> list[str]:
    """``negotiation_json`` of every connection in ``cols``, made once for each distinct
    set of SYN options (their values packed in one 61-bit key; where one does not fit,
    connection by connection)."""
    n = len(cols["scaling"])
    key, at, fits = np.zeros(n, np.int64), 0, True
    fields: list[tuple[npt.NDArray[Any], int]] = []
    for d in (0, 1):
        fields += [(cols["mss"][:, d] + 1, 17), (cols["wscale"][:, d] + 1, 5)]
        fields += [(cols["syn_row"][:, d] >= 0, 1), (cols["tfo"][:, d], 2)]
        fields += [(cols[name][:, d], 1) for name in ("sackok", "timestamps", "mptcp")]
    for values, width in [*fields, (cols["scaling"], 3), (cols["ecn"], 2)]:
        v = values.astype(np.int64)
        fits = fits and bool(((v >= 0) & (v < 1 << width)).all())
        key |= v << at
        at += width
    if not fits:
        return [negotiation_json(cols, i) for i in range(n)]
    _, first, which = np.unique(key, return_index=True, return_inverse=True)
    texts = [negotiation_json(cols, i) for i in first.tolist()]
    return [texts[w] for w in which.reshape(-1).tolist()]


@lru_cache(maxsize=4096)
def _negotiation_text(**options: Any) -> str:
    """``negotiation`` as JSON text, made once for each distinct pair of SYNs' options:
    connections between the same systems repeat them (measured: 0.96 of a 250k-packet
    capture's 6.1 profiled seconds of JSON, for 19,708 connections)."""
    return _js(negotiation(**options))


class Summaries:
    """Every flow's summary JSON object as text, built from the flow table's columns, a
    block of flows at a time (so the summary of a million packets is never in memory whole).

    Built as strings rather than dicts: with tens of thousands of connections this is the
    difference between the JSON costing more than the analysis or not.  The object's shape
    is ``shapes.FlowSummary``.  A block's texts are made from its ``columns`` by
    ``summary_texts``, which is also how a stored session (which keeps those columns) makes
    them when it is read: one function, the same bytes.
    """

    # connections typeset at once: a few megabytes of rows (4,096 raised the 1M-packet
    # summary's peak while writing above the analysis's, 401 MiB against 387)
    BLOCK = 1024

    def __init__(self, ft: FlowTable, facts: Facts | None = None) -> None:
        self.ft = ft
        self.facts = facts or connection_facts(ft)
        flow_of, phase_of, firsts, lasts = ft.phase_runs()
        self.runs = (phase_of, ft.order[firsts] + 1, ft.order[lasts] + 1)
        self.run_at = np.searchsorted(flow_of, np.arange(ft.count + 1))
        self.endpoints = EndpointTexts(ft.table.hosts, ft.table.port_names)

    def __iter__(self) -> Iterator[str]:
        for lo in range(0, self.ft.count, self.BLOCK):
            yield from self.texts(lo, min(lo + self.BLOCK, self.ft.count))

    def texts(self, lo: int, hi: int) -> list[str]:
        """The summaries of flows ``lo:hi`` (0-based)."""
        heads, tails = self.halves(lo, hi, narrative=True)
        return [h + t for h, t in zip(heads, tails, strict=True)]

    def halves(self, lo: int, hi: int, *, narrative: bool) -> tuple[list[str], list[str]]:
        """The summaries of flows ``lo:hi`` cut after ``"narrative":`` (included in the
        first half only when ``narrative``)."""
        cols = self.columns(lo, hi)
        heads, tails = summary_texts(cols, lo, self.endpoints)
        if narrative:
            t = self.ft.table
            lists = story_lists(cols)
            told = narratives_json(lists, 0, len(heads), t.hosts, t.port_names)
            heads = [h + n for h, n in zip(heads, told, strict=True)]
        return heads, tails

    def columns(self, lo: int, hi: int) -> Columns:
        """Everything the summaries, negotiations and narratives of flows ``lo:hi`` are
        made from: ``negotiation_columns``, ``story_columns`` and the rest (statistics,
        sides, phases, history); a stored session keeps them in its flow chunks."""
        ft, facts = self.ft, self.facts
        cols = negotiation_columns(ft, facts, lo, hi)
        cols.update(story_columns(ft, facts, lo, hi))
        a, b = int(self.run_at[lo]), int(self.run_at[hi])
        history = facts.history[lo:hi]
        cols.update(
            {
                "state": facts.state[lo:hi],
                "history": np.array(history, f"<U{max([1, *map(len, history)])}"),
                "near_from": ft.seq.near_from[lo:hi],
                "counts": facts.counts[lo:hi],
                "throughput": facts.throughput[lo:hi],
                **_stats_columns("ack_rtt", facts.ack_rtt, lo, hi),
                **_stats_columns("ts_rtt", facts.ts_rtt, lo, hi),
                **_stats_columns("path", facts.path_rtt, lo, hi),
                **_stats_columns("side_rtt", facts.side_rtt, lo, hi),
                "run_phase": self.runs[0][a:b],
                "run_first": self.runs[1][a:b],
                "run_last": self.runs[2][a:b],
                "run_at": self.run_at[lo : hi + 1] - a,
            }
        )
        return cols


def _stats_columns(name: str, st: Stats, lo: int, hi: int) -> Columns:
    return {
        f"{name}.min": st.min[lo:hi],
        f"{name}.median": st.median[lo:hi],
        f"{name}.max": st.max[lo:hi],
        f"{name}.samples": st.samples[lo:hi],
    }


def summary_columns_of(cols: Columns, a: int, b: int) -> Columns:
    """Flows ``a:b`` of ``Summaries.columns`` (each flow's columns, and its runs of
    phases)."""
    at = cols["run_at"]
    r0, r1 = int(at[a]), int(at[b])
    out = {k: v[a:b] for k, v in cols.items() if k not in _RUN_COLUMNS}
    out.update({k: cols[k][r0:r1] for k in ("run_phase", "run_first", "run_last")})
    out["run_at"] = at[a : b + 1] - r0
    return out


_RUN_COLUMNS = frozenset({"run_phase", "run_first", "run_last", "run_at"})


def has_summary_columns(cols: Columns) -> bool:
    """Whether ``cols`` are ``Summaries.columns`` (a flow chunk stored before them holds
    its summaries as texts instead)."""
    return "run_at" in cols


class EndpointTexts:
    """Endpoints (``ENDPOINT_PORTS`` codes) as JSON strings ("host:port"), each host's
    beginning made once."""

    def __init__(self, hosts: list[str], port_names: dict[int, str]) -> None:
        self.hosts, self.port_names = hosts, port_names
        self.prefix: dict[int, str] = {}

    def __call__(self, eps: npt.NDArray[np.int64]) -> list[str]:
        out = []
        prefix = self.prefix
        for e in eps.tolist():
            host, port = divmod(e, ENDPOINT_PORTS)
            pre = prefix.get(host)
            if pre is None:
                h = self.hosts[host]
                pre = prefix[host] = (
                    ('"[' + h + "]:" if ":" in h else '"' + h + ":") if _PLAIN_HOST.match(h) else ""
                )
            plain = pre and 0 < port <= NAMED_PORTS
            out.append(
                pre + str(port - 1) + '"'
                if plain
                else _js(endpoint_text(self.hosts, e, self.port_names))
            )
        return out


def summary_texts(cols: Columns, lo: int, endpoints: EndpointTexts) -> tuple[list[str], list[str]]:
    """The summaries of the flows in ``cols`` (``Summaries.columns``; the first is flow
    ``lo``, 0-based) cut after ``"narrative":``, typeset from the columns."""
    n = len(cols["count"])
    if not n:
        return [], []
    ints, table = typeset.integers, typeset.table
    ends = [typeset.by_key(cols[k], endpoints) for k in _EP_COLUMNS]
    t = typeset.Template()
    t('{"id":', ints(np.arange(lo + 1, lo + n + 1)))
    t(',"client":', ends[0])
    t(',"server":', ends[1])
    t(',"roles_from":"', table(cols["roles_from"], ROLES_FROM))
    t('","packet_count":', ints(cols["count"]))
    t(',"bytes":', ints(cols["side_bytes"].sum(axis=1)))
    t(',"start":', typeset.decimals(cols["start"], 6, _float, rounding="none"))
    t(',"duration":', typeset.texts(_durations(cols)))
    t(',"handshake":"', table(cols["handshake"], HANDSHAKE))
    # float64 epoch seconds resolve about 0.2 µs: give the RTT in whole microseconds
    t('","irtt_ms":', typeset.decimals(cols["irtt"] * 1000, 3, _ms_of_ms, rounding="python"))
    t(',"window_scaling":"', table(cols["scaling"], SCALING))
    t('","state":"', table(cols["state"], STATES))
    t('","history":"', typeset.texts(cols["history"].tolist()))
    t('","rtt_ms":')
    _stats_slots(t, cols, "ack_rtt")
    t(',"ts_rtt_ms":')
    _stats_slots(t, cols, "ts_rtt")
    t(',"path_rtt_ms":')
    _stats_slots(t, cols, "path", close=False)
    t(',"source":', table(cols["path_source"], _SOURCE_TEXTS))
    t('},"vantage":"', table(cols["vantage"], VANTAGES))
    t('","vantage_from":', table(cols["near_from"], _VANTAGE_FROM))
    t(',"ecn":', table(cols["ecn"], _ECN_OFFER))
    t(',"findings":{', _counts_slot(cols["counts"]))
    t('},"ended_by":"', table(cols["ended_by"], ENDED_BY))
    t('","closer":', table(cols["closer"] + 1, _CLOSERS))
    t(',"ending":', typeset.by_key(cols["ended_by"] * 3 + cols["closer"] + 1, _endings))
    t(',"sides":{"client":')
    _side_slots(t, cols, 0, ends[0])
    t(',"server":')
    _side_slots(t, cols, 1, ends[1])
    t('},"narrative":')
    return t.rows(), [f',"phases":{p}}}' for p in _phases(cols)]


_EP_COLUMNS = ("client_ep", "server_ep")
_SOURCE_TEXTS = ("null", *(f'"{s}"' for s in PATH_SOURCES[1:]))
_VANTAGE_FROM = ("null", '"ack_rtt"', '"ttl"')
_ECN_OFFER = ('"none"', '"offered"', '"negotiated"')
_CLOSERS = ("null", '"client"', '"server"')
_CODE_TEXTS = [f'"{c}":' for c in FINDING_CODES]


def _counts_slot(counts: npt.NDArray[Any]) -> typeset.Slot:
    """The inside of each flow's ``findings`` object: its codes with their counts."""
    texts = [""] * len(counts)
    found = np.flatnonzero(counts.any(axis=1))
    for i, row in zip(found.tolist(), counts[found].tolist(), strict=True):
        texts[i] = ",".join(_CODE_TEXTS[k] + str(x) for k, x in enumerate(row) if x)
    return typeset.texts(texts)


def _endings(keys: npt.NDArray[np.int64]) -> list[str]:
    """The ``ending`` objects of ``ended_by * 3 + closer + 1`` keys."""
    return [
        _js(describe_ending(ENDED_BY[eb], (None, "client", "server")[closer]))
        for eb, closer in (divmod(k, 3) for k in keys.tolist())
    ]


def _durations(cols: Columns) -> list[str]:
    return [
        "null" if t0 != t0 or t1 != t1 else repr(t1 - t0)
        for t0, t1 in zip(cols["start"].tolist(), cols["end"].tolist(), strict=True)
    ]


def _stats_slots(
    t: typeset.Template, cols: Columns, name: str, side: int | None = None, *, close: bool = True
) -> None:
    """``{"min","median","max","samples"}`` in milliseconds (µs resolution) of the
    statistics ``name`` in ``cols`` (``_stats_columns``; of one ``side`` where they are
    per side), nulls where there is no sample."""

    def col(field: str) -> npt.NDArray[Any]:
        a = cols[f"{name}.{field}"]
        return a if side is None else a[:, side]

    samples = col("samples")
    for i, field in enumerate(("min", "median", "max")):
        ms = np.where(samples > 0, col(field) * 1000, np.nan)
        t(f'{"{" if i == 0 else ","}"{field}":', typeset.decimals(ms, 3, _np_ms, rounding="numpy"))
    t(',"samples":', typeset.integers(samples))
    if close:
        t("}")


def _np_ms(ms: float) -> str:
    with np.errstate(over="ignore"):  # near the largest double: inf, as numpy rounds it
        return "null" if ms != ms else repr(np.round(np.array([ms]), 3).tolist()[0])


def _side_slots(t: typeset.Template, cols: Columns, d: int, endpoint: typeset.Slot) -> None:
    """One side's object (``sides.client`` or ``sides.server``)."""
    ints, flag = typeset.integers, _BOOL
    t('{"endpoint":', endpoint)
    t(',"syn_seen":', typeset.table(cols["syn_row"][:, d] >= 0, flag))
    t(',"isn":', ints(cols["isn"][:, d]))
    t(',"mss":', ints(cols["mss"][:, d]))
    t(',"wscale":', ints(cols["wscale"][:, d]))
    t(',"sack_perm":', typeset.table(cols["sackok"][:, d], flag))
    t(',"timestamps":', typeset.table(cols["timestamps"][:, d], flag))
    t(',"packets":', ints(cols["side_packets"][:, d]))
    t(',"bytes":', ints(cols["side_bytes"][:, d]))
    t(',"data_segments":', ints(cols["data_segments"][:, d]))
    t(',"rtt_ms":')
    _stats_slots(t, cols, "side_rtt", d)
    throughput = cols["throughput"][:, d]
    t(',"throughput_bps":', typeset.decimals(throughput, 1, _bps, rounding="python"))
    t(',"tfo":"', typeset.table(cols["tfo"][:, d], TFO_NAMES))
    t('","mptcp":', typeset.table(cols["mptcp"][:, d], flag))
    t("}")


def _bps(v: float) -> str:
    return _float(round(v, 1))


_PHASE_TEXTS = [(_js(name), _js(PHASES[name].en), _js(PHASES[name].zh)) for name in PHASE_NAMES]


def _phases(cols: Columns) -> list[str]:
    """Each flow's ``phases`` list as JSON text."""
    phase_of, firsts, lasts = (cols[k].tolist() for k in ("run_phase", "run_first", "run_last"))
    bounds = cols["run_at"].tolist()
    out = []
    for k in range(len(bounds) - 1):
        runs = []
        for r in range(bounds[k], bounds[k + 1]):
            name, en, zh = _PHASE_TEXTS[phase_of[r]]
            runs.append(
                f'{{"phase":{name},"first":{firsts[r]},"last":{lasts[r]},"en":{en},"zh":{zh}}}'
            )
        out.append("[" + ",".join(runs) + "]")
    return out


def story_lists(cols: Columns) -> dict[str, list[Any]]:
    """``story_columns`` as Python lists: one conversion for many ``narratives_json``."""
    return {
        name: cols[name].tolist() if name in cols else [_STORY_DEFAULTS[name]] * len(cols["end"])
        for name in _STORY_COLUMNS
    }


_STORY_COLUMNS = (
    "client_ep",
    "server_ep",
    "roles_from",
    "handshake",
    "irtt",
    "side_bytes",
    "data_segments",
    "story_counts",
    "max_dup",
    "rtt_median",
    "rtt_samples",
    "ended_by",
    "start",
    "end",
    "closer",
    "half_closer",
    "half_bytes",
    "half_span",
    "path_rtt",
    "path_source",
    "leg_client",
    "leg_server",
    "vantage",
    "copies",
    "ce",
    "cwr",
)
# story columns a session stored before they existed lacks: their "nothing to say" values
_STORY_DEFAULTS = {
    "closer": -1,
    "half_closer": -1,
    "half_bytes": 0,
    "half_span": float("nan"),
    "path_rtt": float("nan"),
    "path_source": 0,
    "leg_client": float("nan"),
    "leg_server": float("nan"),
    "vantage": 0,
    "copies": 0,
    "ce": 0,
    "cwr": 0,
}


def story_columns(ft: FlowTable, facts: Facts, lo: int, hi: int) -> Columns:
    """Connections ``lo:hi`` as the columns ``narratives_json`` reads."""
    return {
        "client_ep": ft.client_ep[lo:hi],
        "server_ep": ft.server_ep[lo:hi],
        "roles_from": ft.roles_from[lo:hi],
        "handshake": ft.handshake[lo:hi],
        "irtt": ft.irtt[lo:hi],
        "side_bytes": ft.side_bytes[lo:hi],
        "data_segments": facts.data_segments[lo:hi],
        "story_counts": facts.counts[lo:hi][:, [c.bit for c in _STORY_CODES]],
        "max_dup": facts.max_dup[lo:hi],
        "rtt_median": facts.ack_rtt.median[lo:hi],
        "rtt_samples": facts.ack_rtt.samples[lo:hi],
        "ended_by": ft.ended_by[lo:hi],
        "start": ft.start[lo:hi],
        "end": ft.end[lo:hi],
        "closer": ft.closer[lo:hi],
        "half_closer": ft.half_closer[lo:hi],
        "half_bytes": ft.half_bytes[lo:hi],
        "half_span": ft.half_span[lo:hi],
        "path_rtt": facts.path_rtt.median[lo:hi],
        "path_source": facts.path_source[lo:hi],
        "leg_client": facts.side_rtt.median[lo:hi, 0],
        "leg_server": facts.side_rtt.median[lo:hi, 1],
        "vantage": facts.vantage[lo:hi],
        "copies": facts.counts[lo:hi, Finding.DUPLICATE_SEGMENT.bit],
        "ce": facts.counts[lo:hi, Finding.ECN_CE.bit],
        "cwr": facts.cwr[lo:hi],
    }


def narratives_json(
    cols: dict[str, list[Any]],
    a: int,
    b: int,
    hosts: list[str],
    port_names: dict[int, str] | None = None,
) -> list[str]:
    """Connections ``a:b``'s ``narrative`` objects ({en, zh}) as JSON texts, from
    ``story_lists`` (made once for many connections), told at once (``narrate_many``)."""
    en, zh = narrate_many([_story(cols, k, hosts, port_names) for k in range(a, b)])
    return [f'{{"en":{_str(e)},"zh":{_str(z)}}}' for e, z in zip(en, zh, strict=True)]


def _story(
    cols: dict[str, list[Any]], k: int, hosts: list[str], port_names: dict[int, str] | None
) -> Story:
    """Connection ``k`` of ``story_lists`` as the ``Story`` the narrative tells."""
    re_, fast, spur, ooo, lost, zw, ka = cols["story_counts"][k]
    t0, t1 = cols["start"][k], cols["end"][k]
    ended_by = ENDED_BY[cols["ended_by"][k]]
    return Story(
        client=endpoint_text(hosts, cols["client_ep"][k], port_names),
        server=endpoint_text(hosts, cols["server_ep"][k], port_names),
        roles_from=ROLES_FROM[cols["roles_from"][k]],
        handshake=HANDSHAKE[cols["handshake"][k]],
        irtt=_real(cols["irtt"][k]),
        bytes=tuple(cols["side_bytes"][k]),
        segments=tuple(cols["data_segments"][k]),
        retrans=re_,
        fast=fast,
        spurious=spur,
        max_dup=cols["max_dup"][k],
        ooo=ooo,
        lost=lost,
        zero_window=zw,
        keep_alive=ka,
        rtt_median=_real(cols["rtt_median"][k]),
        rtt_samples=cols["rtt_samples"][k],
        ending=ENDINGS[ended_by],
        duration=None if t0 != t0 or t1 != t1 else t1 - t0,
        ended_by=ended_by,
        closer=cols["closer"][k],
        half_closer=cols["half_closer"][k],
        half_bytes=cols["half_bytes"][k],
        half_span=_real(cols["half_span"][k]),
        path_rtt=_real(cols["path_rtt"][k]),
        path_source=PATH_SOURCES[cols["path_source"][k]],
        legs=(_real(cols["leg_client"][k]), _real(cols["leg_server"][k])),
        vantage=VANTAGES[cols["vantage"][k]],
        copies=cols["copies"][k],
        ce=cols["ce"][k],
        cwr=cols["cwr"][k],
    )


def _real(v: float) -> float | None:
    return None if v != v else v


_STORY_CODES = (
    Finding.RETRANSMISSION,
    Finding.FAST_RETRANSMISSION,
    Finding.SPURIOUS_RETRANSMISSION,
    Finding.OUT_OF_ORDER,
    Finding.LOST_SEGMENT,
    Finding.ZERO_WINDOW,
    Finding.KEEP_ALIVE,
)


def source_json(t: Trace) -> shapes.Source:
    return {
        "kind": cast(Kind, t.kind),
        "packet_count": t.packet_count,
        "link_type": t.link_type,
        "numbering": cast(Numbering, t.numbering),
        "format": t.text_format,
        "tcpdump_options": t.options,
        "warnings": [cast("shapes.Notice", w.as_dict()) for w in t.warnings],
        "header": [{"line": c.line, "text": c.text} for c in t.header],
        "preamble": [{"line": c.line, "text": c.text} for c in t.preamble],
        "trailing": [{"line": c.line, "text": c.text} for c in t.trailing],
        "other_packets": cast("list[shapes.OtherPacket]", t.other_packets),
        "other_count": max(t.other_count, len(t.other_packets)),
        "compression": cast(Compression, t.kind_detail),
        "comments": t.comments,
    }


def write_json(analysis: Analysis, out: TextIO, *, summary: bool = False) -> None:
    """The JSON document, written flow by flow (no whole document in memory); a large one
    by two processes at once (``parallel.write_in_two``), the same bytes."""
    ft = analysis.table
    facts = connection_facts(ft)
    trim_heap()
    out.write('{"source":' + _js(source_json(analysis.trace)) + ',"flows":[')
    flows = _FlowWriter(ft, facts, summary=summary)
    write_in_two(out, flows.write, ft.count, *flows.middle())
    out.write("]}")


class _FlowWriter:
    """The ``flows`` list's items ``lo:hi``, each after a comma but the first."""

    def __init__(self, ft: FlowTable, facts: Facts, *, summary: bool) -> None:
        self.ft, self.facts, self.summary = ft, facts, summary
        self.summaries = Summaries(ft, facts)

    def middle(self) -> tuple[int, int]:
        """(the flow where half the work is done, the work): a flow's summary costs about
        what twelve packets' texts cost."""
        ft = self.ft
        done = 12 * np.arange(1, ft.count + 1)
        if not self.summary:
            done += ft.bounds[1:]
        work = int(done[-1]) if ft.count else 0
        return int(np.searchsorted(done, work // 2)), work

    def write(self, out: TextIO, lo: int, hi: int) -> None:
        ft, block = self.ft, Summaries.BLOCK
        blocks = PacketBlocks(ft.positions, len(ft.order))
        for a in range(lo, hi, block):
            b = min(a + block, hi)
            texts = self.summaries.texts(a, b)
            if self.summary:
                out.write(("," if a else "") + ",".join(texts))
                continue
            nego = negotiations_json(negotiation_columns(ft, self.facts, a, b))
            for i, text in enumerate(texts, a):
                parts = ["," if i else "", text[:-1], ',"negotiation":', nego[i - a]]
                parts.append(',"packets":[')
                parts += blocks.flow(int(ft.bounds[i]), int(ft.bounds[i + 1]))
                parts.append("]}")
                # one write a connection: a block's megabytes joined at once would be new
                # pages each time (glibc gives a freed heap top of 16 MiB back)
                out.write("".join(parts))
