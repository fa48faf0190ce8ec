"""The JSON form of an analysis (the contract in docs/json.md)."""

from __future__ import annotations

import io
import json
import re
from json.encoder import encode_basestring
from typing import Any, TextIO

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
from app.decode.model.codes import FINDING_CODES
from app.decode.model.table import Columns
from app.decode.model.trace import Trace


def packets_json(flow: Flow) -> list[dict[str, Any]]:
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
            "options": p.options.as_dict(),
            "findings": list(p.findings),
            "seq_inferred": p.seq_inferred,
            "eff_win": info.eff_win,
            "direction": info.direction,
            "phase": info.phase,
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
                {"line": c.line, "text": c.text, "position": c.position} for c in p.comments
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


def summary_texts(ft: FlowTable, facts: Facts | None = None) -> list[str]:
    """Every flow's summary JSON object as text, built from the flow table's columns.

    Built as strings rather than dicts: with tens of thousands of connections this is the
    difference between the JSON costing more than the analysis or not.  ``to_json`` parses
    them back when it needs dicts, so there is one source for the summary.
    """
    n = ft.count
    runs: list[list[str]] = [[] for _ in range(n)]
    rows = ft.order
    phase_text = {name: (_js(name), *map(_js, PHASES[name])) for name in PHASE_NAMES}
    flow_of, phase_of, firsts, lasts = ft.phase_runs()
    texts = [phase_text[name] for name in PHASE_NAMES]
    for f, ph, a, b in zip(
        flow_of.tolist(),
        phase_of.tolist(),
        (rows[firsts] + 1).tolist(),
        (rows[lasts] + 1).tolist(),
        strict=True,
    ):
        name, en, zh = texts[ph]
        runs[f].append(f'{{"phase":{name},"first":{a},"last":{b},"en":{en},"zh":{zh}}}')
    client = _endpoint_texts(ft, ft.client_ep)
    server = _endpoint_texts(ft, ft.server_ep)
    names = [
        (ft.endpoint(a), ft.endpoint(b)) for a, b in zip(ft.client_ep, ft.server_ep, strict=True)
    ]
    start, end = ft.start.tolist(), ft.end.tolist()
    # float64 epoch seconds resolve about 0.2 µs: give the RTT in whole microseconds
    raw_irtt = ft.irtt.tolist()
    irtt = [_float(round(v * 1000, 3)) for v in raw_irtt]
    syn = (ft.syn_pos >= 0).tolist()
    isn, mss, ws = _texts(ft.isn), _texts(ft.mss), _texts(ft.wscale)
    sack, tsopt = ft.sackok.tolist(), ft.timestamps.tolist()
    pk, by = ft.side_packets.tolist(), ft.side_bytes.tolist()
    count = np.diff(ft.bounds).tolist()
    endings: dict[tuple[int, int], str] = {}
    closers = ("null", '"client"', '"server"')
    facts = facts or connection_facts(ft)
    ar, tr = facts.ack_rtt, facts.ts_rtt
    rtt, ts_rtt = _stats_texts(ar), _stats_texts(tr)
    counts = facts.counts.tolist()
    code_text = [f'"{c}":' for c in FINDING_CODES]
    i_re, i_fast, i_spur, i_ooo, i_lost, i_zw, i_ka = (
        FINDING_CODES.index(c)
        for c in (
            "tcp.retransmission",
            "tcp.fast_retransmission",
            "tcp.spurious_retransmission",
            "tcp.out_of_order",
            "tcp.lost_segment",
            "tcp.zero_window",
            "tcp.keep_alive",
        )
    )
    max_dup = facts.max_dup.tolist()
    thr = facts.throughput.tolist()
    segs = facts.data_segments.tolist()
    ecn_text = ('"none"', '"offered"', '"negotiated"')
    ecn = facts.ecn.tolist()
    tfo, mptcp = facts.tfo.tolist(), facts.mptcp.tolist()
    med = ar.median.tolist()
    samples = ar.samples.tolist()
    states = [STATES[i] for i in facts.state.tolist()]
    out = []
    for f, (c, sv, rf, hs, sc, eb, cl) in enumerate(
        zip(
            client,
            server,
            ft.roles_from.tolist(),
            ft.handshake.tolist(),
            ft.scaling.tolist(),
            ft.ended_by.tolist(),
            ft.closer.tolist(),
            strict=True,
        )
    ):
        ending = endings.get((eb, cl))
        if ending is None:
            who = None if cl < 0 else ("client", "server")[cl]
            ending = endings[(eb, cl)] = _js(describe_ending(ENDED_BY[eb], who))
        sides = []
        for d, e in ((0, c), (1, sv)):
            sides.append(
                f'{{"endpoint":{e},"syn_seen":{_BOOL[syn[f][d]]},"isn":{isn[f][d]},'
                f'"mss":{mss[f][d]},"wscale":{ws[f][d]},'
                f'"sack_perm":{_BOOL[sack[f][d]]},"timestamps":{_BOOL[tsopt[f][d]]},'
                f'"packets":{pk[f][d]},"bytes":{by[f][d]},"data_segments":{segs[f][d]},'
                f'"throughput_bps":{_float(round(thr[f][d], 1))},'
                f'"tfo":"{TFO_NAMES[tfo[f][d]]}","mptcp":{_BOOL[mptcp[f][d]]}}}'
            )
        t0, t1 = start[f], end[f]
        duration = "null" if t0 != t0 or t1 != t1 else repr(t1 - t0)
        cf = counts[f]
        found = ",".join(code_text[i] + str(k) for i, k in enumerate(cf) if k)
        en_end, zh_end = ENDINGS[ENDED_BY[eb]]
        irtt_f = raw_irtt[f]
        en, zh = narrate(
            Story(
                client=names[f][0],
                server=names[f][1],
                roles_from=ROLES_FROM[rf],
                handshake=HANDSHAKE[hs],
                irtt=None if irtt_f != irtt_f else irtt_f,
                bytes=(by[f][0], by[f][1]),
                segments=(segs[f][0], segs[f][1]),
                retrans=cf[i_re],
                fast=cf[i_fast],
                spurious=cf[i_spur],
                max_dup=max_dup[f],
                ooo=cf[i_ooo],
                lost=cf[i_lost],
                zero_window=cf[i_zw],
                keep_alive=cf[i_ka],
                rtt_median=None if med[f] != med[f] else med[f],
                rtt_samples=samples[f],
                ending_en=en_end,
                ending_zh=zh_end,
                duration=None if duration == "null" else t1 - t0,
            )
        )
        out.append(
            f'{{"id":{f + 1},"client":{c},"server":{sv},'
            f'"roles_from":"{ROLES_FROM[rf]}","packet_count":{count[f]},'
            f'"bytes":{by[f][0] + by[f][1]},"start":{_float(t0)},"duration":{duration},'
            f'"handshake":"{HANDSHAKE[hs]}","irtt_ms":{irtt[f]},"window_scaling":"{SCALING[sc]}",'
            f'"state":"{states[f]}","history":"{facts.history[f]}",'
            f'"rtt_ms":{rtt[f]},"ts_rtt_ms":{ts_rtt[f]},"ecn":{ecn_text[ecn[f]]},'
            f'"findings":{{{found}}},'
            f'"ended_by":"{ENDED_BY[eb]}","closer":{closers[cl + 1]},"ending":{ending},'
            f'"sides":{{"client":{sides[0]},"server":{sides[1]}}},'
            f'"narrative":{{"en":{_str(en)},"zh":{_str(zh)}}},"phases":[{",".join(runs[f])}]}}'
        )
    return out


def source_json(t: Trace) -> dict[str, Any]:
    return {
        "kind": t.kind,
        "packet_count": t.packet_count,
        "link_type": t.link_type,
        "numbering": t.numbering,
        "tcpdump_options": t.options,
        "warnings": [w.as_dict() for w in t.warnings],
        "header": [{"line": c.line, "text": c.text} for c in t.header],
        "preamble": [{"line": c.line, "text": c.text} for c in t.preamble],
        "trailing": [{"line": c.line, "text": c.text} for c in t.trailing],
        "other_packets": t.other_packets,
        "other_count": max(t.other_count, len(t.other_packets)),
        "compression": t.kind_detail,
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


def to_json(analysis: Analysis, *, summary: bool = False) -> dict[str, Any]:
    """The JSON document as a dict (for tests and small inputs)."""
    buf = io.StringIO()
    write_json(analysis, buf, summary=summary)
    out: dict[str, Any] = json.loads(buf.getvalue())
    return out
