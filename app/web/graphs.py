"""Stream graphs of one connection, drawn on the server as SVG (same origin, no script).

The time-sequence graph (Stevens, tcptrace): time across, the data sender's relative
sequence numbers up. Each data segment is a vertical stroke from its first byte to its
last; the receiver's ACKs are a step line under them and its advertised window (scaled,
RFC 7323 §2.3) a step line above, so the gap between the strokes and the window line is
what the sender could still send. Retransmissions, out-of-order segments and the rest of
the findings are strokes of their own colour and shape. Every mark links to its packet
on the ladder (``/s/{id}/at/{n}``).

SACK blocks (RFC 2018) the receiver reported are short purple strokes at the time of the
ACK that carried them: the bytes it holds above the hole.

Three more graphs share the time axis (Wireshark's Statistics → TCP Stream Graphs):
throughput of each direction's payload, round-trip times as the capture point saw them
(to each side and back, from ACKs and from timestamp echoes, RFC 7323 §4), and the data
sender's bytes in flight under the receiver's advertised window.

A connection of any size makes a picture of bounded size: ordinary segments are merged
per pixel column (one stroke from the lowest to the highest byte sent in it, linked to
its first packet); marked ones are always drawn one by one; samples are thinned to the
lowest and highest of each pixel column.

The SVG carries its time scale (``data-x0``, ``data-x1``: the plot's left and right edges
in SVG units; ``data-t1``: seconds at the right edge), so that a range dragged across it
opens that part of the ladder (``/s/{id}/f/{flow}/time?t=``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

from app.decode.model.codes import Finding
from app.decode.model.i18n import N_, gettext

COLUMNS = (
    "row",
    "time",
    "dir",
    "length",
    "flags",
    "seq",
    "rel_seq",
    "rel_ack",
    "eff_win",
    "findings",
    "ack_rtt",
    "ts_rtt",
    "in_flight",
)
KINDS = ("tsg", "throughput", "rtt", "window")
W, H = 960, 420  # the plot area, in SVG units
LEFT, TOP, RIGHT, BOTTOM = 78, 46, 16, 44
SIDE_COLOURS = ("#2563eb", "#db2777")  # client, server
SACK_COLOUR = "#7c3aed"

# what a marked segment is, in the order a segment's colour is chosen by
MARKS: tuple[tuple[Finding, str, str], ...] = (
    (Finding.SPURIOUS_RETRANSMISSION, "#a855f7", N_("spurious retransmission")),
    (Finding.FAST_RETRANSMISSION, "#9f1239", N_("fast retransmission")),
    (Finding.RETRANSMISSION, "#dc2626", N_("retransmission")),
    (Finding.OUT_OF_ORDER, "#ea580c", N_("out of order")),
    (Finding.LOST_SEGMENT, "#0891b2", N_("previous segment not captured")),
    (Finding.ZERO_WINDOW_PROBE, "#ca8a04", N_("zero-window probe")),
    (Finding.KEEP_ALIVE, "#6b7280", N_("keep-alive")),
)


@cache
def graph_words(lang: str) -> dict[str, str]:
    """The words of the graphs in ``lang``."""
    return {
        "time": gettext(lang, "time since the first packet (s)"),
        "seq": gettext(lang, "relative sequence number ({who}'s bytes)"),
        "data": gettext(lang, "data segment"),
        "ack": gettext(lang, "ACKed by the {peer}"),
        "window": gettext(lang, "ACK + the {peer}'s advertised window"),
        "sack": gettext(lang, "SACK blocks from the {peer}"),
        "empty": gettext(lang, "No data segments in this connection: nothing to graph."),
        "client": gettext(lang, "client"),
        "server": gettext(lang, "server"),
        "title": gettext(lang, "Time-sequence graph of connection #{flow}"),
        "throughput_title": gettext(lang, "Throughput of connection #{flow}"),
        "throughput_axis": gettext(lang, "payload bits per second"),
        "c2s": gettext(lang, "client → server"),
        "s2c": gettext(lang, "server → client"),
        "rtt_title": gettext(
            lang, "Round-trip times of connection #{flow}, seen from the capture point"
        ),
        "rtt_axis": gettext(lang, "milliseconds"),
        "rtt_ack": gettext(lang, "to the {side} and back: data → its ACK"),
        "rtt_ts": gettext(lang, "to the {side} and back: TSval → its echo"),
        "rtt_empty": gettext(
            lang, "No round-trip samples: no ACK of captured data and no timestamp echo."
        ),
        "window_title": gettext(
            lang, "Bytes in flight and the receive window of connection #{flow}"
        ),
        "window_axis": gettext(lang, "bytes"),
        "in_flight": gettext(lang, "{who}'s bytes in flight (sent, not yet ACKed)"),
        "rwnd": gettext(lang, "{peer}'s advertised window"),
        "zero": gettext(lang, "zero window"),
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


@dataclass(slots=True)
class Frame:
    """What the four graphs of one connection share: its columns, time since its first
    packet, which side sent more data (the one graphed), and the time axis."""

    cols: dict[str, npt.NDArray[Any]]
    sid: str
    flow_id: int
    lang: str
    t: npt.NDArray[np.float64]  # seconds since the first packet; NaN unknown
    d: npt.NDArray[np.int64]
    length: npt.NDArray[np.int64]
    side: int  # the data sender graphed: 0 client, 1 server
    x: Scale

    @classmethod
    def of(cls, cols: dict[str, npt.NDArray[Any]], sid: str, flow_id: int, lang: str) -> Frame:
        t = cols["time"].astype(float)
        known = t[~np.isnan(t)]
        t0 = float(known.min()) if len(known) else 0.0
        d, length = cols["dir"].astype(np.int64), cols["length"].astype(np.int64)
        data = (length > 0) & (cols["rel_seq"] >= 0) & ~np.isnan(t)
        # graph the direction that sent more bytes (a download: the server)
        sent = [int(length[data & (d == k)].sum()) for k in (0, 1)]
        span = float(known.max()) - t0 if len(known) else 0.0
        x = Scale(0.0, span or 1e-6, LEFT, W - RIGHT)
        return cls(cols, sid, flow_id, lang, t - t0, d, length, int(sent[1] > sent[0]), x)

    @property
    def words(self) -> dict[str, str]:
        return graph_words(self.lang)

    def who(self, side: int) -> str:
        return self.words["server" if side else "client"]

    def head(self, kind: str, title: str) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
            f'class="graph {kind}" role="img" aria-label="{escape(title)}" '
            f'font-family="system-ui, sans-serif" font-size="11" data-x0="{LEFT}" '
            f'data-x1="{W - RIGHT}" data-t1="{self.x.hi:.9g}" data-flow="{self.flow_id}">'
            f"<title>{escape(title)}</title>"
        )

    def empty(self, kind: str, title: str, text: str) -> str:
        return (
            self.head(kind, title)
            + f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">{escape(text)}</text></svg>'
        )

    def link(self, i: int) -> str:
        return f"/s/{self.sid}/at/{int(self.cols['row'][i]) + 1}"


def render(kind: str, frame: Frame, sacks: Sacks | None = None) -> str:
    """Graph ``kind`` (one of ``KINDS``) of the connection as an SVG document."""
    if kind == "throughput":
        return throughput(frame)
    if kind == "rtt":
        return round_trips(frame)
    if kind == "window":
        return window(frame)
    return time_sequence(frame, sacks)


@dataclass(slots=True)
class Sacks:
    """The SACK blocks of a connection's packets: the packet's index in the connection and
    each block's edges as sequence numbers (RFC 2018 §3)."""

    at: npt.NDArray[np.int64]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]


def time_sequence(f: Frame, sacks: Sacks | None = None) -> str:
    """The time-sequence graph of one connection as an SVG document."""
    cols, t, d, side, words = f.cols, f.t, f.d, f.side, f.words
    title = words["title"].format(flow=f.flow_id)
    seg = (f.length > 0) & (cols["rel_seq"] >= 0) & ~np.isnan(t) & (d == side)
    if not seg.any():
        return f.empty("tsg", title, words["empty"])
    who, peer = ("server", "client") if side else ("client", "server")
    acks = (d != side) & (cols["rel_ack"] >= 0) & ~np.isnan(t)
    ok_win = acks & (cols["eff_win"] >= 0)  # ACKs whose window is known
    top = (cols["rel_seq"] + f.length)[seg]
    win_top = (cols["rel_ack"] + cols["eff_win"])[ok_win]
    y_hi = float(max(top.max(), win_top.max() if len(win_top) else 0, 1))
    y = Scale(0.0, y_hi, H - BOTTOM, TOP)
    out = [f.head("tsg", title), _axes(f.x, y, words["time"], words["seq"].format(who=words[who]))]
    out.append(_steps(f.x(t[acks]), y(cols["rel_ack"][acks]), "#16a34a", "ack"))
    out.append(
        _steps(
            f.x(t[ok_win]),
            y(cols["rel_ack"][ok_win] + cols["eff_win"][ok_win]),
            "#ca8a04",
            "window",
        )
    )
    # the sender's initial sequence number: its segments' seq less their relative seq
    first = int(np.flatnonzero(seg)[0])
    base = int(cols["seq"][first]) - int(cols["rel_seq"][first])
    drawn = _sack_blocks(f, sacks, base, y, y_hi) if sacks is not None else ""
    out.append(drawn)
    out.append(_segments(cols, seg, f.x(t), y, f.sid))
    items = [
        ("#1d4ed8", words["data"]),
        ("#16a34a", words["ack"].format(peer=words[peer])),
        ("#ca8a04", words["window"].format(peer=words[peer])),
    ]
    if drawn:
        items.append((SACK_COLOUR, words["sack"].format(peer=words[peer])))
    found = int(np.bitwise_or.reduce(cols["findings"][seg].astype(np.int64)))
    for finding, c, name in MARKS:
        if found >> finding.bit & 1:
            items.append((c, gettext(f.lang, name)))
    out.append(_legend(items, f.lang))
    out.append("</svg>")
    return "".join(out)


def _sack_blocks(f: Frame, sacks: Sacks, base: int, y: Scale, y_hi: float) -> str:
    """The receiver's SACK blocks, relative to the sender's ISN, at their ACK's time."""
    from_peer = (f.d[sacks.at] != f.side) & ~np.isnan(f.t[sacks.at])
    at = sacks.at[from_peer]
    lo = (sacks.left[from_peer] - base) % (1 << 32)
    hi = (sacks.right[from_peer] - base) % (1 << 32)
    ok = (lo < hi) & (hi <= y_hi * 1.05)  # a block from another sequence space is left out
    if not ok.any():
        return ""
    xs, y1, y2 = f.x(f.t[at[ok]]), y(lo[ok]), y(hi[ok])
    parts = [f'<g class="sack" stroke="{SACK_COLOUR}" stroke-width="2">']
    seen: set[tuple[int, int, int]] = set()
    for i, px, a, b in zip(at[ok].tolist(), xs.tolist(), y1.tolist(), y2.tolist(), strict=True):
        key = (round(px), round(a), round(b))
        if key in seen:  # the same block again in the same pixel column
            continue
        seen.add(key)
        parts.append(
            f'<a href="{f.link(i)}" target="_top"><line x1="{px + 1.5:.1f}" x2="{px + 1.5:.1f}" '
            f'y1="{a:.1f}" y2="{min(b, a - 1.5):.1f}"><title>SACK #{int(f.cols["row"][i]) + 1}'
            "</title></line></a>"
        )
    parts.append("</g>")
    return "".join(parts)


def throughput(f: Frame) -> str:
    """Each direction's payload bits per second, in bins of a few pixels' width."""
    words = f.words
    title = words["throughput_title"].format(flow=f.flow_id)
    ok = (f.length > 0) & ~np.isnan(f.t)
    if not ok.any():
        return f.empty("throughput", title, words["empty"])
    bins = 160
    width = f.x.hi / bins
    k = np.minimum((f.t[ok] / width).astype(np.int64), bins - 1)
    rates = [
        np.bincount(k[f.d[ok] == side], weights=f.length[ok][f.d[ok] == side], minlength=bins)
        * 8
        / width
        for side in (0, 1)
    ]
    y = Scale(0.0, float(max(r.max() for r in rates)) or 1.0, H - BOTTOM, TOP)
    edges = np.arange(bins + 1) * width
    out = [
        f.head("throughput", title),
        _axes(f.x, y, words["time"], words["throughput_axis"], _bits),
    ]
    items = []
    for side, name in ((0, "c2s"), (1, "s2c")):
        if rates[side].any():
            xs = f.x(np.repeat(edges, 2)[1:-1])
            ys = y(np.repeat(rates[side], 2))
            path = "M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
            out.append(
                f'<path class="rate {name}" d="{path}" fill="none" '
                f'stroke="{SIDE_COLOURS[side]}" stroke-width="1.4"/>'
            )
            items.append((SIDE_COLOURS[side], words[name]))
    out.append(_legend(items, f.lang))
    out.append("</svg>")
    return "".join(out)


def round_trips(f: Frame) -> str:
    """Round-trip samples from the capture point to each side and back: the time from a
    segment to the ACK that first covers it (a packet's ``ack_rtt``) and from a TSval to
    the packet echoing it (``ts_rtt``), each drawn at the answering packet."""
    words = f.words
    title = words["rtt_title"].format(flow=f.flow_id)
    series = []
    for name, shape in (("ack_rtt", "circle"), ("ts_rtt", "square")):
        v = f.cols[name].astype(float)
        for side in (0, 1):
            hit = np.flatnonzero(~np.isnan(v) & (f.d == side) & ~np.isnan(f.t))
            if len(hit):
                series.append((name, shape, side, hit, v[hit] * 1e3))
    if not series:
        return f.empty("rtt", title, words["rtt_empty"])
    y = Scale(0.0, max(float(s[4].max()) for s in series) * 1.05 or 1.0, H - BOTTOM, TOP)
    out = [f.head("rtt", title), _axes(f.x, y, words["time"], words["rtt_axis"], _ms)]
    items = []
    for name, shape, side, hit, ms in series:
        colour = SIDE_COLOURS[side]
        keep = _thin(f.x(f.t[hit]), ms)
        out.append(f'<g class="{name} side-{side}" fill="{colour}">')
        for i, v in zip(hit[keep].tolist(), ms[keep].tolist(), strict=True):
            px, py = float(f.x(f.t[i])), float(y(v))
            dot = (
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2">'
                if shape == "circle"
                else f'<rect x="{px - 2:.1f}" y="{py - 2:.1f}" width="4" height="4" fill="none" '
                f'stroke="{colour}">'
            )
            end = "</circle>" if shape == "circle" else "</rect>"
            n = int(f.cols["row"][i]) + 1
            out.append(
                f'<a href="{f.link(i)}" target="_top">{dot}<title>#{n}: {v:.3f} ms</title>{end}</a>'
            )
        out.append("</g>")
        label = words["rtt_ack" if name == "ack_rtt" else "rtt_ts"].format(side=f.who(side))
        items.append((colour, ("● " if shape == "circle" else "□ ") + label))
    out.append(_legend(items, f.lang))
    out.append("</svg>")
    return "".join(out)


def window(f: Frame) -> str:
    """The data sender's bytes in flight after each of its segments, under the receiver's
    advertised window (scaled, RFC 7323 §2.3); zero windows marked."""
    words, cols, side = f.words, f.cols, f.side
    title = words["window_title"].format(flow=f.flow_id)
    sent = (f.d == side) & (cols["in_flight"] >= 0) & ~np.isnan(f.t)
    wins = (f.d != side) & (cols["eff_win"] >= 0) & ~np.isnan(f.t)
    if not sent.any() and not wins.any():
        return f.empty("window", title, words["empty"])
    top = max(
        float(cols["in_flight"][sent].max()) if sent.any() else 0.0,
        float(cols["eff_win"][wins].max()) if wins.any() else 0.0,
        1.0,
    )
    y = Scale(0.0, top * 1.05, H - BOTTOM, TOP)
    out = [f.head("window", title), _axes(f.x, y, words["time"], words["window_axis"])]
    out.append(_steps(f.x(f.t[wins]), y(cols["eff_win"][wins]), "#ca8a04", "rwnd"))
    out.append(_steps(f.x(f.t[sent]), y(cols["in_flight"][sent]), "#1d4ed8", "in-flight"))
    zero = np.flatnonzero(
        wins & (((cols["findings"].astype(np.int64)) >> Finding.ZERO_WINDOW.bit) & 1 > 0)
    )
    out.append('<g class="zero" fill="#dc2626">')
    for i in zero[:2000].tolist():
        out.append(
            f'<a href="{f.link(i)}" target="_top"><circle cx="{float(f.x(f.t[i])):.1f}" '
            f'cy="{H - BOTTOM}" r="3"><title>#{int(cols["row"][i]) + 1}</title></circle></a>'
        )
    out.append("</g>")
    items = [
        ("#1d4ed8", words["in_flight"].format(who=f.who(side))),
        ("#ca8a04", words["rwnd"].format(peer=f.who(1 - side))),
    ]
    if len(zero):
        items.append(("#dc2626", words["zero"]))
    out.append(_legend(items, f.lang))
    out.append("</svg>")
    return "".join(out)


def _thin(xs: Any, v: Any) -> npt.NDArray[np.int64]:
    """Indices of the samples to draw: the lowest and highest of each pixel column."""
    col = np.floor(np.asarray(xs)).astype(np.int64)
    order = np.lexsort((v, col))
    c = col[order]
    first = np.r_[True, c[1:] != c[:-1]]
    last = np.r_[c[1:] != c[:-1], True]
    keep: npt.NDArray[np.int64] = np.unique(order[first | last])
    return keep


def _bits(v: float) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(v) >= size:
            return f"{v / size:.3g} {unit}b/s"
    return f"{v:.0f} b/s"


def _ms(v: float) -> str:
    return f"{v:.3g}"


def _axes(
    x: Scale, y: Scale, x_label: str, y_label: str, fmt: Callable[[float], str] | None = None
) -> str:
    fmt = fmt or _bytes
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
            f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{fmt(v)}</text>'
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
    for finding, c, _name in reversed(MARKS):  # the first in MARKS wins
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


def _legend(items: list[tuple[str, str]], lang: str) -> str:
    """What the colours mean."""
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
