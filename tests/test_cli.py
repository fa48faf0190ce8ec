from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import CAPTURES, TEXT


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], input=stdin, capture_output=True, check=False
    )


def test_explain_json_summary_from_stdin() -> None:
    r = run(
        "explain", "-", "--json", "--summary", stdin=(TEXT / "seed000_ipv6_vvv.txt").read_bytes()
    )
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["source"]["packet_count"] == 12
    assert "packets" not in j["flows"][0]
    assert j["flows"][0]["client"] == "[::1]:51596"


def test_explain_text_summary_of_capture() -> None:
    r = run("explain", str(CAPTURES / "refused.pcap"))
    assert r.returncode == 0
    assert b"refused" in r.stdout


def test_explain_bad_input_exits_2_with_message() -> None:
    r = run("explain", "-", stdin=b"nothing to see\n")
    assert r.returncode == 2
    assert b"no tcpdump packet line" in r.stderr
    r = run("explain", "/nonexistent/file")
    assert r.returncode == 2 and b"cannot read" in r.stderr


def test_explain_stops_quietly_when_its_reader_goes_away(tmp_path: Path) -> None:
    """``tcpladder explain big.pcap --json | head``: no traceback when the pipe closes."""
    big = tmp_path / "big.txt"
    big.write_bytes((TEXT / "seed000_ipv6_vvv.txt").read_bytes() * 2000)  # JSON of many MB
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "explain", str(big), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.read(10)
    proc.stdout.close()
    _, err = proc.communicate()
    assert proc.returncode == 141
    assert b"Traceback" not in err, err.decode()
