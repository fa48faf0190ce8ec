"""Benchmarks, reported as ratios against a reference tool run on the same machine.

    scripts/bench text [--packets 200000,1000000]   # tcpdump text vs. tcpdump -r printing it
    scripts/bench capture [--packets 100000,1000000,5000000] [--scapy-packets N]

``text``: generate a capture (benchmarks/gencap.py), let ``tcpdump -nn -r`` print it (timed:
that is the reference), then parse the printed text with tcpladder's parser in a fresh
process, and run ``tcpladder explain --summary --json`` on it (what a user runs: parse,
analyse, write), each timed with its peak RSS.  Reports lines per second and the ratios.
tcpdump's own relative-sequence bookkeeping slows down with many connections, so the
reference is also run with ``-S`` (absolute numbers) and both ratios are printed.

``capture``: for each size, generate a whole-packet capture (benchmarks/gencap.py), warm the
page cache with it, then time in separate processes, each with its peak RSS:
``tcpladder explain --summary --json FILE`` (what we ship), ``tshark -r FILE -q -z conv,tcp``
(the reference) and a plain Scapy ``PcapReader`` loop that touches each packet's TCP layer
(what a Python user would write).  Scapy runs on the first ``--scapy-packets`` packets (all by
default) and its time is scaled to the whole file when it did not read it all; the report
says so.  Ratios are tcpladder's time over the reference's.
"""
# (``web`` is described in WEB_DOC below, ``ladder`` in benchmarks/ladder.py.)

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run_timed(cmd: list[str], stdout: Path | None = None) -> float:
    start = time.perf_counter()
    if stdout is None:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        with stdout.open("wb") as fh:
            subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _child(code: str, *args: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; it prints a JSON dict; add its peak RSS (MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE.parent,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    # ru_maxrss of children is the max over all children so far; each run is the largest
    # so far here (parsing after generating), which keeps it honest for this order.
    result.setdefault("peak_rss_mb", max(after, before) / 1024)  # the child's own, if said
    return result


def _generate(pcap: Path, packets: int, snaplen: int = 0, *, one_flow: bool = False) -> None:
    """A synthetic capture (benchmarks/gencap.py), unless it is there already."""
    if pcap.exists():
        return
    print(f"generating {packets:,} packets -> {pcap}", flush=True)
    cmd = [sys.executable, str(HERE / "gencap.py"), str(pcap), "--packets", str(packets)]
    subprocess.run(
        [*cmd, "--snaplen", str(snaplen), *(["--one-flow"] if one_flow else [])], check=True
    )


PARSE_CODE = """
import json, resource, sys, time
from app.decode.text.parser import parse_text
t0 = time.perf_counter()
text = open(sys.argv[1], encoding="utf-8").read()
t1 = time.perf_counter()
trace = parse_text(text)
t2 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"read_s": t1 - t0, "parse_s": t2 - t1, "packets": trace.packet_count,
                  "peak_rss_mb": rss}))
"""


def bench_text(sizes: list[int], workdir: Path, keep: bool) -> int:
    if missing("tcpdump"):
        return 2
    reports = [_text_row(packets, workdir, keep) for packets in sizes]
    print(json.dumps(reports, indent=2))
    return 0


def _text_row(packets: int, workdir: Path, keep: bool) -> dict[str, float]:
    pcap = workdir / f"bench-{packets}-s128.pcap"
    txt = workdir / f"bench-{packets}.txt"
    _generate(pcap, packets, snaplen=128)
    # Headers only (-s 128): tcpdump prints the same lines, and the file stays small enough
    # for the page cache, so the reference is not timed reading a slow disk.
    _run_timed(["cat", str(pcap)])
    print(f"{packets:,} lines: tcpdump -nn -r (reference, relative seq) ...", flush=True)
    t_rel = _run_timed(["tcpdump", "-nn", "-r", str(pcap)], stdout=txt)
    print("tcpdump -nn -S -r (reference, absolute seq) ...", flush=True)
    t_abs = _run_timed(["tcpdump", "-nn", "-S", "-r", str(pcap)])
    lines = sum(1 for _ in txt.open("rb"))
    print("tcpladder parse_text ...", flush=True)
    res = _child(PARSE_CODE, str(txt))
    parse_s = res["parse_s"] + res["read_s"]
    print("tcpladder explain --summary --json ...", flush=True)
    limit = str(txt.stat().st_size + 1)
    cli = _measure(
        [
            sys.executable,
            "-m",
            "app.cli",
            "explain",
            "--summary",
            "--json",
            "--max-input",
            limit,
            str(txt),
        ]
    )
    report = {
        "lines": lines,
        "text_mb": round(txt.stat().st_size / 1e6, 1),
        "tcpdump_print_s": round(t_rel, 2),
        "tcpdump_print_S_s": round(t_abs, 2),
        "tcpladder_parse_s": round(parse_s, 2),
        "tcpladder_lines_per_s": round(lines / parse_s),
        "tcpdump_lines_per_s": round(lines / t_rel),
        "parse_ratio_vs_tcpdump": round(parse_s / t_rel, 3),
        "parse_ratio_vs_tcpdump_S": round(parse_s / t_abs, 3),
        "parse_peak_rss_mb": round(res["peak_rss_mb"]),
        "packets_parsed": int(res["packets"]),
        # what a user runs: read, analyse, write the summary JSON
        "explain_summary_s": round(cli["wall_s"], 2),
        "explain_ratio_vs_tcpdump": round(cli["wall_s"] / t_rel, 3),
        "explain_ratio_vs_tcpdump_S": round(cli["wall_s"] / t_abs, 3),
        "explain_peak_rss_mb": round(cli["peak_rss_mb"]),
    }
    if not keep:
        txt.unlink()
    return report


MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": rss}))
"""

SCAPY_LOOP = """
import sys
from scapy.layers.inet import TCP
from scapy.utils import PcapReader
limit = int(sys.argv[2])
n = tcp = 0
for pkt in PcapReader(sys.argv[1]):
    n += 1
    if TCP in pkt:
        tcp += 1
    if limit and n >= limit:
        break
print(n, tcp)
"""


def _measure(cmd: list[str]) -> dict[str, float]:
    """Wall time and peak RSS of one command, measured from a fresh interpreter of its own."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *cmd], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def bench_capture(sizes: list[int], workdir: Path, scapy_packets: int, keep: bool) -> int:
    if missing("tshark"):
        return 2
    tcpladder = [sys.executable, "-m", "app.cli", "explain", "--summary", "--json"]
    rows = []
    for packets in sizes:
        pcap = workdir / f"bench-{packets}.pcap"
        _generate(pcap, packets)
        _run_timed(["cat", str(pcap)])  # page cache: every tool reads from memory
        print(f"{packets:,}: tcpladder ...", flush=True)
        ours = _measure([*tcpladder, str(pcap)])
        print(f"{packets:,}: tshark -q -z conv,tcp ...", flush=True)
        ref = _measure(["tshark", "-r", str(pcap), "-q", "-z", "conv,tcp"])
        limit = min(scapy_packets or packets, packets)
        print(f"{packets:,}: Scapy PcapReader loop over {limit:,} packets ...", flush=True)
        scapy = _measure([sys.executable, "-c", SCAPY_LOOP, str(pcap), str(limit)])
        scapy_s = scapy["wall_s"] * packets / limit
        rows.append(
            {
                "packets": packets,
                "file_mb": round(pcap.stat().st_size / 1e6),
                "tcpladder_s": round(ours["wall_s"], 2),
                "tcpladder_peak_rss_mb": round(ours["peak_rss_mb"]),
                "tshark_s": round(ref["wall_s"], 2),
                "tshark_peak_rss_mb": round(ref["peak_rss_mb"]),
                "scapy_s": round(scapy_s, 1),
                "scapy_measured_packets": limit,
                "ratio_vs_tshark": round(ours["wall_s"] / ref["wall_s"], 3),
                "ratio_vs_scapy": round(ours["wall_s"] / scapy_s, 4),
                "tcpladder_us_per_packet": round(ours["wall_s"] / packets * 1e6, 2),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        if not keep:
            pcap.unlink()
    print(json.dumps(rows, indent=2))
    return 0


WEB_DOC = """
``web``: generate a capture of ``--packets`` packets cut to 128 bytes (250,000 make about
30 MB), start ``tcpladder serve`` on a free loopback port with a fresh SQLite store, and time
``POST /api/sessions`` with the file until the session is ready (the reference: ``tshark -q
-z conv,tcp`` on the same file), ``tcpladder explain --json`` of the file (every packet, to
/dev/null) against the same reference, then the session page, its biggest connection's page (first
and last window), and ``GET /api/sessions/{id}`` (time to first byte and to the end).
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the end, bytes) of one GET."""

    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        first = r.read(1)
        t1 = time.perf_counter()
        size = len(first) + len(r.read())
    return t1 - t0, time.perf_counter() - t0, size


def _median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2]


def missing(tool: str) -> bool:
    """Whether ``tool`` (a reference the benchmark compares with) is not installed; says so."""
    if shutil.which(tool) is not None:
        return False
    print(f"{tool} is not installed (apt-get install {tool})", file=sys.stderr)
    return True


def upload(base: str, data: bytes) -> tuple[str, str]:
    """A session of ``data`` on the server at ``base``, once it is ready: (id, owner token)."""
    req = urllib.request.Request(
        base + "/api/sessions",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=600) as r:
        made = json.loads(r.read())
    sid, status = made["id"], made["status"]
    while status == "processing":  # answered 202 at once: follow it until ready
        time.sleep(0.02)
        with urllib.request.urlopen(f"{base}/api/sessions/{sid}/status", timeout=60) as r:
            status = json.loads(r.read())["status"]
    assert status == "ready", status
    return sid, made["owner_token"]


def start_server(port: int, env_extra: dict[str, str]) -> subprocess.Popen[bytes]:
    """``tcpladder serve`` on loopback with a fresh store (``env_extra``: its settings; no
    ``DATABASE_URL``), once it answers."""
    env = dict(os.environ, **env_extra)
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=HERE.parent,
        env=env,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            break
        except OSError:
            time.sleep(0.05)
    return server


def bench_web(packets: int, workdir: Path, keep: bool) -> int:

    if missing("tshark"):
        return 2
    pcap = workdir / f"bench-{packets}-s128.pcap"
    _generate(pcap, packets, snaplen=128)
    data = pcap.read_bytes()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(
        port,
        {
            "TCPLADDER_DATA_DIR": str(workdir / f"web-{os.getpid()}"),
            "TCPLADDER_MAX_INPUT": str(len(data) + (1 << 20)),
            "TCPLADDER_MAX_PACKETS": str(packets * 2),
            "TCPLADDER_RATE_LIMIT": "0",
        },
    )
    try:
        t0 = time.perf_counter()
        sid, _token = upload(base, data)
        upload_s = time.perf_counter() - t0
        ref = _measure(["tshark", "-r", str(pcap), "-q", "-z", "conv,tcp"])
        every = _measure([sys.executable, "-m", "app.cli", "explain", "--json", str(pcap)])
        flows = json.loads(_get_body(f"{base}/api/sessions/{sid}?summary=true"))["flows"]
        big = max(flows, key=lambda f: f["packet_count"])
        last = max(big["packet_count"] - 400, 0)
        pages = {
            "session_page_s": f"{base}/s/{sid}",
            "flow_page_s": f"{base}/s/{sid}/f/{big['id']}",
            "flow_page_last_window_s": f"{base}/s/{sid}/f/{big['id']}?from={last}",
        }
        report: dict[str, object] = {
            "packets": packets,
            "file_mb": round(len(data) / 1e6, 1),
            "connections": len(flows),
            "upload_to_ready_s": round(upload_s, 2),
            "tshark_conv_s": round(ref["wall_s"], 2),
            "ratio_upload_vs_tshark": round(upload_s / ref["wall_s"], 3),
            "explain_json_s": round(every["wall_s"], 2),
            "explain_json_peak_rss_mb": round(every["peak_rss_mb"]),
            "ratio_explain_json_vs_tshark": round(every["wall_s"] / ref["wall_s"], 3),
        }
        for name, url in pages.items():
            report[name] = round(_median([_get(url)[1] for _ in range(5)]), 3)
        first, total, size = _get(f"{base}/api/sessions/{sid}")
        report.update(
            api_first_byte_s=round(first, 3),
            api_total_s=round(total, 2),
            api_mb=round(size / 1e6, 1),
            server_peak_rss_mb=round(_rss_of(server.pid)),
        )
        print(json.dumps(report, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir / f"web-{os.getpid()}", ignore_errors=True)
        if not keep:
            pcap.unlink()
    return 0


def _get_body(url: str) -> bytes:

    with urllib.request.urlopen(url, timeout=600) as r:
        body: bytes = r.read()
    return body


def _rss_of(pid: int) -> float:
    """Peak RSS (VmHWM) of a running process, in MB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="tcpladder benchmarks")
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("text", help="tcpdump text parsing vs. tcpdump -r printing")
    t.add_argument("--packets", default="200000,1000000", help="comma-separated sizes")
    t.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tcpladder-bench")
    t.add_argument("--keep", action="store_true", help="keep generated text files")
    c = sub.add_parser("capture", help="explain --summary --json vs. tshark and a Scapy loop")
    c.add_argument("--packets", default="1000000", help="comma-separated sizes")
    c.add_argument("--scapy-packets", type=int, default=0, help="Scapy reads this many (0: all)")
    c.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tcpladder-bench")
    c.add_argument("--keep", action="store_true", help="keep generated captures")
    w = sub.add_parser("web", help="HTTP upload-to-ready and page latency vs. tshark conv")
    w.add_argument("--packets", type=int, default=250_000)
    w.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tcpladder-bench")
    w.add_argument("--keep", action="store_true", help="keep the generated capture")
    lad = sub.add_parser("ladder", help="a big connection's ladder: window render and Chromium")
    lad.add_argument("--packets", type=int, default=100_000)
    lad.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tcpladder-bench"
    )
    lad.add_argument("--keep", action="store_true", help="keep the generated capture")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if args.what == "text":
        return bench_text([int(x) for x in args.packets.split(",")], args.workdir, args.keep)
    if args.what == "web":
        return bench_web(args.packets, args.workdir, args.keep)
    if args.what == "ladder":
        sys.path.insert(0, str(HERE.parent))
        from benchmarks.ladder import bench_ladder

        return bench_ladder(args.packets, args.workdir, args.keep)
    if args.what == "capture":
        sizes = [int(x) for x in args.packets.split(",")]
        return bench_capture(sizes, args.workdir, args.scapy_packets, args.keep)
    return 2


if __name__ == "__main__":
    sys.exit(main())
