"""A connection's ladder as a picture or a text to paste: SVG, PNG, Mermaid, PlantUML.

``diagram`` walks a connection (or a window of it) once into ``Step``s, the same marks the
page shows: a phase where the phase changes, the user's pasted notes where they were
written, a mark for a long silence, and one arrow per packet labelled with the fields a
reader follows a connection by (``explain.fields.MAIN_FIELDS``: flags, seq/ack, window,
length, handshake options), what its payload starts with, and its findings. The writers
below only lay the steps out:

- ``to_svg``: a self-contained SVG document (its styles inline, a font stack that covers
  CJK where the system has it), readable in a browser and in Inkscape;
- ``to_png``: that SVG rasterised by resvg (the same picture);
- ``to_mermaid``: a Mermaid ``sequenceDiagram``;
- ``to_plantuml``: a PlantUML ``@startuml`` sequence diagram.

Arrows stay level, as on the page: one capture point does not know when a packet reached
the other end, so a slope would be invented.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from html import escape

from app.decode.analysis.conversations import QUIET
from app.decode.analysis.flows import Flow
from app.decode.explain.catalogue import CATALOGUE
from app.decode.explain.fields import MAIN_FIELDS, PHASES, explain_packet, roles
from app.decode.explain.spacing import fmt_duration, fmt_offset, gaps
from app.decode.model.i18n import tr


@dataclass(frozen=True, slots=True)
class Step:
    """One mark down the ladder: a ``phase``, a user's ``note``, an ``idle`` silence, or an
    ``arrow`` (packet ``n`` going ``direction`` at ``time``, with ``extra`` lines: the
    payload's start and the findings)."""

    kind: str
    text: str
    n: int = 0
    direction: str = ""
    time: str = ""
    extra: tuple[str, ...] = ()
    warn: bool = False


@dataclass(slots=True)
class Diagram:
    title: str
    client: str  # "client 10.0.0.1:5000"
    server: str
    steps: list[Step] = field(default_factory=list)


def diagram(flow: Flow, lang: str = "en", *, absolute: bool = False) -> Diagram:
    """The steps of the packets ``flow`` holds (a window: ``flow.offset`` on)."""
    title = f"#{flow.id} {flow.client.endpoint} → {flow.server.endpoint}"
    if flow.packets and len(flow.packets) < flow.packet_count:
        first = flow.offset + 1
        window = tr(
            "packets {first}–{last} of {count}",
            first=first,
            last=first + len(flow.packets) - 1,
            count=flow.packet_count,
        )
        title += " · " + window.get(lang)
    client, server = (r.get(lang) for r in roles())
    d = Diagram(title, f"{client} {flow.client.endpoint}", f"{server} {flow.server.endpoint}")
    phase: str | None = None
    spacing = gaps([p.time for p in flow.packets])
    for p, info, gap in zip(flow.packets, flow.info, spacing, strict=True):
        if gap.idle and gap.seconds is not None:
            idle = tr("{time} idle", time=fmt_duration(gap.seconds))
            d.steps.append(Step("idle", idle.get(lang)))
        if info.phase != phase:
            d.steps.append(Step("phase", PHASES[info.phase].get(lang)))
            phase = info.phase
        d.steps += [Step("note", c.text) for c in p.comments if c.position == "before"]
        fields = [f for f in explain_packet(p, flow, info) if f.key in MAIN_FIELDS]
        label = " ".join((f.absolute if absolute and f.absolute else f.label) for f in fields)
        loud = [c for c in p.findings if c not in QUIET]  # explanations stay on the page
        titles = [CATALOGUE[c].title_in(lang) for c in loud]
        extra = tuple(x for x in (p.app, " · ".join(titles)) if x)
        t = None if p.time is None or flow.start is None else p.time - flow.start
        d.steps.append(Step("arrow", label, p.n, info.direction, fmt_offset(t), extra, bool(loud)))
        d.steps += [Step("note", c.text) for c in p.comments if c.position == "after"]
    return d


# ---------------------------------------------------------------------------------- SVG

CLIENT_X, SERVER_X = 250, 830
WIDTH = 960
LINE = 16  # px per line of text
CHARS = 70  # label characters per line between the lifelines
FONT = (
    "'DejaVu Sans Mono', Menlo, Consolas, 'Noto Sans Mono CJK SC', 'Noto Sans CJK SC', "
    "'WenQuanYi Micro Hei Mono', 'WenQuanYi Zen Hei Mono', 'Microsoft YaHei', monospace"
)
STYLE = f"""
text {{ font-family: {FONT}; font-size: 12px; fill: #1f2937; }}
.title {{ font-size: 14px; font-weight: bold; }}
.end {{ font-weight: bold; }}
.life {{ stroke: #6b7280; stroke-width: 1.5; }}
.c2s line.shaft {{ stroke: #1d4ed8; }} .c2s text.label {{ fill: #1e3a8a; }}
.s2c line.shaft {{ stroke: #047857; }} .s2c text.label {{ fill: #064e3b; }}
line.shaft {{ stroke-width: 1.6; }}
.c2s .head {{ fill: #1d4ed8; }} .s2c .head {{ fill: #047857; }}
.num {{ font-weight: bold; }}
.time, .idle text {{ fill: #6b7280; }}
.extra {{ fill: #374151; font-style: italic; }}
.warn .extra {{ fill: #b91c1c; font-style: normal; font-weight: bold; }}
.phase rect {{ fill: #f3f4f6; stroke: #d1d5db; }}
.phase text {{ font-weight: bold; }}
.note rect {{ fill: #fef9c3; stroke: #ca8a04; }}
"""


def _width(text: str) -> int:
    """Columns ``text`` takes in a monospace font (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, limit: int = CHARS) -> list[str]:
    """``text`` in lines of at most ``limit`` columns, broken between words where it can."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        while _width(word) > limit:  # a word longer than a line: cut it
            room = limit - _width(line) - (1 if line else 0)
            if room < 8:
                lines.append(line)
                line, room = "", limit
            cut = _fit(word, room)
            lines.append(f"{line} {word[:cut]}".strip())
            line, word = "", word[cut:]
        if line and _width(line) + 1 + _width(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line or not lines:
        lines.append(line)
    return lines


def _fit(word: str, room: int) -> int:
    """How many characters of ``word`` fit in ``room`` columns (at least one)."""
    used = 0
    for i, ch in enumerate(word):
        used += _width(ch)
        if used > room:
            return max(i, 1)
    return len(word)


def _t(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    c = f' class="{cls}"' if cls else ""
    a = f' text-anchor="{anchor}"' if anchor != "start" else ""
    return f'<text x="{x:g}" y="{y:g}"{c}{a}>{escape(text, quote=False)}</text>'


def _arrow_svg(s: Step, y: float) -> tuple[list[str], float]:
    """One packet's arrow from ``y`` down: its SVG and its height."""
    label = wrap(s.text)
    extra = [line for x in s.extra for line in wrap(x)]
    shaft = y + 4 + LINE * len(label)
    left_to_right = s.direction == "c2s"
    x1, x2 = (CLIENT_X, SERVER_X) if left_to_right else (SERVER_X, CLIENT_X)
    tip = x2 - 9 if left_to_right else x2 + 9
    mid = (CLIENT_X + SERVER_X) / 2
    warn = " warn" if s.warn else ""
    out = [f'<g class="pkt {s.direction}{warn}" id="p{s.n}">']
    out.append(_t(8, shaft - 3, f"#{s.n}", "num"))
    out.append(_t(8, shaft + 12, s.time, "time"))
    out += [_t(mid, y + LINE * (i + 1), line, "label", "middle") for i, line in enumerate(label)]
    out.append(f'<line class="shaft" x1="{x1}" y1="{shaft:g}" x2="{tip}" y2="{shaft:g}"/>')
    out.append(
        f'<path class="head" d="M{x2},{shaft:g} L{tip},{shaft - 5:g} L{tip},{shaft + 5:g} Z"/>'
    )
    out += [
        _t(mid, shaft + LINE * (i + 1), line, "extra", "middle") for i, line in enumerate(extra)
    ]
    out.append("</g>")
    return out, LINE * (len(label) + len(extra)) + 16


def _band_svg(s: Step, y: float) -> tuple[list[str], float]:
    """A phase, note or idle mark across the lifelines: its SVG and its height."""
    mid = (CLIENT_X + SERVER_X) / 2
    if s.kind == "idle":
        return [f'<g class="idle">{_t(mid, y + 15, f"… {s.text} …", "", "middle")}</g>'], 24
    lines = wrap(s.text, CHARS + 4)
    h = LINE * len(lines) + 8
    rect = (
        f'<rect x="{CLIENT_X - 20}" y="{y + 2:g}" width="{SERVER_X - CLIENT_X + 40}" '
        f'height="{h:g}" rx="3"/>'
    )
    texts = [_t(mid, y + LINE * (i + 1), line, "", "middle") for i, line in enumerate(lines)]
    return [f'<g class="{s.kind}">', rect, *texts, "</g>"], h + 8


def to_svg(d: Diagram) -> str:
    """The diagram as a self-contained SVG document."""
    return _svg(d)[0]


def _svg(d: Diagram) -> tuple[str, float]:
    """The SVG document and its height in pixels."""
    body: list[str] = []
    y = 78.0
    for s in d.steps:
        part, h = _arrow_svg(s, y) if s.kind == "arrow" else _band_svg(s, y)
        body += part
        y += h
    height = y + 16
    head = [
        _t(8, 22, d.title, "title"),
        _t(CLIENT_X, 52, d.client, "end", "middle"),
        _t(SERVER_X, 52, d.server, "end", "middle"),
        f'<line class="life" x1="{CLIENT_X}" y1="60" x2="{CLIENT_X}" y2="{height - 8:g}"/>',
        f'<line class="life" x1="{SERVER_X}" y1="60" x2="{SERVER_X}" y2="{height - 8:g}"/>',
    ]
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:g}" '
            f'viewBox="0 0 {WIDTH} {height:g}" role="img">',
            f"<title>{escape(d.title, quote=False)}</title>",
            f"<style>{STYLE}</style>",
            f'<rect width="{WIDTH}" height="{height:g}" fill="#ffffff"/>',
            *head,
            *body,
            "</svg>",
            "",
        ]
    )
    return text, height


def png(d: Diagram, max_pixels: int, zoom: float = 1.5) -> bytes:
    """The diagram's SVG drawn at ``zoom``, or smaller to stay within ``max_pixels``."""
    svg, height = _svg(d)
    return to_png(svg, min(zoom, math.sqrt(max_pixels / (WIDTH * height))))


def to_png(svg: str, zoom: float = 1.5) -> bytes:
    """``svg`` rasterised by resvg (system fonts; white background)."""
    import resvg_py

    png: bytes = resvg_py.svg_to_bytes(svg_string=svg, zoom=zoom, background="#ffffff")
    return bytes(png)


# ----------------------------------------------------------------- Mermaid and PlantUML


def _arrow(s: Step) -> tuple[str, str, str]:
    """An arrow's participants (C: client, S: server) and its one-line text."""
    a, b = ("C", "S") if s.direction == "c2s" else ("S", "C")
    return a, b, " · ".join((f"#{s.n} {s.time}", s.text, *s.extra))


def _mermaid_text(text: str) -> str:
    """Text Mermaid shows as written: its entity codes for what it would read as syntax."""
    return text.translate(_MERMAID)


_MERMAID = {ord("#"): "#35;", ord(";"): "#59;", ord("<"): "#lt;", ord(">"): "#gt;", ord("\n"): " "}


def to_mermaid(d: Diagram) -> str:
    """The diagram as a Mermaid ``sequenceDiagram``."""
    out = [
        "sequenceDiagram",
        f"    title {_mermaid_text(d.title)}",
        f"    participant C as {_mermaid_text(d.client)}",
        f"    participant S as {_mermaid_text(d.server)}",
    ]
    for s in d.steps:
        if s.kind == "arrow":
            a, b, text = _arrow(s)
            out.append(f"    {a}->>{b}: {_mermaid_text(text)}")
        elif s.kind == "idle":
            out.append(f"    Note over C,S: … {_mermaid_text(s.text)} …")
        else:
            out.append(f"    Note over C,S: {_mermaid_text(s.text)}")
    return "\n".join(out) + "\n"


def _plantuml_text(text: str) -> str:
    """Text PlantUML shows as written: no line breaks, creole markup and escapes disarmed
    with ``~``."""
    out = text.replace("\n", " ").replace("\\", "\\\\")
    for mark in ("**", "//", '""', "--", "__", "~~", "##", "<<", ">>"):
        out = out.replace(mark, f"~{mark}")
    return out


def to_plantuml(d: Diagram) -> str:
    """The diagram as a PlantUML sequence diagram."""
    out = [
        "@startuml",
        f"title {_plantuml_text(d.title)}",
        "skinparam monochrome false",
        f'participant "{_plantuml_text(d.client)}" as C',
        f'participant "{_plantuml_text(d.server)}" as S',
    ]
    for s in d.steps:
        if s.kind == "arrow":
            a, b, text = _arrow(s)
            out.append(f"{a} -> {b} : {_plantuml_text(text)}")
        elif s.kind == "phase":
            out.append(f"== {_plantuml_text(s.text)} ==")
        elif s.kind == "idle":
            out.append(f"... {_plantuml_text(s.text)} ...")
        else:
            out.append(f"note over C, S : {_plantuml_text(s.text)}")
    out.append("@enduml")
    return "\n".join(out) + "\n"


__all__ = [
    "Diagram",
    "Step",
    "diagram",
    "png",
    "to_mermaid",
    "to_plantuml",
    "to_png",
    "to_svg",
    "wrap",
]
