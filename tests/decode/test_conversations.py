"""The conversations table: its columns agree with the connection summaries, and sorting,
filtering, port reuse and paging do what the table's controls promise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.decode import Analysis, analyse, read_path
from app.decode.analysis.conversations import (
    PAGE,
    Conversations,
    Query,
    columns_from_summaries,
    conversation_columns,
)
from app.decode.analysis.facts import connection_facts
from tests.conftest import to_json
from tests.synthetic import many_connections


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysis, list[str]]:
    path = tmp_path_factory.mktemp("conv") / "many.pcap"
    states = many_connections(path, 250)
    return analyse(read_path(str(path))), states


def _table(analysis: Analysis) -> Conversations:
    ft = analysis.table
    cols, totals = conversation_columns(ft, connection_facts(ft))
    return Conversations(cols, ft.table.hosts, ft.table.port_names, totals)


def test_the_columns_are_the_summaries(made: tuple[Analysis, list[str]]) -> None:
    """Made from the flow table, or from the JSON summaries (a session stored before the
    table existed): the same table, and the same as what the JSON says."""
    analysis, states = made
    table = _table(analysis)
    flows = to_json(analysis, summary=True)["flows"]
    old, old_totals = columns_from_summaries(flows, analysis.table.table.hosts)
    assert old_totals == table.totals
    for name, col in table.cols.items():
        if name in ("start", "end", "rtt"):
            np.testing.assert_allclose(old[name], col, rtol=1e-9, atol=1e-6, equal_nan=True)
        else:
            np.testing.assert_array_equal(old[name], col, err_msg=name)
    assert table.count == 253
    for i, f in enumerate(flows):
        row = table.row(i)
        assert (row["client"], row["server"], row["state"]) == (
            f["client"],
            f["server"],
            f["state"],
        )
        assert (row["sent"], row["received"]) == (
            f["sides"]["client"]["bytes"],
            f["sides"]["server"]["bytes"],
        )
        assert sorted(row["findings"]) == sorted(f["findings"])
    assert sorted(states) == sorted(table.row(i)["state"] for i in range(table.count))
    assert table.totals["tcp.retransmission"] == [63, 63]
    assert table.totals["tcp.reset"][1] == 62


def test_sorting_is_stable_and_puts_unknown_last(made: tuple[Analysis, list[str]]) -> None:
    table = _table(made[0])
    for sort in ("packets", "sent", "start", "duration", "rtt", "client", "findings"):
        for desc in (False, True):
            rows = table.page(Query(sort=sort, desc=desc)).rows
            key = table.key(sort)[rows]
            known = key[~np.isnan(key)] if key.dtype.kind == "f" else key
            steps = np.diff(known)
            assert (steps <= 0).all() if desc else (steps >= 0).all(), (sort, desc)
            if key.dtype.kind == "f" and np.isnan(key).any():
                assert np.isnan(key[-1])  # unknown RTTs (no handshake) come last
    # ties keep connection order
    rows = table.page(Query(sort="state")).rows
    states = table.cols["state"][rows]
    for s in np.unique(states):
        same = rows[states == s]
        assert (np.diff(same) > 0).all()


def test_filters(made: tuple[Analysis, list[str]]) -> None:
    table = _table(made[0])

    def ids(**kw: object) -> list[int]:
        return [int(i) + 1 for i in np.flatnonzero(table.match(Query(**kw).normal()))]  # type: ignore[arg-type]

    exact = ids(q="10.0.0.5:40004")
    assert len(exact) == 2  # the connection, and the later one on the same ports
    assert {table.row(i - 1)["client"] for i in exact} == {"10.0.0.5:40004"}
    assert {table.row(i - 1)["client"] for i in ids(q="10.0.0.5")} == {
        "10.0.0.5:40004",
        "10.0.0.50:40049",
        "10.0.0.51:40050",
        "10.0.0.52:40051",
        "10.0.0.53:40052",
        "10.0.0.54:40053",
        "10.0.0.55:40054",
        "10.0.0.56:40055",
        "10.0.0.57:40056",
        "10.0.0.58:40057",
        "10.0.0.59:40058",
    }
    port = ids(q="6379")
    assert port == ids(q=":6379") and len(port) == 83
    assert all(table.row(i - 1)["server"].endswith(":6379") for i in port)
    assert ids(q="10.9.0.1:443") == ids(q="443")
    assert ids(q="nothing-like-it") == []
    assert len(ids(state="REJ")) == 62
    assert ids(state="bogus") == list(range(1, 254))  # an unknown value filters nothing
    retrans = ids(finding="tcp.retransmission")
    assert len(retrans) == 63 and all(table.row(i - 1)["warns"] for i in retrans)
    reused = ids(reused=True)
    assert len(reused) == 6
    marks = sorted(table.row(i - 1)["reuse"] for i in reused)
    assert marks == [(1, 2)] * 3 + [(2, 2)] * 3
    both = ids(state="SF", q="443")
    assert both and set(both) <= set(ids(state="SF")) & set(ids(q="443"))


def test_pages(made: tuple[Analysis, list[str]]) -> None:
    table = _table(made[0])
    seen: list[int] = []
    for k in range(3):
        page = table.page(Query(sort="sent", desc=True, page=k))
        assert page.pages == 3 and page.matched == 253
        seen += page.rows.tolist()
    assert len(seen) == 253 == len(set(seen))
    assert len(table.page(Query(page=0)).rows) == PAGE
    assert table.page(Query(page=99)).page == 2  # past the end: the last page


def test_port_reuse_in_a_recorded_capture() -> None:
    path = Path(__file__).parents[1] / "fixtures/captures/impaired/port-reuse.pcap"
    table = _table(analyse(read_path(str(path))))
    assert [table.row(i)["reuse"] for i in range(table.count)] == [(1, 2), (2, 2)]


def test_a_duration_just_under_a_millisecond_reads_as_one() -> None:
    """Seen on this table's synthetic capture: "the server 1000 µs" beside "1.00 ms"."""
    from app.decode.explain.fields import _ms
    from app.decode.explain.narrative import ms

    assert ms(0.0009999996) == "1.00 ms" and ms(0.000999) == "999 µs"
    assert _ms(0.0009999996) == "1.000 ms" and _ms(0.0000004) == "0 µs"
