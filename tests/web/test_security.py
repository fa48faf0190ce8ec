"""Headers, CSRF and Host: what a public upload form needs against other sites."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import load
from tests.web.test_api import _create, csrf


def test_every_response_has_the_security_headers(client: TestClient) -> None:
    sid = _create(client, "seed001_pktap_long_flags.txt")["id"]
    for path in ("/", f"/s/{sid}", f"/api/sessions/{sid}", "/static/style.css", "/nothing"):
        h = client.get(path).headers
        csp = h["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "unsafe" not in csp
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
    for path in (f"/s/{sid}", f"/s/{sid}/f/1", f"/api/sessions/{sid}"):
        h = client.get(path).headers
        assert h["cache-control"] == "private, no-store"
        assert h["x-robots-tag"] == "noindex"
    assert "private" not in client.get("/").headers.get("cache-control", "")


def _form(token: str | None) -> dict[str, tuple[None, str | bytes]]:
    files: dict[str, tuple[None, str | bytes]] = {
        "text": (None, load("seed001_pktap_long_flags.txt"))
    }
    if token is not None:
        files["csrf"] = (None, token)
    return files


def test_forms_need_this_origin_and_the_token(client: TestClient) -> None:
    token = csrf(client)
    ok = client.post("/sessions", files=_form(token), follow_redirects=False)
    assert ok.status_code == 303
    assert client.post("/sessions", files=_form(None)).status_code == 403
    assert client.post("/sessions", files=_form("forged")).status_code == 403
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        r = client.post("/sessions", files=_form(token), headers=headers)
        assert r.status_code == 403, headers
        assert "another" in r.text
    same = client.post(
        "/sessions",
        files=_form(token),
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert same.status_code == 303


def test_owner_cookie_is_strict_and_the_api_ignores_it(client: TestClient) -> None:
    token = csrf(client)
    r = client.post("/sessions", files=_form(token), follow_redirects=False)
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "tl_owner" in v)
    assert "samesite=strict" in cookie.lower() and "httponly" in cookie.lower()
    sid = r.headers["location"].rsplit("/", 1)[1]
    assert client.delete(f"/api/sessions/{sid}").status_code == 403  # the cookie is not enough


def test_the_host_header_is_never_echoed(client: TestClient) -> None:
    evil = {"Host": "evil.example"}
    body = client.post(
        "/api/sessions", data={"text": load("seed001_pktap_long_flags.txt").decode()}, headers=evil
    ).json()
    assert body["url"] == f"/s/{body['id']}"
    page = client.get(f"/s/{body['id']}", headers=evil).text
    assert "evil.example" not in page
    token = csrf(client)
    r = client.post("/sessions", files=_form(token), headers=evil, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/s/")


def test_creating_sessions_is_rate_limited_per_client(tmp_path: Path) -> None:
    from app.web.app import create_app
    from app.web.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "data", rate_limit="2/minute"))
    with TestClient(app) as client:
        text = {"text": load("seed001_pktap_long_flags.txt").decode()}
        assert client.post("/api/sessions", data=text).status_code == 201
        assert client.post("/api/sessions", data=text).status_code == 201
        r = client.post("/api/sessions", data=text)
        assert r.status_code == 429 and r.json()["error"]["code"] == "trace.rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "TCPLADDER_RATE_LIMIT" in r.json()["error"]["message"]
        assert client.get("/").status_code == 200  # reading is not limited
    app.state.store.close()
