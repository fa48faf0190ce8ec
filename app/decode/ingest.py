"""From uploaded bytes to a Trace: gzip, capture files, or pasted text; junk is refused."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .capture import capture_kind, read_capture
from .errors import EmptyInput, InputTooLarge, UnsupportedInput
from .model import Trace, Warning
from .textparse import parse_text


@dataclass(frozen=True, slots=True)
class Limits:
    max_input: int = 64 * 1024 * 1024  # bytes after decompression
    max_packets: int = 1_000_000


def _gunzip(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise UnsupportedInput(f"gzip data is corrupt: {exc}", offset=0) from exc
    if len(out) > limit:
        raise InputTooLarge(
            f"gzip data expands to more than {limit:,} bytes, the configured limit "
            "(TCPLADDER_MAX_INPUT)"
        )
    return out


_ALLOWED_CONTROL = {9, 10, 12, 13, 27}


def _decode_text(data: bytes, warnings: list[Warning]) -> str:
    probe = data[: 1 << 16]
    nul = probe.find(b"\x00")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if nul >= 0:
        raise UnsupportedInput(
            f"binary data: byte {nul} is 0x00, so this is not text, and the first bytes "
            f"{data[:4].hex(' ')} are not a pcap or pcapng header",
            offset=nul,
            hint="Upload a .pcap/.pcapng file (optionally gzip'd) or paste tcpdump's text output.",
        )
    controls = [i for i, b in enumerate(probe) if b < 32 and b not in _ALLOWED_CONTROL]
    if len(controls) > max(8, len(probe) // 100):
        raise UnsupportedInput(
            f"binary data: {len(controls)} control bytes in the first {len(probe):,} bytes "
            f"(first at byte {controls[0]}), and no pcap or pcapng header",
            offset=controls[0],
            hint="Upload a .pcap/.pcapng file (optionally gzip'd) or paste tcpdump's text output.",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.start
    for encoding in ("gb18030",):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        warnings.append(Warning(None, f"text is not UTF-8 (byte {bad}); read as {encoding}"))
        return text
    warnings.append(
        Warning(None, f"text is not valid UTF-8 at byte {bad}; bad bytes replaced", offset=bad)
    )
    return data.decode("utf-8", errors="replace")


def read_input(data: bytes, limits: Limits | None = None) -> Trace:
    limits = limits or Limits()
    if len(data) > limits.max_input:
        raise InputTooLarge(
            f"input is {len(data) / 1e6:.1f} MB; the limit is {limits.max_input / 1e6:.1f} MB "
            "(TCPLADDER_MAX_INPUT)"
        )
    if not data.strip():
        raise EmptyInput(
            "the input is empty",
            hint="Paste tcpdump output, or choose a .pcap/.pcapng file.",
        )
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, limits.max_input)
        if not data.strip():
            raise EmptyInput("the gzip file is empty")
    if capture_kind(data):
        return read_capture(data, max_packets=limits.max_packets)
    warnings: list[Warning] = []
    text = _decode_text(data, warnings)
    trace = parse_text(text)
    trace.warnings[:0] = warnings
    if len(trace.packets) > limits.max_packets:
        raise InputTooLarge(
            f"the text has {len(trace.packets):,} packets; the limit is {limits.max_packets:,} "
            "(TCPLADDER_MAX_PACKETS)"
        )
    return trace
