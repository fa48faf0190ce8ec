"""The ladder (sequence) diagram of one connection as rows for the template.

One row per packet in capture order, arrows between the client and server lifelines, phase
markers where the phase changes, the user's commentary where it was pasted, and every
printed field carrying its computed explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.decode.analysis.flows import Flow
from app.decode.explain.catalogue import CATALOGUE
from app.decode.explain.fields import PHASES, explain_packet

PAGE = 400  # packets per page of a long connection


@dataclass(slots=True)
class Row:
    kind: str  # "phase", "note", "packet"
    text: str = ""
    line: int | None = None
    position: str = "before"
    packet: dict[str, Any] = field(default_factory=dict)


def _fmt_dt(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"+{seconds:.6f}"


def ladder_rows(flow: Flow, lang: str) -> list[Row]:
    """Rows for the packets ``flow`` holds (a window of the connection)."""
    rows: list[Row] = []
    t0 = flow.start
    last_phase = None
    for p, info in zip(flow.packets, flow.info, strict=True):
        if info.phase != last_phase:
            en, zh = PHASES[info.phase]
            rows.append(Row("phase", text=f"{en} · {zh}" if lang == "en" else f"{zh} · {en}"))
            last_phase = info.phase
        for c in p.comments:
            if c.position == "before":
                rows.append(Row("note", text=c.text, line=c.line))
        fields = [
            {
                "key": f.key,
                "label": f.label,
                "text": f.zh if lang == "zh" else f.en,
                "rfc": f.rfc,
            }
            for f in explain_packet(p, flow, info)
        ]
        findings = [
            {
                "code": code,
                "title": (CATALOGUE[code].title_zh if lang == "zh" else CATALOGUE[code].title_en)
                + (f" #{info.dup_ack}" if code == "tcp.duplicate_ack" and info.dup_ack else ""),
                "text": CATALOGUE[code].zh if lang == "zh" else CATALOGUE[code].en,
                "rfc": CATALOGUE[code].rfc,
            }
            for code in p.findings
        ]
        rows.append(
            Row(
                "packet",
                packet={
                    "n": p.n,
                    "dir": info.direction,
                    "dt": _fmt_dt(None if p.time is None or t0 is None else p.time - t0),
                    "time_text": p.time_text or (f"{p.time:.6f}" if p.time is not None else ""),
                    "line": p.line,
                    "annotation": p.annotation,
                    "fields": fields,
                    "findings": findings,
                    "raw": p.raw,
                    "details": p.details,
                    "eff_win": info.eff_win,
                },
            )
        )
        for c in p.comments:
            if c.position == "after":
                rows.append(Row("note", text=c.text, line=c.line, position="after"))
    return rows
