"""A trace and its connections, analysed: the result every output is made from."""

from __future__ import annotations

import numpy as np

from app.decode.analysis.flows import Flow, FlowTable
from app.decode.model.memory import trim_heap
from app.decode.model.packet import Notice
from app.decode.model.trace import Trace


class Analysis:
    """A trace and its connections; a connection's objects are made when first asked for."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.table = FlowTable.analyse(trace.table)
        _clock_warning(trace)
        trim_heap()
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


def _clock_warning(trace: Trace) -> None:
    """Say so when the capture's clock goes backwards: RTT samples across such a step are
    dropped (a negative round trip measures nothing)."""
    t = trace.table.cols["time"]
    if len(t) < 2 or trace.kind == "text":  # the text parser says so itself, by line
        return
    step = np.diff(t)
    back = np.flatnonzero(step < 0)
    if not len(back):
        return
    frames = trace.table.cols["frame"]
    first = int(frames[back[0] + 1]) if frames[back[0] + 1] >= 0 else int(back[0]) + 2
    trace.warnings.append(
        Notice(
            None,
            f"the capture's clock goes backwards {len(back):,} time{'s' * (len(back) != 1)} "
            f"(first at packet {first:,}, by {-float(step[back[0]]) * 1000:.3f} ms): RTT "
            "samples across such a step are left out",
        )
    )


def analyse(trace: Trace) -> Analysis:
    return Analysis(trace)
