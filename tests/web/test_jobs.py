"""Analysis off the request path: 202 and progress while it runs, the error when it fails,
expiry chosen at upload, the owner's title and note, the queue in /healthz."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from app.web.app import create_app
from app.web.settings import Settings
from tests.conftest import load
from tests.web.test_api import csrf


@pytest.fixture
def slow(settings: Settings) -> Iterator[TestClient]:
    """A server that answers every upload at once (no grace period)."""
    app = create_app(replace(settings, grace=0))
    with TestClient(app) as c:
        yield c
    app.state.store.close()


def _wait(client: TestClient, sid: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get(f"/api/sessions/{sid}/status").json()
        if body["status"] != "processing":
            return body
        time.sleep(0.05)
    raise AssertionError("the analysis never finished")


def test_an_upload_is_answered_at_once_and_finishes_in_the_background(
    slow: TestClient,
) -> None:
    r = slow.post("/api/sessions", files={"file": ("a.pcap", load("http-like.pcap"))})
    assert r.status_code == 202, r.text
    body = r.json()
    assert (
        body["status"] == "processing"
        and body["owner_token"]
        and body["url"].endswith(f"/s/{body['id']}")
    )
    assert set(body["progress"]) == {"stage", "done", "total"}
    assert _wait(slow, body["id"])["status"] == "ready"
    doc = slow.get(f"/api/sessions/{body['id']}")
    assert doc.status_code == 200 and doc.json()["flows"][0]["ended_by"] == "three_way_close"


def test_while_processing_the_api_says_202_and_the_page_shows_progress(
    client: TestClient,
) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    rec = store.submit(load("http-like.pcap"), title="big one", owner_token="o")  # no job
    r = client.get(f"/api/sessions/{rec.id}")
    assert r.status_code == 202 and r.headers["retry-after"] == "1"
    assert r.json()["status"] == "processing" and r.json()["progress"]["stage"] == "queued"
    part = client.get(f"/api/sessions/{rec.id}/flows/1")
    assert part.status_code == 409 and part.json()["error"]["code"] == "session.processing"
    page = client.get(f"/s/{rec.id}")
    assert page.status_code == 200 and 'id="job-progress"' in page.text
    assert f'hx-get="/s/{rec.id}/progress"' in page.text and "<progress" in page.text
    assert "noindex" in page.headers["x-robots-tag"]
    assert client.get(f"/s/{rec.id}/progress").status_code == 200
    store.process(rec.id)
    done = client.get(f"/s/{rec.id}/progress")
    assert done.status_code == 204 and done.headers["hx-redirect"] == f"/s/{rec.id}"
    assert 'class="row pkt' in client.get(f"/s/{rec.id}").text


def test_a_failure_after_the_answer_is_kept_with_its_error(slow: TestClient) -> None:
    r = slow.post("/api/sessions", data={"text": "not tcpdump at all\n"})
    if r.status_code == 400:  # finished before the answer: the error, nothing kept
        assert r.json()["error"]["code"] == "trace.no_packets"
        return
    assert r.status_code == 202
    sid = r.json()["id"]
    status = _wait(slow, sid)
    assert status["status"] == "failed"
    assert status["error"]["code"] == "trace.no_packets"  # type: ignore[index]
    got = slow.get(f"/api/sessions/{sid}")
    assert got.status_code == 400 and got.json()["error"]["code"] == "trace.no_packets"
    page = slow.get(f"/s/{sid}")
    assert page.status_code == 400 and "no tcpdump packet line" in page.text


def test_a_failed_job_is_shown_with_its_error(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    rec = store.submit(b"hello, no packets here\n", title="t", owner_token="o")
    assert store.process(rec.id) == "failed"
    got = client.get(f"/api/sessions/{rec.id}")
    assert got.status_code == 400 and got.json() == {
        "error": {
            "code": "trace.no_packets",
            "message": store.get(rec.id).error["message"],
            **(
                {"hint": store.get(rec.id).error["hint"]}
                if store.get(rec.id).error.get("hint")
                else {}
            ),
        }
    }
    assert store.input(rec.id) == b""  # a failed session keeps no input


def test_expiry_chosen_at_upload(client: TestClient) -> None:
    day = client.post("/api/sessions?expires_in=86400", content=load("seed000_ipv6_vvv.txt"))
    assert day.status_code == 201
    assert abs(day.json()["expires_at"] - (time.time() + 86400)) < 60
    never = client.post("/api/sessions", data={"text": load("seed000_ipv6_vvv.txt").decode(),
                                               "expires_in": "0"})  # fmt: skip
    assert never.json()["expires_at"] is None
    default = client.post("/api/sessions", content=load("seed000_ipv6_vvv.txt"))
    assert abs(default.json()["expires_at"] - (time.time() + 30 * 86400)) < 60
    bad = client.post("/api/sessions?expires_in=soon", content=b"x")
    assert bad.status_code == 422 and "expires_in" in bad.json()["error"]["message"]
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.purge_expired(now=time.time() + 2 * 86400) == 1
    gone = client.get(f"/api/sessions/{day.json()['id']}")
    assert gone.status_code == 404
    with store.engine.connect() as conn:
        left = conn.exec_driver_sql(
            "select count(*) from chunks where session_id = ?", (day.json()["id"],)
        ).scalar()
    assert left == 0  # deleted, input and analysis, not hidden
    assert client.get(f"/api/sessions/{never.json()['id']}").status_code == 200


def test_an_expired_session_is_gone_before_the_sweep(client: TestClient) -> None:
    r = client.post("/api/sessions?expires_in=1", content=load("seed000_ipv6_vvv.txt"))
    assert r.status_code == 201
    time.sleep(1.1)
    assert client.get(f"/s/{r.json()['id']}").status_code == 404


def test_the_server_maximum_expiry(settings: Settings) -> None:
    app = create_app(replace(settings, max_expiry=7 * 86400, default_expiry=86400))
    with TestClient(app) as client:
        never = client.post("/api/sessions?expires_in=0", content=load("seed000_ipv6_vvv.txt"))
        assert never.status_code == 422 and "TCPLADDER_MAX_EXPIRY" in never.text
        home = client.get("/").text
        assert '<option value="86400" selected>' in home
        assert 'value="0"' not in home.split('id="expires_in"')[1].split("</select>")[0]
    app.state.store.close()


def test_the_owner_sets_title_and_note(client: TestClient) -> None:
    r = client.post("/api/sessions", content=load("seed000_ipv6_vvv.txt"))
    sid, token = r.json()["id"], r.json()["owner_token"]
    body = {"title": "IPv6 handshake", "note": "from the lesson on <b>options</b>"}
    assert client.patch(f"/api/sessions/{sid}", json=body).status_code == 403
    ok = client.patch(f"/api/sessions/{sid}", json=body, headers={"X-Owner-Token": token})
    assert ok.status_code == 200 and ok.json()["title"] == "IPv6 handshake"
    page = client.get(f"/s/{sid}").text
    assert "IPv6 handshake" in page and "&lt;b&gt;options&lt;/b&gt;" in page
    bad = client.patch(f"/api/sessions/{sid}", content=b"[", headers={"X-Owner-Token": token})
    assert bad.status_code == 400 and "body" in bad.json()["error"]["message"]
    long = client.patch(
        f"/api/sessions/{sid}", json={"title": "x" * 201}, headers={"X-Owner-Token": token}
    )
    assert long.status_code == 400 and "title" in long.json()["error"]["message"]


def test_the_owner_edits_the_note_from_the_page(client: TestClient) -> None:
    token = csrf(client)
    r = client.post("/sessions", data={"text": load("seed000_ipv6_vvv.txt").decode(),
                                       "csrf": token}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    url = r.headers["location"]
    edit = client.post(f"{url}/edit", data={"title": "mine", "note": "a note", "csrf": token},
                       follow_redirects=False)  # fmt: skip
    assert edit.status_code == 303
    page = client.get(url).text
    assert "mine" in page and "a note" in page


def test_the_form_offers_expiry_and_privacy(client: TestClient) -> None:
    home = client.get("/").text
    for field in ('name="expires_in"', 'name="anonymise"', 'name="keep_input"'):
        assert field in home
    token = csrf(client)
    r = client.post("/sessions", data={"text": load("seed000_ipv6_vvv.txt").decode(),
                                       "csrf": token, "keep_input": "0", "expires_in": "86400"},
                    follow_redirects=False)  # fmt: skip
    sid = r.headers["location"].rsplit("/", 1)[1]
    status = client.get(f"/api/sessions/{sid}/status").json()
    assert status["options"]["keep_input"] is False and status["expires_at"] is not None
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.input(sid) == b""
    assert client.get(f"/s/{sid}/p/1").status_code == 200  # detail from the columns alone


def test_healthz_reports_the_queue(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    store.submit(load("http-like.pcap"), title="waiting", owner_token="o")
    body = client.get("/healthz").json()
    assert body["queue"] == {"kind": "local", "depth": 1, "orphaned": 1}
