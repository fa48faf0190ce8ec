"""The conversations table on the session page: sorted, filtered and paged by the server,
as a whole page or as the htmx fragment, the same for sessions stored before it existed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from app.store.schema import chunk_table
from tests.synthetic import many_connections


@pytest.fixture
def sid(client: TestClient, tmp_path: Path) -> str:
    path = tmp_path / "many.pcap"
    many_connections(path, 250)
    r = client.post(
        "/api/sessions",
        content=path.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _rows(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-flow="(\d+)"', html)]


def test_sorted_filtered_and_paged(client: TestClient, sid: str) -> None:
    flows = client.get(f"/api/sessions/{sid}").json()["flows"]
    by_sent = sorted(flows, key=lambda f: (-f["sides"]["client"]["bytes"], f["id"]))
    page = client.get(f"/s/{sid}?sort=sent&desc=1").text
    assert _rows(page) == [f["id"] for f in by_sent[:100]]
    assert 'aria-sort="descending"' in page
    second = client.get(f"/s/{sid}?sort=sent&desc=1&cp=1").text
    assert _rows(second) == [f["id"] for f in by_sent[100:200]]
    assert "101–200 of 253" in second
    rej = _rows(client.get(f"/s/{sid}?state=REJ").text)
    assert rej == [f["id"] for f in flows if f["state"] == "REJ"]
    web = _rows(client.get(f"/s/{sid}?q=:443&finding=tcp.retransmission").text)
    assert web == [
        f["id"]
        for f in flows
        if f["server"].endswith(":443") and "tcp.retransmission" in f["findings"]
    ]
    assert _rows(client.get(f"/s/{sid}?q=192.168.77.77").text) == []
    reused = client.get(f"/s/{sid}?reused=1").text
    assert len(_rows(reused)) == 6 and reused.count('class="reuse"') == 6


def test_the_fragment_for_htmx(client: TestClient, sid: str) -> None:
    headers = {"HX-Request": "true", "HX-Target": "conversations"}
    part = client.get(f"/s/{sid}/f/3?sort=packets&desc=1", headers=headers).text
    assert part.lstrip().startswith('<section id="conversations"')
    assert "<html" not in part and 'class="ladder"' not in part
    # links keep the connection on show and the table's order
    assert 'href="/s/' + sid + '/f/3?sort=packets&amp;desc=1&amp;cp=1"' in part
    assert re.search(r'<tr data-flow="3" aria-current="true"', part)
    # and the flow fragment is still the flow fragment
    flow = client.get(f"/s/{sid}/f/3", headers={"HX-Request": "true", "HX-Target": "flow"})
    assert 'class="ladder"' in flow.text and "conversations" not in flow.text


def test_capture_wide_findings(client: TestClient, sid: str) -> None:
    page = client.get(f"/s/{sid}").text
    assert "Findings in the whole capture" in page
    assert re.search(
        r"Retransmission</a> <code>tcp.retransmission</code></th>\s*<td>63</td><td>63</td>", page
    )
    r = client.get(f"/s/{sid}/find?code=tcp.retransmission", follow_redirects=False)
    assert r.status_code == 303
    m = re.fullmatch(rf"/s/{sid}/f/(\d+)#p(\d+)", r.headers["location"])
    assert m, r.headers["location"]
    detail = client.get(f"/api/sessions/{sid}/flows/{m[1]}/packets").json()
    hit = next(p for p in detail["packets"] if p["n"] == int(m[2]))
    assert "tcp.retransmission" in hit["findings"]
    assert client.get(f"/s/{sid}/find?code=tcp.zero_window").status_code == 404


def test_a_session_stored_before_the_table(client: TestClient, sid: str) -> None:
    """Without its ``c`` chunk, the table is made from the summaries: the same rows."""
    want = client.get(f"/s/{sid}?sort=packets&desc=1&q=10.0.0").text
    store = client.app.state.store  # type: ignore[attr-defined]
    with store.engine.begin() as conn:
        conn.execute(
            delete(chunk_table).where(chunk_table.c.session_id == sid, chunk_table.c.kind == "c")
        )
    store._tables.clear()
    client.app.state.page_cache.drop(sid)  # type: ignore[attr-defined]
    got = client.get(f"/s/{sid}?sort=packets&desc=1&q=10.0.0").text
    assert _rows(got) == _rows(want) and len(_rows(got)) == 100
    assert got.count("Retransmission") == want.count("Retransmission")
