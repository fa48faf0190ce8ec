"""From uploaded bytes to a Trace: gzip, capture files, or pasted text; junk is refused."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from app.decode.model.errors import EmptyInput, InputTooLarge, UnsupportedInput
from app.decode.model.packet import Notice
from app.decode.model.trace import Trace
from app.decode.readers.capture import read_capture
from app.decode.readers.container import Decompressed, Peeked, container_kind, open_stream
from app.decode.readers.parts import read_in_parts
from app.decode.text.parser import parse_text


@dataclass(frozen=True, slots=True)
class Limits:
    max_input: int = 64 * 1024 * 1024  # bytes as received (compressed or not)
    max_expanded: int = 512 * 1024 * 1024  # bytes after gzip/zstd decompression
    max_packets: int = 20_000_000
    max_lines: int = 20_000_000  # lines of pasted text
    max_line_length: int = 1 << 16  # characters; a longer line is commentary, cut
    max_comment_lines: int = 100_000  # lines of the user's prose kept beside packets
    max_flows: int = 1_000_000  # TCP connections one input may hold
    max_stored: int = 1 << 30  # bytes of the stored analysis (compressed column chunks)


_ALLOWED_CONTROL = {9, 10, 12, 13, 27}


def _check_binary(probe: bytes) -> None:
    """Refuse bytes that are no text (checked on the first 64 KiB, before reading on)."""
    if probe.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16: NUL bytes are part of it
    nul = probe.find(b"\x00")
    if nul >= 0:
        raise UnsupportedInput(
            f"binary data: byte {nul} is 0x00, so this is not text, and the first bytes "
            f"{probe[:4].hex(' ')} are not a pcap or pcapng header",
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


def _decode_text(data: bytes, warnings: list[Notice]) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            warnings.append(
                Notice(
                    None,
                    f"text is UTF-16 (byte-order mark) but not valid at byte {exc.start}; bad "
                    "bytes replaced",
                    offset=exc.start,
                )
            )
            return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.start
    for encoding in ("gb18030",):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        warnings.append(Notice(None, f"text is not UTF-8 (byte {bad}); read as {encoding}"))
        return text
    warnings.append(
        Notice(None, f"text is not valid UTF-8 at byte {bad}; bad bytes replaced", offset=bad)
    )
    return data.decode("utf-8", errors="replace")


def read_input(data: bytes, limits: Limits | None = None) -> Trace:
    """A Trace from bytes held in memory (an upload, a paste)."""
    limits = limits or Limits()
    if len(data) > limits.max_input:
        raise InputTooLarge(
            f"input is {len(data) / 1e6:.1f} MB; the limit is {limits.max_input / 1e6:.1f} MB "
            "(TCPLADDER_MAX_INPUT)"
        )
    return read_stream(io.BytesIO(data), limits)


def read_path(path: str, limits: Limits | None = None) -> Trace:
    """A Trace from a file, streamed: a capture is never held in memory whole."""
    limits = limits or Limits()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        trace = read_in_parts(fh, size, max_packets=limits.max_packets)
        if trace is not None:  # a big plain pcap file, read by two processes
            return trace
        return read_stream(fh, limits)


def read_stream(raw: BinaryIO, limits: Limits, *, spool: bool = False) -> Trace:
    """A Trace from a stream.  With ``spool``, a plain pcap stream is first copied to a
    temporary file, so that a big one can be read by two processes (``readers.parts``)."""
    stream, compression = open_stream(raw, max_input=limits.max_expanded)
    if not stream.head:
        raise EmptyInput(
            "the input is empty",
            hint="Paste tcpdump output, or choose a .pcap/.pcapng file.",
        )
    if spool and compression is None and container_kind(stream.head) == "pcap":
        return _read_spooled(stream, limits)
    if container_kind(stream.head) in ("pcap", "pcapng"):
        trace = read_capture(stream, max_packets=limits.max_packets)  # type: ignore[arg-type]
        trace.kind_detail = compression
        inner = getattr(stream, "raw", None)
        if isinstance(inner, Decompressed) and inner.truncated:
            trace.warnings.append(
                Notice(
                    None,
                    f"the {compression} stream is cut short after {inner.consumed:,} "
                    "compressed bytes; what it held up to there was read",
                    offset=inner.consumed,
                )
            )
        return trace
    return _read_text(stream, compression, limits)


def _read_spooled(stream: Peeked, limits: Limits) -> Trace:
    """A pcap stream copied to a temporary file, then read from there (in two parts when
    it is big); straight from the stream when no temporary file is to be had."""
    try:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    except OSError:
        return read_capture(stream, max_packets=limits.max_packets)  # type: ignore[arg-type]
    with spool:
        shutil.copyfileobj(stream, spool, 1 << 20)
        spool.flush()
        size = spool.tell()
        trace = read_in_parts(spool, size, max_packets=limits.max_packets)
        if trace is None:
            spool.seek(0)
            trace = read_capture(spool, max_packets=limits.max_packets)
        return trace


def _read_text(stream: Any, compression: str | None, limits: Limits) -> Trace:
    """Pasted text, read a MiB at a time with every limit checked as it comes: binary data
    is refused on its first 64 KiB, too many lines as soon as they are counted, too many
    packets while parsing."""
    cap = limits.max_expanded if compression else limits.max_input
    setting = "TCPLADDER_MAX_EXPANDED" if compression else "TCPLADDER_MAX_INPUT"
    parts: list[bytes] = []
    size = lines = 0
    while size <= cap:  # read() would allocate its whole argument up front
        part = stream.read(min(1 << 20, cap + 1 - size))
        if not part:
            break
        if not parts:
            _check_binary(part[: 1 << 16])
        parts.append(part)
        size += len(part)
        lines += part.count(b"\n")
        if lines > limits.max_lines:
            raise InputTooLarge(
                f"the text has more than {limits.max_lines:,} lines (at byte {size:,}), the "
                "limit (TCPLADDER_MAX_LINES)"
            )
    if size > cap:
        raise InputTooLarge(f"the text is more than {cap / 1e6:.1f} MB, the limit ({setting})")
    data = b"".join(parts)
    del parts
    if not data.strip():
        raise EmptyInput(
            f"the {compression} data holds only white space"
            if compression
            else "the input is empty",
            hint="Paste tcpdump output, or choose a .pcap/.pcapng file.",
        )
    warnings: list[Notice] = []
    text = _decode_text(data, warnings)
    del data
    trace = parse_text(
        text,
        max_packets=limits.max_packets,
        max_comment_lines=limits.max_comment_lines,
        max_line_length=limits.max_line_length,
    )
    trace.warnings[:0] = warnings
    return trace
