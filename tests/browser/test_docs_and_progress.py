"""In Chromium: the API docs at /docs load only from this origin and break no CSP rule; a
big upload's page shows its analysis progress and opens the result when it is ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server import big_capture, free_port, post_raw, serve

pytestmark = pytest.mark.browser


def test_api_docs_from_our_own_origin(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/sessions" in paths and "/api/sessions/{sid}/status" in paths
    assert not any(p.startswith("/s/") for p in paths)  # pages are not the API
    assert all(u.startswith(server) or u.startswith("data:") for u in requested), requested
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.close()


def test_the_processing_page_follows_the_job(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = big_capture(tmp_path / "big.pcap", 40000)
    port = free_port()
    env = {"TCPLADDER_GRACE": "0", "TCPLADDER_MAX_INPUT": str(64 << 20)}
    proc = serve(port, data=tmp_path / "data", env=env)
    try:
        code, made = post_raw(f"http://127.0.0.1:{port}/api/sessions", big.read_bytes())
        assert code == 202
        sid = made["id"]
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/s/{sid}")
        assert page.locator("#job-progress progress").count() == 1  # the progress first
        page.wait_for_selector(".row.pkt", timeout=60_000)  # then the ladder, by itself
        assert page.url.endswith(f"/s/{sid}")
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
