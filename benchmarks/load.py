"""Reliability under hostile and heavy load, measured on loopback; writes docs/reliability.md.

    scripts/load [--readers 50] [--uploads 20] [--rounds 20]

Starts ``tcpladder serve`` on a free loopback port with a fresh SQLite store (rate limit
off, as a load test needs), then, with a bounded Python client (every loop bounded in count
and time):

1. posts decompression bombs and a pcap of empty records, and reads the server's memory
   (VmRSS before, VmHWM after) for each;
2. measures the session page with ``--readers`` concurrent readers (p50/p99), each a task of
   one asyncio loop in its own thread that asks for the page again as soon as it has it, on
   a keep-alive connection as browsers do (and once more with a new connection for every
   request). Readers as threads in one process measured the client's GIL as much as the
   server: fifty threads waiting for the GIL after each response added 40 ms to p99;
3. measures it again while ``--uploads`` parallel 4 MB uploads run, checks every upload
   finished and gave the same analysis as a sequential upload of the same file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h11
import zstandard

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def _worker_peak(pid: int) -> float:
    """The largest peak resident size of the server's worker processes (0: none yet)."""
    peaks = []
    for c in _children(pid):
        try:
            peaks.append(_status(c, "VmHWM"))
        except OSError:
            continue
    return max(peaks, default=0.0)


def _post(base: str, data: bytes, timeout: float = 300) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(
        base + "/api/sessions",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _get(url: str) -> tuple[int, float, bytes]:
    t = time.perf_counter()
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})  # as browsers do
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        return r.status, time.perf_counter() - t, body


def _read(
    host: str,
    port: int,
    path: str,
    readers: int,
    rounds: int,
    *,
    keep_alive: bool,
    stop: threading.Event | None = None,
) -> list[float]:
    """The seconds each page read took: ``readers`` tasks of one event loop, each reading
    ``path`` ``rounds`` times (or until ``stop``), one request after another."""
    lat: list[float] = []

    async def reader() -> None:
        conn: h11.Connection | None = None
        for _ in range(rounds):
            if stop is not None and stop.is_set():
                break
            t = time.perf_counter()
            if conn is None:
                rx, tx = await asyncio.open_connection(host, port)
                conn = h11.Connection(h11.CLIENT)
            headers = [("Host", f"{host}:{port}"), ("Accept-Encoding", "gzip")]
            if not keep_alive:
                headers.append(("Connection", "close"))
            tx.write(conn.send(h11.Request(method="GET", target=path, headers=headers)))
            tx.write(conn.send(h11.EndOfMessage()))
            status = await _response(conn, rx)
            assert status == 200, status
            lat.append(time.perf_counter() - t)
            if keep_alive and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            else:
                tx.close()
                conn = None
        if conn is not None:
            tx.close()

    async def everyone() -> None:
        await asyncio.gather(*(asyncio.wait_for(reader(), 600) for _ in range(readers)))

    asyncio.run(everyone())
    return lat


async def _response(conn: h11.Connection, rx: asyncio.StreamReader) -> int:
    """Read one response to its end; its status."""
    status = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await rx.read(1 << 16))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.EndOfMessage):
            return status


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def _bombs() -> list[tuple[str, bytes]]:
    z = zstandard.ZstdCompressor(level=19).compressobj()
    zeros = b"".join(z.compress(b"\0" * (1 << 26)) for _ in range(32)) + z.flush()
    g = zlib.compressobj(9, wbits=31)
    line = b"12:00:00.000001 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [.], ack 1, win 100, length 0\n"
    block = line * ((1 << 22) // len(line))
    text = b"".join(g.compress(block) for _ in range(64)) + g.flush()
    g = zlib.compressobj(9, wbits=31)
    head = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
    empty = g.compress(head) + b"".join(g.compress(bytes(1 << 22)) for _ in range(64)) + g.flush()
    return [
        (f"zstd of 2 GiB of zeros ({len(zeros) // 1024} KiB)", zeros),
        (f"gzip of 256 MiB of packet lines ({len(text) // 1024} KiB)", text),
        (f"gzip of a pcap of 16 M empty records ({len(empty) // 1024} KiB)", empty),
    ]


def run(readers: int, uploads: int, rounds: int, out: Path | None) -> int:
    work = Path(tempfile.mkdtemp(prefix="tcpladder-load-"))
    pcap = work / "4mb.pcap"
    subprocess.run(
        [
            sys.executable,
            str(HERE / "gencap.py"),
            str(pcap),
            "--packets",
            "36000",
            "--snaplen",
            "128",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    data = pcap.read_bytes()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench import start_server

    server = start_server(
        port,
        {
            "TCPLADDER_DATA_DIR": str(work / "data"),
            "TCPLADDER_RATE_LIMIT": "0",
            "TCPLADDER_MAX_INPUT": str(64 << 20),
        },
    )
    report: list[str] = []
    try:
        report += _bomb_rows(base, server.pid)
        report += _load_rows(base, server.pid, data, readers, uploads, rounds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = _document(report, readers, uploads)
    print(text)
    if out is not None:
        out.write_text(text)
    return 0


def _bomb_rows(base: str, pid: int) -> list[str]:
    rows = [
        "| input | answer | time | server memory before → peak | worker peak |",
        "|---|---|---|---|---|",
    ]
    for name, bomb in _bombs():
        before = _status(pid, "VmRSS")
        t = time.perf_counter()
        status, body = _post(base, bomb)
        took = time.perf_counter() - t
        peak = _status(pid, "VmHWM")
        worker = _worker_peak(pid)
        err = body.get("error") if isinstance(body, dict) else None
        code = err.get("code") if isinstance(err, dict) else ""
        rows.append(
            f"| {name} | {status} {code} | {took:.2f} s | {before:.0f} → {peak:.0f} MB | {worker:.0f} MB |"
        )
    return ["## Bombs", "", *rows, ""]


def _rss(pid: int) -> tuple[float, float]:
    """Resident MB now: the server process, and its largest worker (0: none)."""
    workers = []
    for c in _children(pid):
        try:
            workers.append(_status(c, "VmRSS"))
        except OSError:
            continue
    return _status(pid, "VmRSS"), max(workers, default=0.0)


def _until_ready(base: str, data: bytes) -> tuple[int, dict[str, object], float, str]:
    """Post ``data`` and follow the session until its analysis is over: the answer's status
    (201 ready within the grace period, 202 processing), its body, the seconds from the
    post to ready, and the final status."""
    t0 = time.perf_counter()
    code, body = _post(base, data)
    final = str(body.get("status", "failed"))
    deadline = t0 + 600
    while final == "processing" and time.perf_counter() < deadline:
        time.sleep(0.05)
        final = json.loads(_get(f"{base}/api/sessions/{body['id']}/status")[2])["status"]
    return code, body, time.perf_counter() - t0, final


def _load_rows(
    base: str, pid: int, data: bytes, readers: int, uploads: int, rounds: int
) -> list[str]:
    status, body, alone, final = _until_ready(base, data)
    assert status in (201, 202) and final == "ready", body
    sid = str(body["id"])
    reference = _get(f"{base}/api/sessions/{sid}?summary=true")[2]
    page = f"/s/{sid}"
    base_rss = _rss(pid)

    host, port = base.removeprefix("http://").split(":")
    first = _get(base + page)[1]  # the one render; the readers below find it cached
    quiet = _read(host, int(port), page, readers, rounds, keep_alive=True)
    fresh = _read(host, int(port), page, readers, rounds, keep_alive=False)
    stop = threading.Event()
    with ThreadPoolExecutor(1 + uploads) as pool:
        reading = pool.submit(
            _read, host, int(port), page, readers, 10_000, keep_alive=True, stop=stop
        )
        t0 = time.perf_counter()
        results = list(pool.map(lambda _: _until_ready(base, data), range(uploads)))
        upload_s = time.perf_counter() - t0
        stop.set()
        busy = reading.result()
    same = all(
        final == "ready" and _get(f"{base}/api/sessions/{b['id']}?summary=true")[2] == reference
        for _, b, _, final in results
    )
    ready_s = sorted(t for _, _, t, _ in results)
    time.sleep(2)
    after = _rss(pid)
    return [
        "## Session page under load",
        "",
        "| situation | requests | p50 | p99 | goal |",
        "|---|---|---|---|---|",
        f"| the first reader, alone (the page is rendered) | 1 | {first * 1000:.0f} ms | | |",
        f"| {readers} concurrent readers | {len(quiet)} | {_pct(quiet, 0.5) * 1000:.0f} ms | "
        f"{_pct(quiet, 0.99) * 1000:.0f} ms | p99 < 100 ms |",
        f"| the same, a new connection for every request | {len(fresh)} | "
        f"{_pct(fresh, 0.5) * 1000:.0f} ms | {_pct(fresh, 0.99) * 1000:.0f} ms | |",
        f"| the same during {uploads} parallel {len(data) / 1e6:.1f} MB uploads "
        f"({upload_s:.1f} s) | {len(busy)} | {_pct(busy, 0.5) * 1000:.0f} ms | "
        f"{_pct(busy, 0.99) * 1000:.0f} ms | p99 < 250 ms |",
        "",
        f"All {uploads} uploads finished ({sum(s == 201 for s, *_ in results)} answered 201 "
        f"ready, {sum(s == 202 for s, *_ in results)} answered 202 processing at once) and "
        f"{'every one gave' if same else 'NOT every one gave'} the same analysis as a "
        "sequential upload of the same file.",
        "",
        f"Upload to ready: {alone:.2f} s alone; with {uploads} at once, median "
        f"{_pct(ready_s, 0.5):.2f} s, slowest {ready_s[-1]:.2f} s (jobs queue for the "
        "analysis workers; the answer itself never waits longer than TCPLADDER_GRACE).",
        "",
        f"Resident memory after one upload → after all of this (2 s later): server "
        f"{base_rss[0]:.0f} → {after[0]:.0f} MB, analysis worker "
        f"{base_rss[1]:.0f} → {after[1]:.0f} MB (the page cache holds at most "
        "TCPLADDER_PAGE_CACHE bytes).",
        "",
    ]


def _fuzz_rows() -> list[str]:
    totals: dict[str, list[int]] = {}
    log = ROOT / "docs" / "fuzz-runs.tsv"
    lines = log.read_text().splitlines()[1:] if log.exists() else []
    for line in lines:
        _, target, inputs, _ = line.split("\t", 3)
        totals.setdefault(target, []).append(int(inputs))
    rows = ["| target | runs | inputs |", "|---|---|---|"]
    rows += [f"| {t} | {len(v)} | {sum(v):,} |" for t, v in sorted(totals.items())]
    return rows


def _document(rows: list[str], readers: int, uploads: int) -> str:
    head = [
        "# Reliability",
        "",
        "Written by `scripts/load` (benchmarks/load.py) on loopback: a `tcpladder serve` "
        "process with a fresh SQLite store, its default analysis workers (cores - 1, at "
        "most 4) and the rate limit off; a Python client on the same machine (sharing the cores "
        "with the server: readers are tasks of one asyncio loop, uploads are threads) asking "
        "for pages on keep-alive connections with `Accept-Encoding: gzip`, as browsers do, "
        "each reader asking again as soon as it has its page. "
        f"The machine: {os.cpu_count()} cores. Numbers are one run's.",
        "",
    ]
    tail = [
        "## Fuzzing",
        "",
        "`scripts/fuzz capture|text|upload` (atheris) runs coverage-guided and logs each run "
        "in docs/fuzz-runs.tsv; every test run replays the regressions "
        "(tests/fuzz/regressions/) and a short structure-aware run. `capture` and `text` feed "
        "any bytes to the reader, the analysis and the JSON writer; `upload` feeds any "
        "request (Content-Type, query string, body) to the upload endpoint's reading of "
        "forms, raw bodies and fields. Inputs run so far:",
        "",
        *_fuzz_rows(),
        "",
        "## Failures (tested by the test suite, not timed here)",
        "",
        "PostgreSQL stopped and started under load "
        "(tests/store/test_postgres.py: 503 with Retry-After while it is down, never a 500, "
        "200 again as soon as it is back), a killed analysis worker "
        "(tests/store/test_pool.py: its job is taken again in a new pool and finishes; "
        "after 3 dead workers the session fails with that reason), a killed "
        "`tcpladder worker` on PostgreSQL (tests/store/test_queue.py: a new worker "
        "finishes the job) and kill -9 of the server during uploads "
        "(tests/web/test_crash.py: the SQLite file passes its integrity check and holds "
        "only whole sessions, the workers end with the server, a new server serves what "
        "was stored and finishes every acknowledged upload that was still processing).",
        "",
    ]
    return "\n".join(head + rows + tail)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=20, help="page reads per reader, quiet run")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = ap.parse_args(argv)
    return run(args.readers, args.uploads, args.rounds, args.out)


if __name__ == "__main__":
    sys.exit(main())
