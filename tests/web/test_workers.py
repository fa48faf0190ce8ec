"""The server as it runs by default: uploads decoded in a worker process."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from app.web.app import create_app
from app.web.settings import Settings
from tests.conftest import load


def test_uploads_and_their_errors_through_a_worker_process(settings: Settings) -> None:
    app = create_app(replace(settings, workers=1))
    with TestClient(app) as client:
        r = client.post("/api/sessions", files={"file": ("a.pcap", load("http-like.pcap"))})
        assert r.status_code == 201, r.text
        assert client.get(f"/s/{r.json()['id']}").status_code == 200
        bad = client.post("/api/sessions", data={"text": "not tcpdump at all\n"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "trace.no_packets"
        assert app.state.analysts._pool is not None  # it did go through the pool
    assert app.state.analysts._pool is None  # closed with the app
    app.state.store.close()
