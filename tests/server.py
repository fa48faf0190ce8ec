"""A real tcpladder server in a process of its own, for the tests that need one (kill -9,
slow clients, an installed wheel): a free port, the environment, and a wait until the
home page answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    port: int,
    *,
    data: Path,
    python: str = sys.executable,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    workers: int = 1,
) -> subprocess.Popen[bytes]:
    """``python -m app.cli serve`` on ``port`` with its data in ``data``, once it answers."""
    full = dict(
        os.environ,
        TCPLADDER_DATA_DIR=str(data),
        TCPLADDER_RATE_LIMIT="0",
        TCPLADDER_WORKERS=str(workers),
        **(env or {}),
    )
    proc = subprocess.Popen(
        [python, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "critical"],
        env=full,
        cwd=cwd,
    )
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the server did not start")


def big_capture(path: Path, packets: int) -> Path:
    """A synthetic capture of ``packets`` packets (benchmarks/gencap.py) at ``path``."""
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gencap.py"),
            str(path),
            "--packets",
            str(packets),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return path


def post_raw(url: str, data: bytes, timeout: float = 60) -> tuple[int, dict[str, object]]:
    """POST ``data`` as a raw body; the answer's status and JSON (errors included)."""
    import json
    import urllib.error

    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/octet-stream"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
