"""Analysis of a whole trace, and its JSON form (the contract in docs/json.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .explain import PHASES, describe_ending
from .flows import Flow, Side, assemble
from .model import RST, SYN, Trace


@dataclass(slots=True)
class Analysis:
    trace: Trace
    flows: list[Flow]

    def flow(self, flow_id: int) -> Flow | None:
        if 1 <= flow_id <= len(self.flows):
            return self.flows[flow_id - 1]
        return None


def analyse(trace: Trace) -> Analysis:
    flows = assemble(trace.packets)
    for flow in flows:
        _findings(flow)
    return Analysis(trace, flows)


def _findings(flow: Flow) -> None:
    """The findings this version detects; the catalogue lists every code."""
    for p in flow.packets:
        if p.cksum_expected is not None:
            p.findings.append("tcp.checksum_offload")
        if p.flags & RST:
            p.findings.append("tcp.reset")
        if p.win == 0 and not p.flags & (SYN | RST):
            p.findings.append("tcp.zero_window")
        if any(o.startswith("[bad opt") or o.startswith("bad opt") for o in p.options.other):
            p.findings.append("tcp.bad_option")


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


def _phases(flow: Flow) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p, info in zip(flow.packets, flow.info, strict=True):
        if out and out[-1]["phase"] == info.phase:
            out[-1]["last"] = p.n
            continue
        en, zh = PHASES[info.phase]
        out.append({"phase": info.phase, "first": p.n, "last": p.n, "en": en, "zh": zh})
    return out


def flow_json(flow: Flow, *, summary: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": flow.id,
        "client": flow.client.endpoint,
        "server": flow.server.endpoint,
        "roles_from": flow.roles_from,
        "packet_count": len(flow.packets),
        "bytes": flow.client.bytes + flow.server.bytes,
        "start": flow.start,
        "duration": flow.duration,
        "handshake": flow.handshake,
        "window_scaling": flow.scaling,
        "ended_by": flow.ended_by,
        "closer": flow.closer,
        "ending": describe_ending(flow),
        "sides": {"client": side_json(flow.client), "server": side_json(flow.server)},
        "phases": _phases(flow),
    }
    if not summary:
        out["packets"] = [
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
    return out


def to_json(analysis: Analysis, *, summary: bool = False) -> dict[str, Any]:
    t = analysis.trace
    return {
        "source": {
            "kind": t.kind,
            "packet_count": len(t.packets),
            "link_type": t.link_type,
            "numbering": t.numbering,
            "tcpdump_options": t.options,
            "warnings": [w.as_dict() for w in t.warnings],
            "header": [{"line": c.line, "text": c.text} for c in t.header],
            "preamble": [{"line": c.line, "text": c.text} for c in t.preamble],
            "trailing": [{"line": c.line, "text": c.text} for c in t.trailing],
            "other_packets": t.other_packets,
        },
        "flows": [flow_json(f, summary=summary) for f in analysis.flows],
    }
