"""``scripts/bench ladder``: how fast a big connection's ladder opens and scrolls.

A 100,000-packet download (benchmarks/gencap.py ``--one-flow``) and the 1,926-packet lossy
download recorded in tests/fixtures are uploaded to a real server. Then:

- the server's time for one window of rows (400 packets) at the start, the middle and the
  end of the connection: the whole flow page and the ``rows`` fragment that scrolling
  loads, rendered fresh each time (the owner's cookie bypasses the page cache), median of
  five;
- the reference: ``tshark -r FILE -Y 'frame.number in {a..b}'`` printing the same 400
  packets, and the ratio of the two;
- in Chromium (when Playwright and /usr/bin/chromium are there): the flow page from
  navigation to the load event, its DOM size, and the time from scrolling to the end of
  the rows until the next window is in the page.

The goals (issue 13): a window in under 100 ms on the server, the page open in under 1.5 s.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "fixtures" / "captures" / "impaired" / "lossy-at-client.pcap"
CHROMIUM = os.environ.get("TCPLADDER_CHROMIUM", "/usr/bin/chromium")


def _timed(url: str, token: str) -> float:
    req = urllib.request.Request(url, headers={"Cookie": f"tl_owner={token}"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return time.perf_counter() - t0


def _server_windows(base: str, sid: str, token: str, count: int) -> dict[str, float]:
    out: dict[str, float] = {}
    page = 400
    for name, start in (
        ("start", 0),
        ("middle", count // 2 // page * page),
        ("end", max(count - page, 0) // page * page),
    ):
        flow = f"{base}/s/{sid}/f/1?from={start}" if start else f"{base}/s/{sid}/f/1"
        rows = f"{base}/s/{sid}/f/1/rows?from={start}"
        out[f"flow_page_{name}_ms"] = round(
            statistics.median(_timed(flow, token) for _ in range(5)) * 1e3, 1
        )
        out[f"rows_{name}_ms"] = round(
            statistics.median(_timed(rows, token) for _ in range(5)) * 1e3, 1
        )
    return out


def _tshark_window(pcap: Path, count: int) -> float:
    a = count // 2 // 400 * 400 + 1
    cmd = ["tshark", "-r", str(pcap), "-Y", f"frame.number >= {a} && frame.number < {a + 400}"]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _browser(base: str, sid: str) -> dict[str, Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"browser": "skipped: playwright is not installed (pip install -e '.[test]')"}
    if not shutil.which(CHROMIUM):
        return {"browser": f"skipped: {CHROMIUM} is not installed"}
    out: dict[str, Any] = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        loads = []
        for _ in range(3):
            page = b.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/s/{sid}/f/1", wait_until="load")
            timing = page.evaluate(
                "() => { const t = performance.getEntriesByType('navigation')[0];"
                " return [t.loadEventEnd, document.getElementsByTagName('*').length,"
                " t.transferSize, t.decodedBodySize]; }"
            )
            loads.append(timing)
            start = time.perf_counter()
            page.locator(".ladder .row.load.later").scroll_into_view_if_needed()
            page.locator(".ladder .row.pkt").nth(799).wait_for(state="attached")
            out.setdefault("scroll_next_window_ms", []).append((time.perf_counter() - start) * 1e3)
            page.close()
        b.close()
    out["page_load_ms"] = round(statistics.median(x[0] for x in loads))
    out["dom_elements"] = loads[0][1]
    out["page_transfer_kb"] = round(loads[0][2] / 1024)
    out["page_html_kb"] = round(loads[0][3] / 1024)
    out["scroll_next_window_ms"] = round(statistics.median(out["scroll_next_window_ms"]))
    return out


def bench_ladder(packets: int, workdir: Path, keep: bool) -> int:
    from benchmarks.bench import _free_port, _generate, _rss_of, missing, start_server, upload

    if missing("tshark"):
        return 2
    pcap = workdir / f"bulk-{packets}.pcap"
    _generate(pcap, packets, snaplen=128, one_flow=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(
        port,
        {
            "TCPLADDER_DATA_DIR": str(workdir / f"ladder-{os.getpid()}"),
            "TCPLADDER_RATE_LIMIT": "0",
            "TCPLADDER_MAX_INPUT": str(pcap.stat().st_size + (1 << 20)),
        },
    )
    try:
        report: dict[str, Any] = {}
        for name, path in (("lossy_1926", FIXTURE), (f"bulk_{packets}", pcap)):
            sid, token = upload(base, path.read_bytes())
            count = json.loads(urllib.request.urlopen(f"{base}/api/sessions/{sid}/flows/1").read())[
                "packet_count"
            ]
            got: dict[str, Any] = {"packets": count, **_server_windows(base, sid, token, count)}
            ref = _tshark_window(path, count)
            got["tshark_same_window_ms"] = round(ref * 1e3, 1)
            got["ratio_rows_middle_vs_tshark"] = round(got["rows_middle_ms"] / (ref * 1e3), 3)
            got.update(_browser(base, sid))
            report[name] = got
        report["server_peak_rss_mb"] = round(_rss_of(server.pid))
        print(json.dumps(report, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir / f"ladder-{os.getpid()}", ignore_errors=True)
        if not keep:
            pcap.unlink(missing_ok=True)
    return 0
