"""A page answers at once while a big capture is being analysed (a real server, its
analysis in a worker process)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from tests.server import big_capture, free_port, post_raw, serve


def test_pages_answer_while_a_big_capture_is_analysed(tmp_path: Path) -> None:
    big = big_capture(tmp_path / "big.pcap", 80000)
    port = free_port()
    env = {"TCPLADDER_GRACE": "0", "TCPLADDER_MAX_INPUT": str(64 << 20)}
    proc = serve(port, data=tmp_path / "data", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _, made = post_raw(f"{base}/api/sessions", big.read_bytes())
        sid = made["id"]
        seen = 0
        slowest = 0.0
        while True:
            with urllib.request.urlopen(f"{base}/api/sessions/{sid}/status", timeout=30) as r:
                status = json.loads(r.read())["status"]
            if status != "processing":
                break
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"{base}/", timeout=30) as r:
                assert r.status == 200
            slowest = max(slowest, time.perf_counter() - t0)
            seen += 1
        assert status == "ready" and seen >= 3, (status, seen)
        assert slowest < 1.0, f"the home page took {slowest:.2f} s during the analysis"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
