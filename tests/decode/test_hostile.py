"""Input no tcpdump or capture tool would write still gets an answer, never a crash:
numbers beyond their fields, malformed hex dumps, pcapng time resolutions and offsets at the
edge of 64 bits."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from app.decode import analyse, read_input, write_json
from app.decode.model.errors import TraceError
from tests.conftest import load

LINE = (
    "15:46:23.440002 IP 127.0.0.1.39546 > 127.0.0.1.8080: Flags [.], ack 52, win 64, "
    "options [nop,nop,TS val 1631587213 ecr 3236991680], length 0"
)
GOOD = load("http-like.nn.txt").decode().splitlines()[0]


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("win 64,", "win 99999999999,"),
        ("39546 >", "99999 >"),
        ("ack 52,", "ack 99999999999999999999999,"),
        ("length 0", "length 999999999999999999999999"),
        ("TS val 1631587213", "TS val 4294967296"),
    ],
)
def test_numbers_beyond_their_fields_are_refused_with_a_reason(damage: str, why: str) -> None:
    text = GOOD + "\n" + LINE.replace(damage, why) + "\n"
    trace = read_input(text.encode())
    assert trace.packet_count == 1
    assert any("kept as commentary" in w.message and w.line == 2 for w in trace.warnings)
    write_json(analyse(trace), _Sink())


def test_a_malformed_hex_dump_line_is_not_a_crash() -> None:
    text = GOOD + "\n\t0x0000:  450 0028 0000 4000\n"
    trace = read_input(text.encode())
    assert trace.packet_count == 1
    write_json(analyse(trace), _Sink())


def _pcapng(tsresol: int, tsoffset: int, stamp: int) -> bytes:
    """A pcapng file: section, one raw-IPv4 interface with if_tsresol and if_tsoffset, and
    one Enhanced Packet Block holding a SYN."""
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HHq", 14, 8, tsoffset)
    opts += struct.pack("<HH", 0, 0)
    idb_len = 20 + len(opts)
    idb = struct.pack("<IIHHI", 1, idb_len, 101, 0, 65535) + opts + struct.pack("<I", idb_len)
    ip = bytes.fromhex("4500002800014000400600007f0000017f000001")
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 5 << 4, 0x02, 1024, 0, 0)
    frame = ip + tcp
    epb_len = 32 + len(frame)
    epb = struct.pack(
        "<IIIIIII", 6, epb_len, 0, stamp >> 32, stamp & 0xFFFFFFFF, len(frame), len(frame)
    )
    return shb + idb + epb + frame + struct.pack("<I", epb_len)


@pytest.mark.parametrize(
    ("tsresol", "tsoffset", "stamp"),
    [
        (19, 0, 1 << 63),  # 10**19 units a second
        (0x80 | 63, 0, (1 << 64) - 1),  # 2**63 units a second, the largest stamp
        (6, (1 << 63) - 1, (1 << 64) - 1),  # the largest offset
        (0x80 | 127, 0, 5),  # units no 64-bit stamp can count: read as microseconds
        (20, 0, 5),
    ],
)
def test_pcapng_time_stamps_at_the_edge_of_64_bits(tsresol: int, tsoffset: int, stamp: int) -> None:
    try:
        trace = read_input(_pcapng(tsresol, tsoffset, stamp))
    except TraceError:
        pytest.fail("a pcapng that tshark reads is refused")
    assert trace.packet_count == 1
    t = trace.packets[0].time
    assert t is not None and t == t
    write_json(analyse(trace), _Sink())


class _Sink(io.StringIO):
    """Takes the JSON and keeps none of it."""

    def write(self, s: str) -> int:
        return len(s)


def test_text_limits_are_enforced_while_reading() -> None:
    from app.decode import Limits
    from app.decode.model.errors import InputTooLarge

    lines = (GOOD + "\n").encode() * 50
    with pytest.raises(InputTooLarge, match="TCPLADDER_MAX_LINES"):
        read_input(lines, Limits(max_lines=10))
    with pytest.raises(InputTooLarge, match="more than 5 packets") as exc:
        read_input(lines, Limits(max_packets=5))
    assert exc.value.line == 6  # refused at the packet one too many, not after the parse
    prose = ("just words\n" * 100 + GOOD + "\n").encode()
    trace = read_input(prose, Limits(max_comment_lines=10))
    kept = len(trace.preamble) + sum(len(p.comments) for p in trace.packets)
    assert kept == 10 and any("TCPLADDER_MAX_COMMENT_LINES" in w.message for w in trace.warnings)
    long = (GOOD + " " + "x" * 5000 + "\n").encode()
    trace = read_input(long, Limits(max_line_length=1000))
    assert trace.packet_count == 1
    assert any("only its first 1,000" in w.message for w in trace.warnings)


TCPDUMP_CORPUS = Path(__file__).parents[3] / "shared" / "corpus" / "tcpdump" / "pcap"


@pytest.mark.skipif(
    not TCPDUMP_CORPUS.is_dir(), reason="../shared/corpus/tcpdump is not next to the repo"
)
def test_tcpdump_crash_reproducers_open_cleanly_or_fail_clearly() -> None:
    """tcpdump's test captures (many of them inputs that once crashed tcpdump) through the
    whole path an upload takes: read, analyse, the JSON document. A clear TraceError is
    allowed; any other exception is a bug."""
    opened = failed = 0
    for path in sorted(TCPDUMP_CORPUS.iterdir()):
        try:
            write_json(analyse(read_input(path.read_bytes())), io.StringIO())
            opened += 1
        except TraceError as exc:
            assert exc.status < 500 and exc.message, path.name
            failed += 1
    assert opened > 100 and opened + failed == len(list(TCPDUMP_CORPUS.iterdir()))
