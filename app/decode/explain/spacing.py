"""Time on a ladder: how much room the silence before each packet gets.

The space above a packet grows with the time since the packet before (a step of a log
scale relative to the window's typical gap), and a silence long enough to matter becomes a
mark of its own ("… 10.0 s idle …"). The page and the exported diagrams space their rows
by the same rule.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

GAPS = 6  # spacing steps: 0 (back to back) … 6
IDLE = 0.2  # seconds: a silence at least this long (and long for its window) gets a mark


@dataclass(frozen=True, slots=True)
class Gap:
    """The silence before one packet: seconds (None: a time is unknown), its spacing step,
    and whether it is shown as an idle mark."""

    seconds: float | None
    step: int
    idle: bool


def fmt_offset(seconds: float | None) -> str:
    """A packet's time since the connection's first packet: ``+0.001000``."""
    return "?" if seconds is None else f"+{seconds:.6f}"


def fmt_duration(seconds: float) -> str:
    """A short human duration: 850 µs, 12.3 ms, 1.69 s, 2 min 5 s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 120:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f} min {rest:.0f} s"


def _step(gap: float | None, unit: float) -> int:
    """The spacing step for ``gap``: 0 up to twice the window's typical gap, then one more
    step for each factor of four, at most ``GAPS``."""
    if gap is None or gap <= 2 * unit:
        return 0
    return min(GAPS, 1 + int(math.log(gap / (2 * unit), 4)))


def gaps(times: list[float | None], before: float | None = None) -> list[Gap]:
    """The silence before each packet at ``times`` (the first one's: since ``before``)."""
    seconds: list[float | None] = []
    last = before
    for t in times:
        seconds.append(None if t is None or last is None else max(t - last, 0.0))
        last = t if t is not None else last
    known = [g for g in seconds if g]
    unit = max(statistics.median(known) if known else 0.0, 1e-4)
    out = []
    for g in seconds:
        step = _step(g, unit)
        out.append(Gap(g, step, g is not None and g >= IDLE and step >= 3))
    return out


__all__ = ["GAPS", "IDLE", "Gap", "fmt_duration", "fmt_offset", "gaps"]
