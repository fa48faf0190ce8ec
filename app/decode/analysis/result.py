"""A trace and its connections, analysed: the result every output is made from."""

from __future__ import annotations

from app.decode.analysis.flows import Flow, FlowTable
from app.decode.model.memory import trim_heap
from app.decode.model.trace import Trace


class Analysis:
    """A trace and its connections; a connection's objects are made when first asked for."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.table = FlowTable.analyse(trace.table)
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


def analyse(trace: Trace) -> Analysis:
    return Analysis(trace)
