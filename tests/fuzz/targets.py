"""Fuzz targets: what any client may send, fed to the decoder and the upload endpoint.

Each target takes arbitrary bytes and must end in a result or a ``TraceError`` (a 4xx):
never another exception, a hang or unbounded memory.  ``tests/fuzz/test_fuzz.py`` runs
them briefly in every test run (hypothesis, structure-aware); ``scripts/fuzz`` runs them
coverage-guided for as long as asked (atheris).  Every failure found becomes an input in
``tests/fuzz/regressions/``, replayed by the tests.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starlette.requests import Request

from app.decode import Limits, analyse, read_input, write_json
from app.decode.model.errors import TraceError
from app.web.upload import expiry, flag, read_submission

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
    if kind == "upload":
        return upload_seeds()
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

UPLOAD_LIMIT = 1 << 20
_LOOP = asyncio.new_event_loop()


def _request(data: bytes) -> Request:
    """A POST /api/sessions from fuzz bytes: the first line is its Content-Type, the second
    its query string, the rest its body."""
    ctype, _, rest = data.partition(b"\n")
    query, _, body = rest.partition(b"\n")
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", ctype[:1000]), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/sessions",
        "headers": headers,
        "query_string": query[:2000],
        "app": object(),  # as under the application: starlette then answers a bad form 400
    }
    return Request(scope, receive)


async def _submit(data: bytes) -> None:
    try:
        sub = await read_submission(_request(data), UPLOAD_LIMIT, timeout=10)
    except TraceError:
        return
    try:
        expiry(sub.fields, 86400, 0, 0.0)
        flag(sub.fields, "keep_input", True)
        flag(sub.fields, "anonymise", False)
    except TraceError:
        pass
    finally:
        sub.data.close()


def upload(data: bytes) -> None:
    """Any request to the upload endpoint, as far as the endpoint's own work goes: the body
    read as a multipart form, a urlencoded form or raw bytes within the size limit, and its
    fields checked, or refused with a ``TraceError``. What it hands on is the bytes the
    ``capture`` and ``text`` targets fuzz."""
    if asyncio._get_running_loop() is None:
        _LOOP.run_until_complete(_submit(data))
        return
    # a loop already runs in this thread (Playwright's sync API leaves one): use another
    with ThreadPoolExecutor(1) as other:
        other.submit(lambda: _LOOP.run_until_complete(_submit(data))).result()


def upload_seeds() -> list[bytes]:
    """Requests of every kind the endpoint takes, around the smallest fixtures."""
    cap = (FIXTURES / "captures" / "refused.pcap").read_bytes()
    text = (FIXTURES / "captures" / "http-like.nn.txt").read_bytes()[:2000]
    b = b"XyZzy"

    def part(name: str, value: bytes, filename: str | None = None) -> bytes:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        return (
            b"--" + b + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n\r\n" + value + b"\r\n"
        )

    form = part("file", cap, "x.pcap") + part("expires_in", b"3600") + part("keep_input", b"0")
    form2 = part("text", text) + part("title", b"t") + part("anonymise", b"1")
    multipart = b"multipart/form-data; boundary=" + b
    return [
        multipart + b"\n\n" + form + b"--" + b + b"--\r\n",
        multipart + b"\n\n" + form2 + b"--" + b + b"--\r\n",
        b"application/x-www-form-urlencoded\n\ntext=" + text[:300].replace(b" ", b"+"),
        b"application/vnd.tcpdump.pcap\nexpires_in=0&anonymise=1\n" + cap,
        b"text/plain\ntitle=x&keep_input=1\n" + text,
    ]


TARGETS: dict[str, Callable[[bytes], None]] = {
    "capture": decode,
    "text": decode,
    "upload": upload,
}
