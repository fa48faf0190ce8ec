"""The JSON form of an analysis (the contract in docs/json.md)."""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring
from typing import Any, Literal, TextIO, cast

import numpy as np
import numpy.typing as npt

from app.decode.analysis.facts import STATES, Facts, connection_facts
from app.decode.analysis.flows import (
    ENDED_BY,
    HANDSHAKE,
    PHASE_NAMES,
    ROLES_FROM,
    SCALING,
    Flow,
    FlowTable,
)
from app.decode.analysis.result import Analysis
from app.decode.explain.fields import ENDINGS, PHASES, describe_ending
from app.decode.explain.narrative import TFO_NAMES, Story, narrate, negotiation
from app.decode.export import shapes
from app.decode.model.codes import FINDING_CODES, Finding
from app.decode.model.table import Columns
from app.decode.model.trace import Trace

# The model keeps these as plain strings; the document's shapes name their values.
Direction = Literal["c2s", "s2c"]
PhaseName = Literal["handshake", "data", "teardown"]
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
            "annotation": p.annotation,
            "comments": [
                {"line": c.line, "text": c.text, "position": cast(Position, c.position)}
                for c in p.comments
            ],
        }
        for p, info in zip(flow.packets, flow.info, strict=True)
    ]


def _ms_or_none(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_str = encode_basestring  # a str as a JSON string, without json.dumps' overhead


def _texts(values: npt.NDArray[np.int64]) -> list[list[str]]:
    """JSON texts of an integer array, -1 (unknown) as null."""
    out = values.astype(str).astype(object)
    out[values < 0] = "null"
    texts: list[list[str]] = out.tolist()
    return texts


_PLAIN_HOST = re.compile(r"[\w.:%-]+\Z")


def _endpoint_texts(ft: FlowTable, eps: npt.NDArray[np.int64]) -> list[str]:
    """JSON strings of endpoints ("host:port"), formatted once per host."""
    hosts = ft.table.hosts
    prefix = [
        ('"[' + h + "]:" if ":" in h else '"' + h + ":") if _PLAIN_HOST.match(h) else ""
        for h in hosts
    ]
    out = []
    for e in eps.tolist():
        host, port = divmod(e, 65537)
        pre = prefix[host]
        out.append(pre + str(port - 1) + '"' if pre and port else _js(ft.endpoint(e)))
    return out


def _float(v: float) -> str:
    return "null" if v != v else repr(v)


_BOOL = ("false", "true")


def _int(text: str) -> int:
    return -1 if text == "null" else int(text)


_NO_SAMPLES = '{"min":null,"median":null,"max":null,"samples":0}'


def _stats_texts(st: Any) -> list[str]:
    """``{"min","median","max","samples"}`` texts in milliseconds (µs resolution)."""
    lo, med, hi = (np.round(a * 1000, 3).tolist() for a in (st.min, st.median, st.max))
    return [
        f'{{"min":{a!r},"median":{b!r},"max":{c!r},"samples":{k}}}' if k else _NO_SAMPLES
        for a, b, c, k in zip(lo, med, hi, st.samples.tolist(), strict=True)
    ]


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
    return _js(
        negotiation(
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
    )


def _phase_texts(ft: FlowTable) -> list[str]:
    """Each flow's ``phases`` list as JSON text."""
    runs: list[list[str]] = [[] for _ in range(ft.count)]
    rows = ft.order
    phase_text = {name: (_js(name), *map(_js, PHASES[name])) for name in PHASE_NAMES}
    texts = [phase_text[name] for name in PHASE_NAMES]
    flow_of, phase_of, firsts, lasts = ft.phase_runs()
    for f, ph, a, b in zip(
        flow_of.tolist(),
        phase_of.tolist(),
        (rows[firsts] + 1).tolist(),
        (rows[lasts] + 1).tolist(),
        strict=True,
    ):
        name, en, zh = texts[ph]
        runs[f].append(f'{{"phase":{name},"first":{a},"last":{b},"en":{en},"zh":{zh}}}')
    return ["[" + ",".join(r) + "]" for r in runs]


def _side_texts(ft: FlowTable, facts: Facts, eps: tuple[list[str], list[str]]) -> list[str]:
    """Each flow's ``sides`` object as JSON text."""
    syn = (ft.syn_pos >= 0).tolist()
    isn, mss, ws = _texts(ft.isn), _texts(ft.mss), _texts(ft.wscale)
    sack, tsopt = ft.sackok.tolist(), ft.timestamps.tolist()
    pk, by = ft.side_packets.tolist(), ft.side_bytes.tolist()
    thr, segs = facts.throughput.tolist(), facts.data_segments.tolist()
    tfo, mptcp = facts.tfo.tolist(), facts.mptcp.tolist()
    out = []
    for f in range(ft.count):
        sides = [
            f'{{"endpoint":{eps[d][f]},"syn_seen":{_BOOL[syn[f][d]]},"isn":{isn[f][d]},'
            f'"mss":{mss[f][d]},"wscale":{ws[f][d]},'
            f'"sack_perm":{_BOOL[sack[f][d]]},"timestamps":{_BOOL[tsopt[f][d]]},'
            f'"packets":{pk[f][d]},"bytes":{by[f][d]},"data_segments":{segs[f][d]},'
            f'"throughput_bps":{_float(round(thr[f][d], 1))},'
            f'"tfo":"{TFO_NAMES[tfo[f][d]]}","mptcp":{_BOOL[mptcp[f][d]]}}}'
            for d in (0, 1)
        ]
        out.append(f'{{"client":{sides[0]},"server":{sides[1]}}}')
    return out


def _ending_texts(ft: FlowTable) -> list[str]:
    """Each flow's ``ending`` object ({en, zh}) as JSON text, made once per kind."""
    endings: dict[tuple[int, int], str] = {}
    out = []
    for eb, cl in zip(ft.ended_by.tolist(), ft.closer.tolist(), strict=True):
        text = endings.get((eb, cl))
        if text is None:
            who = None if cl < 0 else ("client", "server")[cl]
            text = endings[(eb, cl)] = _js(describe_ending(ENDED_BY[eb], who))
        out.append(text)
    return out


_STORY_CODES = (
    Finding.RETRANSMISSION,
    Finding.FAST_RETRANSMISSION,
    Finding.SPURIOUS_RETRANSMISSION,
    Finding.OUT_OF_ORDER,
    Finding.LOST_SEGMENT,
    Finding.ZERO_WINDOW,
    Finding.KEEP_ALIVE,
)


def _narrative_texts(ft: FlowTable, facts: Facts) -> list[str]:
    """Each flow's ``narrative`` object ({en, zh}) as JSON text."""
    by, segs = ft.side_bytes.tolist(), facts.data_segments.tolist()
    counts = facts.counts[:, [c.bit for c in _STORY_CODES]].tolist()
    max_dup = facts.max_dup.tolist()
    med, samples = facts.ack_rtt.median.tolist(), facts.ack_rtt.samples.tolist()
    start, end, irtt = ft.start.tolist(), ft.end.tolist(), ft.irtt.tolist()
    out = []
    for f, (rf, hs, eb) in enumerate(
        zip(ft.roles_from.tolist(), ft.handshake.tolist(), ft.ended_by.tolist(), strict=True)
    ):
        re_, fast, spur, ooo, lost, zw, ka = counts[f]
        en_end, zh_end = ENDINGS[ENDED_BY[eb]]
        t0, t1, i = start[f], end[f], irtt[f]
        en, zh = narrate(
            Story(
                client=ft.endpoint(int(ft.client_ep[f])),
                server=ft.endpoint(int(ft.server_ep[f])),
                roles_from=ROLES_FROM[rf],
                handshake=HANDSHAKE[hs],
                irtt=None if i != i else i,
                bytes=(by[f][0], by[f][1]),
                segments=(segs[f][0], segs[f][1]),
                retrans=re_,
                fast=fast,
                spurious=spur,
                max_dup=max_dup[f],
                ooo=ooo,
                lost=lost,
                zero_window=zw,
                keep_alive=ka,
                rtt_median=None if med[f] != med[f] else med[f],
                rtt_samples=samples[f],
                ending_en=en_end,
                ending_zh=zh_end,
                duration=None if t0 != t0 or t1 != t1 else t1 - t0,
            )
        )
        out.append(f'{{"en":{_str(en)},"zh":{_str(zh)}}}')
    return out


def summary_texts(ft: FlowTable, facts: Facts | None = None) -> list[str]:
    """Every flow's summary JSON object as text, built from the flow table's columns.

    Built as strings rather than dicts: with tens of thousands of connections this is the
    difference between the JSON costing more than the analysis or not.
    """
    facts = facts or connection_facts(ft)
    client, server = _endpoint_texts(ft, ft.client_ep), _endpoint_texts(ft, ft.server_ep)
    sides = _side_texts(ft, facts, (client, server))
    phases, endings, stories = _phase_texts(ft), _ending_texts(ft), _narrative_texts(ft, facts)
    start, end = ft.start.tolist(), ft.end.tolist()
    # float64 epoch seconds resolve about 0.2 µs: give the RTT in whole microseconds
    irtt = [_float(round(v * 1000, 3)) for v in ft.irtt.tolist()]
    by = ft.side_bytes.tolist()
    count = np.diff(ft.bounds).tolist()
    closers = ("null", '"client"', '"server"')
    rtt, ts_rtt = _stats_texts(facts.ack_rtt), _stats_texts(facts.ts_rtt)
    counts = facts.counts.tolist()
    code_text = [f'"{c}":' for c in FINDING_CODES]
    ecn_text = ('"none"', '"offered"', '"negotiated"')
    ecn = facts.ecn.tolist()
    states = [STATES[i] for i in facts.state.tolist()]
    out = []
    for f, (rf, hs, sc, eb, cl) in enumerate(
        zip(
            ft.roles_from.tolist(),
            ft.handshake.tolist(),
            ft.scaling.tolist(),
            ft.ended_by.tolist(),
            ft.closer.tolist(),
            strict=True,
        )
    ):
        t0, t1 = start[f], end[f]
        duration = "null" if t0 != t0 or t1 != t1 else repr(t1 - t0)
        found = ",".join(code_text[i] + str(k) for i, k in enumerate(counts[f]) if k)
        out.append(
            f'{{"id":{f + 1},"client":{client[f]},"server":{server[f]},'
            f'"roles_from":"{ROLES_FROM[rf]}","packet_count":{count[f]},'
            f'"bytes":{by[f][0] + by[f][1]},"start":{_float(t0)},"duration":{duration},'
            f'"handshake":"{HANDSHAKE[hs]}","irtt_ms":{irtt[f]},"window_scaling":"{SCALING[sc]}",'
            f'"state":"{states[f]}","history":"{facts.history[f]}",'
            f'"rtt_ms":{rtt[f]},"ts_rtt_ms":{ts_rtt[f]},"ecn":{ecn_text[ecn[f]]},'
            f'"findings":{{{found}}},'
            f'"ended_by":"{ENDED_BY[eb]}","closer":{closers[cl + 1]},"ending":{endings[f]},'
            f'"sides":{sides[f]},"narrative":{stories[f]},"phases":{phases[f]}}}'
        )
    return out


def source_json(t: Trace) -> shapes.Source:
    return {
        "kind": cast(Kind, t.kind),
        "packet_count": t.packet_count,
        "link_type": t.link_type,
        "numbering": cast(Numbering, t.numbering),
        "tcpdump_options": t.options,
        "warnings": [cast(shapes.Notice, w.as_dict()) for w in t.warnings],
        "header": [{"line": c.line, "text": c.text} for c in t.header],
        "preamble": [{"line": c.line, "text": c.text} for c in t.preamble],
        "trailing": [{"line": c.line, "text": c.text} for c in t.trailing],
        "other_packets": cast(list[shapes.OtherPacket], t.other_packets),
        "other_count": max(t.other_count, len(t.other_packets)),
        "compression": cast(Compression, t.kind_detail),
        "comments": t.comments,
    }


def write_json(analysis: Analysis, out: TextIO, *, summary: bool = False) -> None:
    """The JSON document, written flow by flow (no whole document in memory)."""
    ft = analysis.table
    facts = connection_facts(ft)
    out.write('{"source":' + _js(source_json(analysis.trace)) + ',"flows":[')
    texts = summary_texts(ft, facts)
    nego = negotiation_columns(ft, facts, 0, ft.count)
    for i, text in enumerate(texts):
        if i:
            out.write(",")
        if summary:
            out.write(text)
        else:
            packets = packets_json(ft.flow(i))
            out.write(text[:-1] + ',"negotiation":' + negotiation_json(nego, i))
            out.write(',"packets":' + _js(packets) + "}")
    out.write("]}")
