"""Analysis of a whole trace, and its JSON form (the contract in docs/json.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .explain import PHASES, describe_ending
from .flows import ENDED_BY, HANDSHAKE, PHASE_NAMES, ROLES_FROM, SCALING, Flow, FlowTable, Side
from .model import Trace


class Analysis:
    """A trace and its connections; a connection's objects are made when first asked for."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.table = FlowTable(trace.table)
        self._flows: dict[int, Flow] = {}

    @property
    def flow_count(self) -> int:
        return self.table.count

    def flow(self, flow_id: int) -> Flow | None:
        if not 1 <= flow_id <= self.table.count:
            return None
        got = self._flows.get(flow_id)
        if got is None:
            got = self._flows[flow_id] = self.table.flow(flow_id - 1)
        return got

    @property
    def flows(self) -> list[Flow]:
        """Every connection as objects: fine for a lesson, slow for a million packets."""
        return [f for i in range(1, self.table.count + 1) if (f := self.flow(i)) is not None]


def analyse(trace: Trace) -> Analysis:
    return Analysis(trace)


def side_json(side: Side) -> dict[str, Any]:
    return {
        "endpoint": side.endpoint,
        "syn_seen": side.syn_n is not None,
        "isn": side.isn,
        "mss": side.mss,
        "wscale": side.wscale,
        "sack_perm": side.sack_perm,
        "timestamps": side.timestamps,
        "packets": side.packets,
        "bytes": side.bytes,
    }


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


def _summaries(ft: FlowTable) -> list[dict[str, Any]]:
    """Every flow's summary JSON straight from the flow table's columns."""
    n = ft.count
    runs: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    rows = ft.order
    for f, ph, a, b in zip(*(x.tolist() for x in ft.phase_runs()), strict=True):
        name = PHASE_NAMES[ph]
        en, zh = PHASES[name]
        runs[f].append(
            {"phase": name, "first": int(rows[a]) + 1, "last": int(rows[b]) + 1, "en": en, "zh": zh}
        )
    endpoints: dict[int, str] = {}

    def ep(e: int) -> str:
        got = endpoints.get(e)
        if got is None:
            got = endpoints[e] = ft.endpoint(e)
        return got

    start = [None if t != t else t for t in ft.start.tolist()]
    end = [None if t != t else t for t in ft.end.tolist()]
    syn = (ft.syn_pos >= 0).tolist()
    isn, mss, ws = ft.isn.tolist(), ft.mss.tolist(), ft.wscale.tolist()
    sack, tsopt = ft.sackok.tolist(), ft.timestamps.tolist()
    pk, by = ft.side_packets.tolist(), ft.side_bytes.tolist()
    count = np.diff(ft.bounds).tolist()
    endings: dict[tuple[int, int], dict[str, str]] = {}
    out = []
    for f, (c, s, rf, hs, sc, eb, cl) in enumerate(
        zip(
            ft.client_ep.tolist(),
            ft.server_ep.tolist(),
            ft.roles_from.tolist(),
            ft.handshake.tolist(),
            ft.scaling.tolist(),
            ft.ended_by.tolist(),
            ft.closer.tolist(),
            strict=True,
        )
    ):
        sides = {}
        for d, role in ((0, "client"), (1, "server")):
            sides[role] = {
                "endpoint": ep(c if d == 0 else s),
                "syn_seen": syn[f][d],
                "isn": None if isn[f][d] < 0 else isn[f][d],
                "mss": None if mss[f][d] < 0 else mss[f][d],
                "wscale": None if ws[f][d] < 0 else ws[f][d],
                "sack_perm": sack[f][d],
                "timestamps": tsopt[f][d],
                "packets": pk[f][d],
                "bytes": by[f][d],
            }
        ending = endings.get((eb, cl))
        if ending is None:
            ending = endings[(eb, cl)] = describe_ending(
                ENDED_BY[eb], None if cl < 0 else ("client", "server")[cl]
            )
        t0, t1 = start[f], end[f]
        out.append(
            {
                "id": f + 1,
                "client": sides["client"]["endpoint"],
                "server": sides["server"]["endpoint"],
                "roles_from": ROLES_FROM[rf],
                "packet_count": count[f],
                "bytes": by[f][0] + by[f][1],
                "start": t0,
                "duration": None if t0 is None or t1 is None else t1 - t0,
                "handshake": HANDSHAKE[hs],
                "window_scaling": SCALING[sc],
                "ended_by": ENDED_BY[eb],
                "closer": None if cl < 0 else ("client", "server")[cl],
                "ending": ending,
                "sides": sides,
                "phases": runs[f],
            }
        )
    return out


def to_json(analysis: Analysis, *, summary: bool = False) -> dict[str, Any]:
    t = analysis.trace
    flows = _summaries(analysis.table)
    if not summary:
        for i, out in enumerate(flows, 1):
            flow = analysis.flow(i)
            out["packets"] = packets_json(flow) if flow is not None else []
    return {
        "source": {
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
        },
        "flows": flows,
    }
