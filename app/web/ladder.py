"""The ladder (sequence) diagram of one connection as rows for the template.

One row per packet in capture order, arrows between the client and server lifelines, phase
markers where the phase changes, the user's commentary where it was pasted, and every
printed field carrying its computed explanation.

Time is on the ladder: the space above a row grows with the time since the packet before
(``gap``, a step of a log scale relative to the window's typical gap), and a silence long
enough to matter gets a row of its own that says how long it was ("… 10.0 s idle …"). The
page can switch to even spacing. Arrows stay level: one capture point does not know when a
packet arrived at the other end, so a slope would be invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from html import escape
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from app.decode.analysis.conversations import QUIET
from app.decode.analysis.flows import Flow
from app.decode.explain.catalogue import CATALOGUE
from app.decode.explain.fields import MAIN_FIELDS, PHASES, explain_packet
from app.decode.explain.spacing import fmt_duration, fmt_offset, gaps
from app.decode.model.i18n import gettext

PAGE = 400  # packets per window of a long connection

# Findings that explain rather than warn: a chip with the minor fields, not a red badge.
QUIET_FINDINGS = QUIET


@dataclass(slots=True)
class Row:
    kind: str  # "phase", "note", "idle", "packet"
    text: str = ""
    line: int | None = None
    position: str = "before"
    packet: dict[str, Any] = field(default_factory=dict)
    html: Markup | None = None  # a packet row, written out (``rendered``)


def ladder_rows(
    flow: Flow, lang: str, before: float | None = None, phase: str | None = None
) -> list[Row]:
    """Rows for the packets ``flow`` holds (a window of the connection); ``before`` is the
    time of the packet just before the window, if any, and ``phase`` its phase when the
    rows continue the ones shown above them (no phase label where the phase goes on)."""
    rows: list[Row] = []
    t0 = flow.start
    last_phase = phase
    spacing = gaps([p.time for p in flow.packets], before)
    for p, info, g in zip(flow.packets, flow.info, spacing, strict=True):
        step, gap = g.step, g.seconds
        if g.idle and gap is not None:
            rows.append(Row("idle", text=fmt_duration(gap), packet={"gap": step}))
            step = 1
        if info.phase != last_phase:
            rows.append(Row("phase", text=PHASES[info.phase].get(lang)))
            last_phase = info.phase
        for c in p.comments:
            if c.position == "before":
                rows.append(Row("note", text=c.text, line=c.line))
        fields = [
            {
                "key": f.key,
                "label": f.label_in(lang),
                "absolute": f.absolute,
                "minor": f.key not in MAIN_FIELDS,
                "text": f.text.get(lang),
                "rfc": f.rfc,
            }
            for f in explain_packet(p, flow, info)
        ]
        findings = [
            {
                "code": code,
                "title": CATALOGUE[code].title_in(lang)
                + (f" #{info.dup_ack}" if code == "tcp.duplicate_ack" and info.dup_ack else ""),
                "text": CATALOGUE[code].text_in(lang),
                "rfc": CATALOGUE[code].rfc,
                "quiet": code in QUIET_FINDINGS,
            }
            for code in p.findings
        ]
        rows.append(
            Row(
                "packet",
                packet={
                    "n": p.n,
                    "frame": p.frame if p.frame is not None and p.frame != p.n else None,
                    "dir": info.direction,
                    "gap": step,
                    "dt": fmt_offset(None if p.time is None or t0 is None else p.time - t0),
                    "delta": None if gap is None else fmt_duration(gap),
                    "time_text": p.time_text or (f"{p.time:.6f}" if p.time is not None else ""),
                    "line": p.line,
                    "annotation": p.annotation,
                    "fields": fields,
                    "findings": findings,
                    "warns": any(not f["quiet"] for f in findings),
                    "raw": p.raw,
                    "details": p.details,
                    "app": p.app,
                    "eff_win": info.eff_win,
                },
            )
        )
        for c in p.comments:
            if c.position == "after":
                rows.append(Row("note", text=c.text, line=c.line, position="after"))
    return rows


@cache
def words(lang: str) -> dict[str, str]:
    """The words of a packet row, in ``lang`` (looked up once, not once per row)."""
    return {
        "frame": gettext(lang, "frame"),
        "since_previous": gettext(lang, "time since the packet before"),
        "line": gettext(lang, "line"),
        "detail": gettext(lang, "layers and bytes"),
        "app_data": gettext(lang, "what the payload starts with (the application's message)"),
        "previous_finding": gettext(lang, "previous {finding}"),
        "next_finding": gettext(lang, "next {finding}"),
        "c2s": gettext(lang, "client → server"),
        "s2c": gettext(lang, "server → client"),
    }


def row_name(p: dict[str, Any], ui: dict[str, str]) -> str:
    """What a packet row says when it is focused: number, direction, main fields, findings
    (its colour and arrow say the direction only to the eye)."""
    fields = " ".join(f["label"] for f in p["fields"] if not f["minor"])
    findings = ", ".join(fd["title"] for fd in p["findings"] if not fd["quiet"])
    name = f"#{p['n']} {ui.get(p['dir'], '')}: {fields}"
    return f"{name}; {findings}" if findings else name


def rendered(rows: list[Row], lang: str, sid: str, flow_id: int) -> list[Row]:
    """``rows`` with each packet row's HTML (``packet_html``)."""
    ui = words(lang)
    first = True
    for row in rows:
        if row.kind == "packet":
            row.html = packet_html(row.packet, ui, sid, flow_id, tab=first)
            first = False
    return rows


def packet_html(
    p: dict[str, Any], ui: dict[str, str], sid: str, flow_id: int, *, tab: bool = False
) -> Markup:
    """One packet's row of the ladder as HTML: the hot loop of a window (400 rows, about a
    dozen fields each with its tooltip), written out directly rather than through the
    template engine, which made it five times slower. Every value is escaped here.

    ``tab``: the row is the window's tab stop (the first; the page's script then moves it)."""
    n = p["n"]
    out: list[str] = []
    if p["gap"]:
        out.append(
            f'<div class="row spacer gap-{p["gap"]}" aria-hidden="true"><div class="when"></div>'
            '<div class="wire"></div></div>'
        )
    warn = " warn" if p["warns"] else ""
    # one tab stop for the whole ladder (roving tabindex, static/app.js): rows and their
    # controls are reached with the arrow keys
    out.append(
        f'<div class="row pkt {p["dir"]} gap-{p["gap"]}{warn}" id="p{n}" role="listitem" '
        f'tabindex="{0 if tab else -1}" aria-label="{_e(row_name(p, ui))}" data-n="{n}"><div class="when">'
        f'<a href="#p{n}" class="num" tabindex="-1">#{n}</a>'
    )
    if p["frame"]:
        out.append(f'<span class="ln">{_e(ui["frame"])} {p["frame"]}</span>')
    if p["annotation"]:
        out.append(f' <span class="ann">{_e(p["annotation"])}</span>')
    out.append(f'<span class="dt" title="{_e(p["time_text"])}">{_e(p["dt"])}</span>')
    if p["delta"] and p["gap"]:
        out.append(
            f'<span class="delta" title="{_e(ui["since_previous"])}">Δ {_e(p["delta"])}</span>'
        )
    if p["line"]:
        out.append(f'<span class="ln">{_e(ui["line"])} {p["line"]}</span>')
    out.append(
        f'<a class="more" tabindex="-1" href="/s/{sid}/p/{n}" hx-get="/s/{sid}/p/{n}" hx-target="#detail" '
        f'hx-swap="innerHTML">{_e(ui["detail"])}</a></div><div class="wire"><div class="label">'
    )
    if p["app"]:
        out.append(f'<span class="app" title="{_e(ui["app_data"])}">{_e(p["app"])}</span>')
    for i, f in enumerate(p["fields"], 1):
        label = (
            f'<span class="rel">{_e(f["label"])}</span><span class="abs">{_e(f["absolute"])}</span>'
            if f["absolute"]
            else _e(f["label"])
        )
        minor = " minor" if f["minor"] else ""
        key = _e(f["key"])
        out.append(
            f'<span class="fw{minor}" data-key="{key}"><button type="button" tabindex="-1" '
            f'class="f f-{key}" '
            f'aria-describedby="tip-{n}-{i}">{label}</button><span class="tip" role="tooltip" '
            f'id="tip-{n}-{i}">{_e(f["text"])}<span class="rfc">{_e(f["rfc"])}</span></span></span>'
        )
    for fd in p["findings"]:
        out.append(_finding_html(fd, n, ui, sid, flow_id))
    out.append('</div><div class="arrow" aria-hidden="true"></div>')
    if p["details"]:
        out.append(
            '<div class="details">'
            + "".join(f"<code>{_e(d)}</code>" for d in p["details"])
            + "</div>"
        )
    out.append("</div></div>")
    return Markup("".join(out))


def _finding_html(fd: dict[str, Any], n: int, ui: dict[str, str], sid: str, flow_id: int) -> str:
    code, title = _e(fd["code"]), _e(fd["title"])
    find = f"/s/{sid}/f/{flow_id}/find?code={quote(fd['code'])}"
    quiet = " minor quiet" if fd["quiet"] else ""
    prev = nxt = ""
    if not fd["quiet"]:
        prev = (
            f'<a class="fnav prev" tabindex="-1" href="{find}&amp;before={n}" '
            f'aria-label="{_e(ui["previous_finding"].format(finding=fd["title"]))}">‹</a>'
        )
        nxt = (
            f'<a class="fnav next" tabindex="-1" href="{find}&amp;after={n}" '
            f'aria-label="{_e(ui["next_finding"].format(finding=fd["title"]))}">›</a>'
        )
    return (
        f'<span class="fw finding{quiet}" data-key="{code}">{prev}<button type="button" tabindex="-1" '
        f'class="f badge" aria-describedby="tip-{n}-{code}">{title}</button>{nxt}'
        f'<span class="tip" role="tooltip" id="tip-{n}-{code}">{_e(fd["text"])}'
        f'<span class="rfc">{code} · {_e(fd["rfc"])}</span></span></span>'
    )


def _e(value: object) -> str:
    return escape(str(value), quote=True)
