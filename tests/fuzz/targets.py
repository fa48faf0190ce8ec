"""Fuzz targets: what any client may send, fed to the decoder and the upload endpoint.

Each target takes arbitrary bytes and must end in a result or a ``TraceError`` (a 4xx):
never another exception, a hang or unbounded memory.  ``tests/fuzz/test_fuzz.py`` runs
them briefly in every test run (hypothesis, structure-aware); ``scripts/fuzz`` runs them
coverage-guided for as long as asked (atheris).  Every failure found becomes an input in
``tests/fuzz/regressions/``, replayed by the tests.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

from app.decode import Limits, analyse, read_input, write_json
from app.decode.model.errors import TraceError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
LIMITS = Limits(max_input=4 << 20, max_expanded=16 << 20, max_packets=50_000)


class _Sink(io.StringIO):
    def write(self, s: str) -> int:
        return len(s)


def decode(data: bytes) -> None:
    """Any bytes as an upload or a paste: read, analysed, written as JSON, or refused."""
    try:
        trace = read_input(data, LIMITS)
    except TraceError:
        return
    write_json(analyse(trace), _Sink())


def seeds(kind: str) -> list[bytes]:
    """Valid inputs to start from: the recorded captures, or the pasted text fixtures."""
    if kind == "capture":
        paths = sorted((FIXTURES / "captures").glob("*.pcap"))
        paths += sorted((FIXTURES / "captures" / "formats").glob("*.pcap*"))
    else:
        paths = sorted((FIXTURES / "text").rglob("*.txt"))
        paths += sorted((FIXTURES / "captures").glob("*.txt"))[:40]
    return [p.read_bytes()[:200_000] for p in paths]


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """A few byte- or line-level changes of the kinds hostile or broken inputs have."""
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        if not buf:
            buf += rnd.randbytes(8)
        i = rnd.randrange(len(buf))
        op = rnd.randrange(6)
        if op == 0:
            buf[i] = rnd.randrange(256)
        elif op == 1:
            del buf[i : i + rnd.randint(1, 64)]
        elif op == 2:
            buf[i:i] = rnd.choice(_TOKENS)
        elif op == 3:
            j = rnd.randrange(len(buf))
            buf[i:i] = buf[j : j + rnd.randint(1, 256)]
        elif op == 4:
            buf[i : i + 4] = rnd.randrange(1 << 32).to_bytes(4, rnd.choice(("big", "little")))
        else:
            buf = buf[:i]
    return bytes(buf)


_TOKENS = [
    b"99999999999999999999",
    b"4294967296",
    b"65536",
    b"-1",
    b"[|tcp]",
    b"options [",
    b"Flags [",
    b" > ",
    b"\x00",
    b"\xff\xff\xff\xff",
    b"\t0x0000:  4500 0028",
    b"&gt;",
    b"> ",
    b"\r\n",
    b"\xc2\xa0",
    b"<mss 1460,",
    b"S 1:1(0) ",
    b"length 99999999999",
]

TARGETS: dict[str, Callable[[bytes], None]] = {"capture": decode, "text": decode}
