"""Stream graphs of one connection, drawn on the server as SVG (same origin, no script).

The time-sequence graph (Stevens, tcptrace): time across, the data sender's relative
sequence numbers up. Each data segment is a vertical stroke from its first byte to its
last; the receiver's ACKs are a step line under them and its advertised window (scaled,
RFC 7323 §2.3) a step line above, so the gap between the strokes and the window line is
what the sender could still send. Retransmissions, out-of-order segments and the rest of
the findings are strokes of their own colour and shape. Every mark links to its packet
on the ladder (``/s/{id}/at/{n}``).

A connection of any size makes a picture of bounded size: ordinary segments are merged
per pixel column (one stroke from the lowest to the highest byte sent in it, linked to
its first packet); marked ones are always drawn one by one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

from app.decode.model.codes import Finding

COLUMNS = ("row", "time", "dir", "length", "flags", "rel_seq", "rel_ack", "eff_win", "findings")
W, H = 960, 420  # the plot area, in SVG units
LEFT, TOP, RIGHT, BOTTOM = 78, 46, 16, 44

# what a marked segment is, in the order a segment's colour is chosen by
MARKS: tuple[tuple[Finding, str, str, str], ...] = (
    (Finding.SPURIOUS_RETRANSMISSION, "#a855f7", "spurious retransmission", "虚假重传"),
    (Finding.FAST_RETRANSMISSION, "#9f1239", "fast retransmission", "快速重传"),
    (Finding.RETRANSMISSION, "#dc2626", "retransmission", "重传"),
    (Finding.OUT_OF_ORDER, "#ea580c", "out of order", "乱序"),
    (Finding.LOST_SEGMENT, "#0891b2", "previous segment not captured", "前一报文段未抓到"),
    (Finding.ZERO_WINDOW_PROBE, "#ca8a04", "zero-window probe", "零窗口探测"),
    (Finding.KEEP_ALIVE, "#6b7280", "keep-alive", "保活"),
)
WORDS = {
    "en": {
        "time": "time since the first packet (s)",
        "seq": "relative sequence number ({who}'s bytes)",
        "data": "data segment",
        "ack": "ACKed by the {peer}",
        "window": "ACK + the {peer}'s advertised window",
        "empty": "No data segments in this connection: nothing to graph.",
        "client": "client",
        "server": "server",
        "title": "Time-sequence graph of connection #{flow}",
    },
    "zh": {
        "time": "距第一个包的时间（秒）",
        "seq": "相对序列号（{who}发送的字节）",
        "data": "数据报文段",
        "ack": "{peer}已确认（ACK）",
        "window": "ACK + {peer}通告的窗口",
        "empty": "该连接没有数据报文段，无可绘制。",
        "client": "客户端",
        "server": "服务端",
        "title": "连接 #{flow} 的时间-序列图",
    },
}


@dataclass(slots=True)
class Scale:
    lo: float
    hi: float
    a: float  # pixel of lo
    b: float  # pixel of hi

    def __call__(self, v: Any) -> Any:
        span = self.hi - self.lo or 1.0
        return self.a + (np.asarray(v, dtype=float) - self.lo) * (self.b - self.a) / span


def _ticks(lo: float, hi: float, want: int = 6) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / want
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _bytes(v: float) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(v) >= size:
            return f"{v / size:.3g}{unit}"
    return f"{v:.0f}"


def _secs(v: float) -> str:
    return f"{v:.6g}"


def time_sequence(cols: dict[str, npt.NDArray[Any]], sid: str, flow_id: int, lang: str) -> str:
    """The time-sequence graph of one connection as an SVG document."""
    words = WORDS[lang]
    t, d = cols["time"].astype(float), cols["dir"].astype(np.int64)
    length = cols["length"].astype(np.int64)
    data = (length > 0) & (cols["rel_seq"] >= 0) & ~np.isnan(t)
    # graph the direction that sent more bytes (a download: the server)
    sent = [int(length[data & (d == k)].sum()) for k in (0, 1)]
    side = 1 if sent[1] > sent[0] else 0
    who, peer = ("server", "client") if side else ("client", "server")
    title = words["title"].format(flow=flow_id)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="graph tsg" '
        f'role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" '
        f'font-size="11"><title>{escape(title)}</title>'
    )
    seg = data & (d == side)
    if not seg.any():
        return (
            head
            + f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">{escape(words["empty"])}</text></svg>'
        )
    t0 = float(np.nanmin(t))
    x_of = t - t0
    acks = (d != side) & (cols["rel_ack"] >= 0) & ~np.isnan(t)
    ok_win = acks & (cols["eff_win"] >= 0)  # ACKs whose window is known
    top = (cols["rel_seq"] + length)[seg]
    win_top = (cols["rel_ack"] + cols["eff_win"])[ok_win]
    y_hi = float(max(top.max(), win_top.max() if len(win_top) else 0, 1))
    x = Scale(0.0, float(np.nanmax(x_of)) or 1e-6, LEFT, W - RIGHT)
    y = Scale(0.0, y_hi, H - BOTTOM, TOP)
    out = [head, _axes(x, y, words["time"], words["seq"].format(who=words[who]))]
    out.append(_steps(x(x_of[acks]), y(cols["rel_ack"][acks]), "#16a34a", "ack"))
    out.append(
        _steps(
            x(x_of[ok_win]),
            y(cols["rel_ack"][ok_win] + cols["eff_win"][ok_win]),
            "#ca8a04",
            "window",
        )
    )
    out.append(_segments(cols, seg, x(x_of), y, sid))
    found = int(np.bitwise_or.reduce(cols["findings"][seg].astype(np.int64)))
    out.append(_legend(words, peer, lang, found))
    out.append("</svg>")
    return "".join(out)


def _axes(x: Scale, y: Scale, x_label: str, y_label: str) -> str:
    parts = [
        f'<g class="axes" stroke="#9ca3af" fill="none"><path d="M{LEFT},{TOP}V{H - BOTTOM}H{W - RIGHT}"/></g>',
        '<g class="ticks" fill="#374151">',
    ]
    for v in _ticks(x.lo, x.hi):
        px = float(x(v))
        parts.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{H - BOTTOM}" y2="{H - BOTTOM + 4}" stroke="#9ca3af"/>'
            f'<text x="{px:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{_secs(v)}</text>'
        )
    for v in _ticks(y.lo, y.hi):
        py = float(y(v))
        parts.append(
            f'<line x1="{LEFT - 4}" x2="{W - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" stroke="#f3f4f6"/>'
            f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{_bytes(v)}</text>'
        )
    parts.append(
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text transform="translate(14 {(TOP + H - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text></g>'
    )
    return "".join(parts)


def _steps(xs: Any, ys: Any, colour: str, cls: str) -> str:
    """A step line through the points (each value held until the next)."""
    if len(xs) == 0:
        return ""
    xs, ys = np.round(np.asarray(xs), 1), np.round(np.asarray(ys), 1)
    keep = np.ones(len(xs), bool)  # drop points that change nothing on screen
    keep[1:] = (np.diff(ys) != 0) | (np.diff(xs) >= 1)
    xs, ys = xs[keep], ys[keep]
    path = [f"M{xs[0]},{ys[0]}"]
    for px, py in zip(xs[1:].tolist(), ys[1:].tolist(), strict=True):
        path.append(f"H{px}V{py}")
    return f'<path class="{cls}" d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="1.2"/>'


def _segments(cols: dict[str, Any], seg: Any, xs: Any, y: Scale, sid: str) -> str:
    rows, findings = cols["row"], cols["findings"].astype(np.int64)
    lo, hi = y(cols["rel_seq"]), y(cols["rel_seq"] + cols["length"])
    marked = np.zeros(len(seg), bool)
    colour = np.full(len(seg), "", dtype=object)
    for finding, c, _en, _zh in reversed(MARKS):  # the first in MARKS wins
        hit = seg & ((findings >> finding.bit) & 1 > 0)
        marked |= hit
        colour[hit] = c
    plain = np.flatnonzero(seg & ~marked)
    out = ['<g class="segments" stroke-width="1.6">']
    # ordinary segments merged per pixel column, linked to the first of each
    if len(plain):
        col = np.floor(xs[plain]).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
        ends = np.r_[starts[1:], len(plain)]
        out.append('<g stroke="#1d4ed8">')
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            idx = plain[a:b]
            n = int(rows[idx[0]]) + 1
            px = float(xs[idx[0]])
            y1, y2 = float(lo[idx].max()), float(hi[idx].min())
            out.append(
                f'<a href="/s/{sid}/at/{n}" target="_top"><line x1="{px:.1f}" x2="{px:.1f}" '
                f'y1="{y1:.1f}" y2="{min(y2, y1 - 1.5):.1f}"><title>#{n}</title></line></a>'
            )
        out.append("</g>")
    for i in np.flatnonzero(marked).tolist():
        n = int(rows[i]) + 1
        px, y1, y2 = float(xs[i]), float(lo[i]), float(hi[i])
        out.append(
            f'<a href="/s/{sid}/at/{n}" target="_top" class="mark"><line x1="{px:.1f}" '
            f'x2="{px:.1f}" y1="{y1:.1f}" y2="{min(y2, y1 - 3):.1f}" stroke="{colour[i]}" '
            f'stroke-width="3"><title>#{n}</title></line><circle cx="{px:.1f}" '
            f'cy="{min(y2, y1 - 3):.1f}" r="2.5" fill="{colour[i]}"/></a>'
        )
    out.append("</g>")
    return "".join(out)


def _legend(words: dict[str, str], peer: str, lang: str, found: int) -> str:
    """What the colours mean: the lines, and the marks this graph has."""
    items = [
        ("#1d4ed8", words["data"]),
        ("#16a34a", words["ack"].format(peer=words[peer])),
        ("#ca8a04", words["window"].format(peer=words[peer])),
    ]
    for finding, c, en, zh in MARKS:
        if found >> finding.bit & 1:
            items.append((c, en if lang == "en" else zh))
    parts = ['<g class="legend" font-size="10.5">']
    x, y = float(LEFT + 8), 10
    for colour, text in items:
        width = 24 + (6.2 if lang == "en" else 11) * len(text)
        if x + width > W - RIGHT:
            x, y = float(LEFT + 8), y + 15
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="3" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y + 4}">{escape(text)}</text>'
        )
        x += width
    parts.append("</g>")
    return "".join(parts)
