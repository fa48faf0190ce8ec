#!/usr/bin/env python3
"""Record TCP captures over an impaired path between network namespaces this script makes.

    impaired.py OUTDIR [SCENARIO ...]

Topology (all created here, removed at the end; traffic never leaves them):

    netns tlc (client)  c0 10.77.0.1 ── r0 [netns tlr: relay.py] r1 ── s0 10.77.0.2  netns tls (server)

The kernel here has no netem, so ``relay.py`` bridges r0 and r1 in user space and delays,
drops, duplicates or reorders frames.  Offloads are off on every veth so that tcpdump sees
the segments that really cross the path.  Each scenario writes OUTDIR/NAME.pcap (headers
only, snaplen 128) and OUTDIR/NAME.tshark.tsv (tshark's per-packet TCP analysis of it, the
reference tests compare with).  Needs root, iproute2, ethtool, tcpdump and tshark.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.tshark_agreement import TSHARK_FIELDS  # noqa: E402

PY = sys.executable
CLIENT, SERVER, PORT = "10.77.0.1", "10.77.0.2", 5001


def sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ns(name: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", name, *cmd]


def setup() -> None:
    teardown()
    for n in ("tlc", "tlr", "tls"):
        sh("ip", "netns", "add", n)
        sh(*ns(n, "ip", "link", "set", "lo", "up"))
    sh(
        "ip",
        "link",
        "add",
        "c0",
        "netns",
        "tlc",
        "type",
        "veth",
        "peer",
        "name",
        "r0",
        "netns",
        "tlr",
    )
    sh(
        "ip",
        "link",
        "add",
        "s0",
        "netns",
        "tls",
        "type",
        "veth",
        "peer",
        "name",
        "r1",
        "netns",
        "tlr",
    )
    for n, dev, addr in (("tlc", "c0", CLIENT), ("tls", "s0", SERVER)):
        sh(*ns(n, "ip", "addr", "add", f"{addr}/24", "dev", dev))
    for n, dev in (("tlc", "c0"), ("tlr", "r0"), ("tlr", "r1"), ("tls", "s0")):
        sh(
            *ns(n, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off"),
            check=False,
        )
        sh(*ns(n, "ip", "link", "set", dev, "up", "promisc", "on"))


def teardown() -> None:
    for n in ("tlc", "tlr", "tls"):
        sh("ip", "netns", "del", n, check=False)


@dataclass
class Scenario:
    name: str
    relay: list[str]
    capture_in: str  # "tlc", "tls", or "both": NAME-at-client.pcap and NAME-at-server.pcap
    server: str
    client: str
    linger: float = 0.5
    sysctl: tuple[str, ...] = ()


# Python run in the namespaces; PORT and SERVER come from the environment.
_PRE = "import os, socket, time, struct\nPORT = int(os.environ['PORT'])\nSERVER = os.environ['SERVER']\n"

SEND_SERVER = """
srv = socket.create_server(('0.0.0.0', PORT))
c, _ = srv.accept()
c.recv(1000)
c.sendall(b'x' * {size})
c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass
c.close()
"""
RECV_CLIENT = """
s = socket.create_connection((SERVER, PORT))
s.sendall(b'GET /bulk\\r\\n')
while s.recv(65536):
    pass
s.close()
"""
UPLOAD_CLIENT = """
s = socket.create_connection((SERVER, PORT))
s.sendall(b'y' * {size})
s.shutdown(socket.SHUT_WR)
s.recv(100)
s.close()
"""
SINK_SERVER = """
srv = socket.create_server(('0.0.0.0', PORT))
c, _ = srv.accept()
while c.recv(65536):
    pass
c.sendall(b'done')
c.close()
"""

SCENARIOS = [
    Scenario(
        "loss",
        ["--delay-ms", "3", "--drop", "0.03", "--seed", "3"],
        "tls",
        SEND_SERVER.format(size=400_000),
        RECV_CLIENT,
    ),
    Scenario(
        "loss-rx",
        ["--delay-ms", "3", "--drop", "0.03", "--seed", "5"],
        "tlc",
        SEND_SERVER.format(size=400_000),
        RECV_CLIENT,
    ),
    # One lossy 2 MB download captured at both ends at once: the sender's capture is the
    # truth about which segments were sent twice; the receiver's shows them arriving late,
    # twice or not at all.  tests/decode/test_groundtruth.py scores both vantage points.
    Scenario(
        "lossy",
        ["--delay-ms", "10", "--drop", "0.02", "--reorder", "0.03", "--dup", "0.02", "--seed", "13"],
        "both",
        SEND_SERVER.format(size=2_000_000),
        RECV_CLIENT,
        linger=1.0,
    ),
    # Both ends ask for ECN (net.ipv4.tcp_ecn=1) and the relay marks 3% of the data CE
    # instead of dropping it: CE marks, ECE echoes, CWR answers.
    Scenario(
        "ecn",
        ["--delay-ms", "3", "--ce", "0.03", "--seed", "17"],
        "tlc",
        SEND_SERVER.format(size=300_000),
        RECV_CLIENT,
        sysctl=("net.ipv4.tcp_ecn=1",),
    ),
    Scenario(
        "reorder",
        ["--delay-ms", "2", "--reorder", "0.04", "--seed", "7"],
        "tls",
        SINK_SERVER,
        UPLOAD_CLIENT.format(size=400_000),
    ),
    Scenario(
        "duplicate",
        ["--delay-ms", "2", "--dup", "0.04", "--seed", "11"],
        "tlc",
        SEND_SERVER.format(size=300_000),
        RECV_CLIENT,
    ),
    Scenario(
        "zero-window",
        ["--delay-ms", "1"],
        "tlc",
        SEND_SERVER.format(size=300_000),
        """
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((SERVER, PORT))
s.sendall(b'GET /slow\\r\\n')
time.sleep(1.5)
while True:
    b = s.recv(2048)
    if not b:
        break
    time.sleep(0.002)
s.close()
""",
    ),
    Scenario(
        "keepalive",
        ["--delay-ms", "1"],
        "tlc",
        """
srv = socket.create_server(('0.0.0.0', PORT))
c, _ = srv.accept()
c.recv(100)
c.sendall(b'ok')
c.settimeout(10)
c.recv(100)
c.close()
""",
        """
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
s.connect((SERVER, PORT))
s.sendall(b'hello')
s.recv(100)
time.sleep(3.6)
s.close()
""",
    ),
    Scenario(
        "reset",
        ["--delay-ms", "1"],
        "tlc",
        """
srv = socket.create_server(('0.0.0.0', PORT))
c, _ = srv.accept()
c.recv(100)
c.sendall(b'partial answer')
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
c.close()
time.sleep(0.3)
""",
        """
s = socket.create_connection((SERVER, PORT))
s.sendall(b'GET /\\r\\n')
time.sleep(0.2)
try:
    s.recv(100)
    s.recv(100)
except OSError:
    pass
s.close()
r = socket.socket()
try:
    r.connect((SERVER, PORT + 1))
except OSError:
    pass
r.close()
""",
    ),
    Scenario(
        "half-close",
        ["--delay-ms", "1"],
        "tlc",
        """
srv = socket.create_server(('0.0.0.0', PORT))
c, _ = srv.accept()
while c.recv(100):
    pass
for _ in range(5):
    c.sendall(b'z' * 4000)
    time.sleep(0.05)
c.close()
""",
        """
s = socket.create_connection((SERVER, PORT))
s.sendall(b'QUERY and then half-close\\n')
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
""",
    ),
    Scenario(
        "port-reuse",
        ["--delay-ms", "1"],
        "tlc",
        """
    srv = socket.create_server(('0.0.0.0', PORT))
    for _ in range(2):
        c, _ = srv.accept()
        c.recv(100)
        c.sendall(b'bye')
        c.recv(100)
        c.close()
    """,
        """
    for i in range(2):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.bind(('0.0.0.0', 40100))
        s.connect((SERVER, PORT))
        s.sendall(b'hello %d' % i)
        s.recv(100)
        s.close()
        time.sleep(0.3)
    """,
    ),
]


def crafted(out: Path) -> None:
    """Findings Linux does not produce on demand, written with Scapy: a 1-byte zero-window
    probe and its ACK, an ACK of data the capture never showed, a malformed option."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    c, s_, cp, sp = CLIENT, SERVER, 40200, 80
    frames = []
    t = 1_700_000_000.0

    def add(
        src: str,
        dst: str,
        sport: int,
        dport: int,
        flags: str,
        seq: int,
        ack: int,
        win: int,
        data: bytes = b"",
        options: list | None = None,
        dt: float = 0.01,
    ) -> None:
        nonlocal t
        t += dt
        pkt = (
            Ether()
            / IP(src=src, dst=dst)
            / TCP(
                sport=sport,
                dport=dport,
                flags=flags,
                seq=seq,
                ack=ack,
                window=win,
                options=options or [],
            )
            / data
        )
        pkt.time = t
        frames.append(pkt)

    ci, si = 1000, 5000
    add(c, s_, cp, sp, "S", ci, 0, 64240, options=[("MSS", 1460)])
    add(s_, c, sp, cp, "SA", si, ci + 1, 1000, options=[("MSS", 1460)])
    add(c, s_, cp, sp, "A", ci + 1, si + 1, 64240)
    add(c, s_, cp, sp, "PA", ci + 1, si + 1, 64240, b"a" * 1000)
    add(s_, c, sp, cp, "A", si + 1, ci + 1001, 0)  # zero window
    add(c, s_, cp, sp, "A", ci + 1001, si + 1, 64240, b"b", dt=0.2)  # zero-window probe
    add(s_, c, sp, cp, "A", si + 1, ci + 1001, 0)  # probe ACK, still zero
    add(s_, c, sp, cp, "A", si + 1, ci + 1001, 2000, dt=0.3)  # window update
    add(c, s_, cp, sp, "PA", ci + 1001, si + 1, 64240, b"c" * 500)
    add(s_, c, sp, cp, "A", si + 1, ci + 3001, 2000)  # acks bytes never captured
    # options: mss 1460, then kind 99 with a length of 1 (below the minimum of 2): malformed
    opts = b"\x02\x04\x05\xb4\x63\x01\x00\x00"
    add(c, s_, cp, sp, "PA", ci + 3001, si + 1, 64240, opts + b"d" * 10)
    frames[-1][TCP].dataofs = 7
    add(c, s_, cp, sp, "FA", ci + 3011, si + 1, 64240)
    add(s_, c, sp, cp, "FA", si + 1, ci + 3012, 2000)
    add(c, s_, cp, sp, "A", ci + 3012, si + 2, 64240)
    wrpcap(str(out / "crafted.pcap"), frames)
    tshark_fields(out / "crafted.pcap", out / "crafted.tshark.tsv")


def tshark_fields(pcap: Path, tsv_path: Path) -> None:
    tsv = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "fields", "-E", "header=y", "-E", "separator=\t"]
        + [x for f in TSHARK_FIELDS for x in ("-e", f)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tsv_path.write_text(tsv)


def run(sc: Scenario, out: Path) -> None:
    port = PORT + 10 * SCENARIOS.index(sc)  # a port of its own: no leftover server answers
    for n in ("tlc", "tls"):
        for setting in sc.sysctl:
            sh(*ns(n, "sysctl", "-w", setting))
    env = {**os.environ, "PORT": str(port), "SERVER": SERVER}
    relay = subprocess.Popen(ns("tlr", PY, str(HERE / "relay.py"), "r0", "r1", *sc.relay))
    where = {"tlc": "c0", "tls": "s0"}
    if sc.capture_in == "both":
        pcaps = {n: out / f"{sc.name}-at-{'client' if n == 'tlc' else 'server'}.pcap" for n in where}
    else:
        pcaps = {sc.capture_in: out / f"{sc.name}.pcap"}
    dumps = [
        subprocess.Popen(
            ns(n, "tcpdump", "-i", where[n], "-U", "-s", "128", "-w", str(p), "tcp"),
            stderr=subprocess.DEVNULL,
        )
        for n, p in pcaps.items()
    ]
    time.sleep(1.0)
    server = subprocess.Popen(ns("tls", PY, "-c", _PRE + textwrap.dedent(sc.server)), env=env)
    time.sleep(0.5)
    subprocess.run(ns("tlc", PY, "-c", _PRE + textwrap.dedent(sc.client)), env=env, timeout=60)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    time.sleep(sc.linger)
    for dump in dumps:
        dump.send_signal(signal.SIGINT)
        dump.wait()
    relay.terminate()
    relay.wait()
    for pcap in pcaps.values():
        tsv_path = pcap.with_suffix(".tshark.tsv")
        tshark_fields(pcap, tsv_path)
        print(f"{pcap.stem}: {sum(1 for _ in tsv_path.read_text().splitlines()) - 1} packets")


def main() -> None:
    out = Path(sys.argv[1])
    want = set(sys.argv[2:])
    for tool in ("ip", "ethtool", "tcpdump", "tshark"):
        if not shutil.which(tool):
            sys.exit(f"impaired.py needs {tool}")
    out.mkdir(parents=True, exist_ok=True)
    if not want or "crafted" in want:
        crafted(out)
    if want == {"crafted"}:
        return
    setup()
    try:
        for sc in SCENARIOS:
            if not want or sc.name in want:
                run(sc, out)
    finally:
        teardown()


if __name__ == "__main__":
    main()
