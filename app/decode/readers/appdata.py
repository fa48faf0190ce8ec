"""What a TCP payload carries, in one line: HTTP/1.x request and status lines, TLS records
and handshake messages, Redis (RESP) commands and replies, memcached's text protocol and
DNS over TCP.

``recognise`` reads one payload (the packet detail view). ``summaries`` finds, among many
packets at once, the payloads that start such a message, with a vectorised look at their
first bytes, so that a bulk transfer of random bytes costs a few array operations and only
real messages reach Python (the reader calls it on each chunk of frames; the ladder shows
the result on the arrow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

PREVIEW = 512  # payload bytes previewed
SUMMARY = 120  # characters of a one-line summary

HTTP_METHODS: tuple[bytes, ...] = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ")
HTTP_METHODS += (b"PATCH ", b"CONNECT ", b"TRACE ")
# memcached text protocol (protocol.txt): commands and replies.
MEMCACHE_WORDS = (
    b"get ",
    b"gets ",
    b"gat ",
    b"gats ",
    b"set ",
    b"add ",
    b"replace ",
    b"append ",
    b"prepend ",
    b"cas ",
    b"delete ",
    b"incr ",
    b"decr ",
    b"touch ",
    b"stats",
    b"version",
    b"flush_all",
    b"VALUE ",
    b"END\r\n",
    b"STORED\r\n",
    b"NOT_STORED\r\n",
    b"EXISTS\r\n",
    b"NOT_FOUND\r\n",
    b"DELETED\r\n",
    b"TOUCHED\r\n",
    b"STAT ",
    b"VERSION ",
)
# TLS record content types (RFC 8446 §5.1) and handshake types (§4).
TLS_CONTENT = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "ApplicationData"}
TLS_HANDSHAKE = {
    1: "ClientHello",
    2: "ServerHello",
    4: "NewSessionTicket",
    8: "EncryptedExtensions",
    11: "Certificate",
    12: "ServerKeyExchange",
    13: "CertificateRequest",
    14: "ServerHelloDone",
    15: "CertificateVerify",
    16: "ClientKeyExchange",
    20: "Finished",
}
TLS_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2"}


DNS_PORT = 53
# The first four bytes of a text message tcpladder recognises, as big-endian integers.
_WORDS = (
    *HTTP_METHODS,
    b"HTTP/1.",
    *(w for w in MEMCACHE_WORDS if len(w) >= 4),
    b"+OK\r",
    b"-ERR",
)
_PREFIXES = np.array(sorted({int.from_bytes(w[:4], "big") for w in _WORDS}), np.int64)
_DIGITS = (ord("0"), ord("9"))
# bytes shown as they are in a preview (printable ASCII, tab, CR, LF); any other as "."
_SHOWN = bytes(b if b in (9, 10, 13) or 32 <= b < 127 else ord(".") for b in range(256))


def recognise(data: bytes, ports: tuple[int, int] = (0, 0)) -> dict[str, Any] | None:
    """What the payload is, with a readable summary; None when there is none."""
    if not data:
        return None
    printable = data[:PREVIEW].translate(_SHOWN).decode("latin-1")
    out: dict[str, Any] = {"bytes": len(data), "protocol": None, "summary": None, "text": None}
    if data.startswith(HTTP_METHODS) or data.startswith(b"HTTP/1."):
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        out.update(protocol="HTTP", summary=lines[0][:200], text="\n".join(lines[:40]))
        return out
    if len(data) >= 5 and data[0] in TLS_CONTENT and data[1] == 3 and data[2] <= 4:
        records: list[str] = []
        i = 0
        while i + 5 <= len(data) and len(records) < 8:
            ctype, ver, size = data[i], int.from_bytes(data[i + 1 : i + 3], "big"), 0
            size = int.from_bytes(data[i + 3 : i + 5], "big")
            shake = data[i + 5] if ctype == 22 and i + 5 < len(data) and ver != 0 and size else -1
            records.append(tls_record(ctype, ver, size, shake))
            if ctype not in TLS_CONTENT:
                break
            i += 5 + size
        out.update(protocol="TLS", summary=records[0], text="\n".join(records))
        return out
    if data[:1] in (b"*", b"+", b"-", b":", b"$") and (b"\r\n" in data[:64] or 6379 in ports):
        out.update(protocol="Redis", summary=_resp_summary(data), text=printable)
        return out
    if data.startswith(MEMCACHE_WORDS) or (11211 in ports and b"\r\n" in data[:256]):
        first = data.split(b"\r\n", 1)[0].decode("latin-1")
        out.update(protocol="memcache", summary=first[:200], text=printable)
        return out
    out.update(text=printable)
    return out


def tls_record(ctype: int, ver: int, size: int, shake: int) -> str:
    """A TLS record header in words; ``shake`` is a handshake message's type, or -1."""
    name = TLS_CONTENT.get(ctype, f"type {ctype}")
    if shake >= 0:
        name += " " + TLS_HANDSHAKE.get(shake, f"({shake})")
    return f"{name} ({TLS_VERSIONS.get(ver, hex(ver))}, {size} bytes)"


def _resp_summary(data: bytes) -> str:
    """A RESP array of bulk strings is a command: show it as words (redis.io/docs/reference/protocol-spec)."""
    lines = data.split(b"\r\n")
    if lines[0].startswith(b"*"):
        words = [ln.decode("latin-1") for ln in lines[1:] if ln and not ln.startswith(b"$")]
        try:
            count = int(lines[0][1:])
        except ValueError:
            count = len(words)
        return " ".join(words[:count])[:200]
    return lines[0].decode("latin-1")[:200]


def dns_summary(data: bytes) -> str | None:
    """A DNS message over TCP (RFC 1035 §4.2.2: a two-byte length first): its id, whether
    it is a query or a response, and the first question."""
    if len(data) < 2 + 12:
        return None
    msg = data[2:]
    ident, flags, qd = int.from_bytes(msg[0:2], "big"), msg[2], int.from_bytes(msg[4:6], "big")
    name: list[str] = []
    i = 12
    while qd and i < len(msg) and msg[i] and len(name) < 20:
        size = msg[i]
        if size >= 64:  # a compression pointer in a question: not expected, stop
            break
        name.append(msg[i + 1 : i + 1 + size].decode("latin-1"))
        i += 1 + size
    kind = "response" if flags & 0x80 else "query"
    question = ".".join(name) + "." if name else ""
    return f"DNS {kind} 0x{ident:04x} {question}".strip()[:SUMMARY]


@dataclass(slots=True)
class Found:
    """What ``found`` recognised: packets ``rows`` (indexes into the arrays it was given, in
    order), each one's summary ``texts[which]``; a text once however many packets start
    with it."""

    rows: I64
    which: I64
    texts: list[str]

    def as_dict(self) -> dict[int, str]:
        texts = [self.texts[j] for j in self.which.tolist()]
        return dict(zip(self.rows.tolist(), texts, strict=True))


def summaries(buffer: Any, start: I64, stop: I64, sport: I64, dport: I64) -> dict[int, str]:
    """For packets whose captured payload is ``buffer[start:stop]`` (bytes, or any buffer):
    the one-line summary of each that starts a message tcpladder recognises, by index."""
    return found(buffer, start, stop, sport, dport).as_dict()


def found(buffer: Any, start: I64, stop: I64, sport: I64, dport: I64) -> Found:
    """``summaries`` as columns (``Found``)."""
    raw = memoryview(buffer).cast("B")
    buf = np.frombuffer(raw, np.uint8)
    n = len(buf)
    have = stop - start
    idx = np.flatnonzero((have >= 4) & (stop <= n))
    s = start[idx]
    b0, b1, b2 = buf[s].astype(np.int64), buf[s + 1].astype(np.int64), buf[s + 2].astype(np.int64)
    word = (b0 << 24) | (b1 << 16) | (b2 << 8) | buf[s + 3].astype(np.int64)
    digit1 = (b1 >= _DIGITS[0]) & (b1 <= _DIGITS[1])
    text = np.isin(word, _PREFIXES)
    resp = np.isin(b0, (ord("*"), ord("$"), ord(":"))) & digit1
    tls = (b0 >= 20) & (b0 <= 23) & (b1 == 3) & (b2 <= 4)
    dns = (sport[idx] == DNS_PORT) | (dport[idx] == DNS_PORT)
    # A TLS record's summary is in its first six bytes (recognise's first record): one
    # summary per distinct header, not one call per packet of an encrypted bulk transfer.
    records = tls & (have[idx] >= 5)
    parts = [_tls_summaries(buf, idx[records], start, have, word[records])]
    # An HTTP request or status line: its summary is in its first SUMMARY bytes.
    lines, rest = _http_summaries(buf, raw, idx[text & ~records], start, stop)
    parts.append(lines)
    seen: dict[tuple[bytes, bool, bool, bool], str | None] = {}  # the same start again
    rows: list[int] = []
    which: list[int] = []
    number: dict[str, int] = {}  # each summary's index, in order
    others = np.flatnonzero((resp | tls | dns) & ~records & ~text)
    for i in np.union1d(idx[others], rest).tolist():
        k = int(np.searchsorted(idx, i))
        a = int(start[i])
        data = bytes(raw[a : min(int(stop[i]), a + PREVIEW)])
        only_dns = bool(dns[k] and not (text[k] or resp[k] or tls[k]))
        ports = (int(sport[i]), int(dport[i]))
        key = (data, only_dns, 6379 in ports, 11211 in ports)
        if key not in seen:
            if only_dns:
                seen[key] = dns_summary(data)
            else:
                got = recognise(data, ports)
                seen[key] = got["summary"][:SUMMARY] if got and got["summary"] else None
        if summary := seen[key]:
            rows.append(i)
            which.append(number.setdefault(summary, len(number)))
    parts.append(Found(np.array(rows, np.int64), np.array(which, np.int64), list(number)))
    return _joined(parts)


def _joined(parts: list[Found]) -> Found:
    """Parts found by different means, as one, in row order."""
    rows = np.concatenate([p.rows for p in parts])
    offset = np.cumsum([0] + [len(p.texts) for p in parts[:-1]])
    which = np.concatenate([p.which + off for p, off in zip(parts, offset, strict=True)])
    order = np.argsort(rows, kind="stable")
    return Found(rows[order], which[order], [t for p in parts for t in p.texts])


# bytes that decide an HTTP message's summary: its first line, cut at SUMMARY characters,
# and the byte after the cut (a CR there ends the line, or belongs to it when last)
_HTTP_KEY = SUMMARY + 1


def _http_summaries(
    buf: npt.NDArray[np.uint8], raw: memoryview, idx: I64, start: I64, stop: I64
) -> tuple[Found, I64]:
    """Packets ``idx`` whose first four bytes begin a text message: those that start an
    HTTP message, summarised once per distinct first ``_HTTP_KEY`` bytes (the request or
    status line, cut: ``recognise``), and the others, left to be read one by one."""
    if not len(idx):
        return Found(idx, idx, []), idx
    s = start[idx]
    have = np.minimum(stop[idx] - s, _HTTP_KEY)
    first, group = _distinct_starts(buf, s, have)
    texts: list[str] = []
    which = np.full(len(first), -1, np.int64)
    for g, k in enumerate(first.tolist()):
        a = int(s[k])
        got = recognise(bytes(raw[a : min(int(stop[idx[k]]), a + PREVIEW)]))
        if got and got["protocol"] == "HTTP" and got["summary"]:
            which[g] = len(texts)
            texts.append(got["summary"][:SUMMARY])
    per_row = which[group]
    http = per_row >= 0
    return Found(idx[http], per_row[http], texts), idx[~http]


_KEY_WORDS = -(-_HTTP_KEY // 8)  # the key's bytes as little-endian 64-bit words
# odd multipliers of a hash of those words (a hash only groups: equal keys are checked)
_MIX = np.array(
    [(0x9E3779B97F4A7C15 * (2 * j + 1)) & (2**64 - 1) for j in range(_KEY_WORDS)], np.uint64
)


def _distinct_starts(buf: npt.NDArray[np.uint8], s: I64, have: I64) -> tuple[I64, I64]:
    """Rows grouped by their first ``have`` bytes from ``s`` (at most ``_HTTP_KEY``):
    (each group's first row, each row's group), as ``np.unique`` of those bytes gives them.

    The bytes are gathered as 64-bit words (one gather a word instead of one a byte), hashed
    to one number a row, and grouped by it; each row is then checked against its group's
    first row, and if any differs (two keys with one hash), grouped by the bytes
    themselves."""
    words = np.empty((len(s), _KEY_WORDS), np.uint64)
    far = s + 8 * _KEY_WORDS <= len(buf)
    _gather_words(words, buf, s, far)
    if not far.all():  # the last rows' words, from a copy of the buffer's end padded
        lo = int(s[~far].min())
        padded = np.concatenate([buf[lo:], np.zeros(8 * _KEY_WORDS, np.uint8)])
        _gather_words(words, padded, s - lo, ~far)
    valid = np.clip(have[:, None] - 8 * np.arange(_KEY_WORDS), 0, 8).astype(np.uint64)
    mask = np.where(
        valid >= 8, np.uint64(2**64 - 1), (np.uint64(1) << (np.uint64(8) * valid)) - np.uint64(1)
    )
    words &= mask
    h = (words * _MIX).sum(axis=1, dtype=np.uint64) ^ have.astype(np.uint64)
    _, first, group = np.unique(h, return_index=True, return_inverse=True)
    group = group.ravel()
    lead = first[group]
    if not ((words == words[lead]).all() and (have == have[lead]).all()):
        return _distinct_bytes(buf, s, have)
    return first.astype(np.int64), group.astype(np.int64)


def _gather_words(
    words: npt.NDArray[np.uint64], buf: npt.NDArray[np.uint8], s: I64, which: B
) -> None:
    """Rows ``which`` of ``words``: the ``_KEY_WORDS`` little-endian 64-bit words from each
    row's ``s`` (inside ``buf``); rows starting at the same offset mod 8 read one view."""
    n = len(buf)
    for o in range(8):
        rows = np.flatnonzero(which & (s % 8 == o))
        if len(rows):
            view = buf[o : o + (n - o) // 8 * 8].view("<u8")
            words[rows] = view[(s[rows] // 8)[:, None] + np.arange(_KEY_WORDS)]


def _distinct_bytes(buf: npt.NDArray[np.uint8], s: I64, have: I64) -> tuple[I64, I64]:
    """``_distinct_starts`` by the bytes themselves: a row of ``_HTTP_KEY`` bytes (zero past
    ``have``) and ``have`` for each, grouped by ``np.unique``."""
    at = s[:, None] + np.arange(_HTTP_KEY)
    inside = np.arange(_HTTP_KEY) < have[:, None]
    keys = np.where(inside, buf[np.minimum(at, len(buf) - 1)], 0).astype(np.uint8)
    keys = np.concatenate([keys, have.astype(">u2").view(np.uint8).reshape(-1, 2)], axis=1)
    void = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1]))).ravel()
    _, first, group = np.unique(void, return_index=True, return_inverse=True)
    return first.astype(np.int64), group.ravel().astype(np.int64)


def _tls_summaries(buf: npt.NDArray[np.uint8], idx: I64, start: I64, have: I64, word: I64) -> Found:
    """``recognise``'s summary of packets ``idx``, whose payloads start a TLS record header."""
    if not len(idx):
        return Found(idx, idx, [])
    s = start[idx]
    ctype, ver = word >> 24, (word >> 8) & 0xFFFF
    size = ((word & 0xFF) << 8) | buf[s + 4].astype(np.int64)
    shaken = (ctype == 22) & (have[idx] > 5) & (ver != 0) & (size != 0)
    shake = np.full(len(idx), -1, np.int64)
    shake[shaken] = buf[s[shaken] + 5]
    key = (((ctype << 16) | ver) << 16 | size) << 9 | (shake + 1)
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    texts = [
        tls_record(c, v, z, h)[:SUMMARY]
        for c, v, z, h in zip(
            ctype[first].tolist(),
            ver[first].tolist(),
            size[first].tolist(),
            shake[first].tolist(),
            strict=True,
        )
    ]
    return Found(idx, inv.ravel().astype(np.int64), texts)
