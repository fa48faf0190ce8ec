"""A paste's plain lines as rows of numbers (``text.rows``): read as the line parser reads
them, numbered as tcpdump numbers them, made into packets again when shown."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from app.decode.model.packet import ACK, SEQ_MOD, SYN, Packet, packet_record
from app.decode.text import rows as columns
from app.decode.text.line import (
    RECORD_PREFIX,
    START_AT_LINE,
    LineParser,
    Parsed,
    inherit,
    plain_parsed,
)
from app.decode.text.parser import parse_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[3] / "shared"


def _texts() -> list[Path]:
    paths = sorted(FIXTURES.rglob("*.txt"))
    for sub in ("seeds", "corpus/tcpdump/out"):
        base = SHARED / sub
        if base.is_dir():
            paths += sorted(p for p in base.iterdir() if p.is_file())
    return paths


def _slow(line: str, n: int) -> Parsed | None:
    """What the line parser makes of a line holding one packet (None: not one, or warned)."""
    lp = LineParser()
    m = START_AT_LINE.match(line)
    if m is None:
        return None
    got = lp.parse_at(line, m, len(line), n)
    record = RECORD_PREFIX.match(line)
    if not isinstance(got, Parsed) or lp.warnings:
        return None
    if record is not None:
        inherit(got, record, n, lp.warnings)
    return got


def _state(q: Parsed) -> tuple[object, ...]:
    return (
        packet_record(q.packet),
        q.seq_start,
        q.seq_end,
        q.ack,
        q.partial,
        q.has_time,
        q.old,
        q.no_ip,
    )


def _variants(line: str) -> list[str]:
    """A plain line, and lines one change away from it: other time stamps, IPv6, an
    urgent pointer, numbers past their fields, options a row cannot hold."""
    out = [line]
    head, sep, rest = line.partition(" IP ")
    if not sep:
        return out
    out += [
        "1700000000.123456 IP " + rest,
        "25:00:00.000000 IP " + rest,
        head + " IP6 " + rest,
        head + " IP " + rest.replace(", win ", ", win 70000, x ", 1),
        head + " IP " + rest.replace(", win ", ", urg 7, win ", 1),
        head + " IP " + rest.replace(", length ", ", options [sack 1 {5:9}], length ", 1),
        head + " IP " + rest.replace("Flags [", "Flags [Q", 1),
        head + " IP " + rest.replace(".", ".99999", 4),
        line + ": HTTP: GET /IP HTTP/1.1",
        line + " ",
    ]
    return out


def test_every_plain_line_reads_as_the_line_parser_reads_it() -> None:
    """``plain_parsed`` (what a row is made again from) and ``Rows.plain`` (the row itself)
    say of every plain line, and of lines one change away, what LineParser says."""
    seen = plain = 0
    for path in _texts():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for variant in _variants(line):
                seen += 1
                fast = plain_parsed(variant, n)
                if fast is None:
                    continue
                plain += 1
                slow = _slow(variant, n)
                assert slow is not None, (path.name, n, variant)
                assert _state(fast) == _state(slow), (path.name, n, variant)
                rows = columns.Rows()
                if rows.plain(variant, n):
                    p = fast.packet
                    assert rows.printed(0) == tuple(
                        -1 if v is None else v
                        for v in (fast.seq_start, fast.seq_end, fast.ack, p.win, p.length)
                    )
                    o = p.options
                    got = [int(rows.column(k)[0]) for k in ("mss", "wscale", "ts_val", "ts_ecr")]
                    assert got == [
                        -1 if v is None else v for v in (o.mss, o.wscale, o.ts_val, o.ts_ecr)
                    ]
                    assert rows.time[0] == p.time
    # the fixtures alone hold some 480 plain lines; the seeds and tcpdump's corpus more
    assert plain > (1000 if (SHARED / "corpus").is_dir() else 300), (seen, plain)


def _reference(
    rows: list[tuple[tuple[int, int], tuple[int, int], int, int | None, int | None]],
    relative: bool,
) -> list[tuple[int | None, int | None, int | None, int | None]]:
    """tcpdump's numbering undone one packet at a time (print-tcp.c's own walk): the
    definition ``rows.number`` does for all rows at once."""
    bases: dict[tuple[object, object], dict[tuple[int, int], int | None]] = {}
    out: list[tuple[int | None, int | None, int | None, int | None]] = []
    for src, dst, flags, ss, a in rows:
        if not relative or not flags & ACK:
            out.append((ss, a, None, None))
            continue
        key = (src, dst) if src <= dst else (dst, src)
        if key not in bases or flags & SYN:
            bases[key] = {src: ss, dst: (a - 1) % SEQ_MOD if a else None}
            out.append((ss, a, 0 if ss is not None else None, 1 if a is not None else None))
            continue
        sb, ab = bases[key].get(src), bases[key].get(dst)
        seq = ack = rel_seq = rel_ack = None
        if ss is not None:
            rel_seq, seq = ss, (ss + sb) % SEQ_MOD if sb is not None else None
        if a is not None:
            rel_ack, ack = a, (a + ab) % SEQ_MOD if ab is not None else None
        out.append((seq, ack, rel_seq, rel_ack))
    return out


def _reference_guess(
    rows: list[tuple[tuple[int, int], tuple[int, int], int, int | None, int | None]],
) -> bool | None:
    votes_rel = votes_abs = 0
    bases: dict[tuple[object, object], dict[tuple[int, int], int]] = {}
    for src, dst, flags, ss, a in rows:
        if not flags & ACK or a is None:
            continue
        key = (src, dst) if src <= dst else (dst, src)
        if key not in bases or flags & SYN:
            bases[key] = {dst: a - 1}
            if ss is not None:
                bases[key][src] = ss
            continue
        for value, base in ((a, bases[key].get(dst)), (ss, bases[key].get(src))):
            if value is None or base is None:
                continue
            fits_abs = (value - base) % SEQ_MOD < (1 << 24)
            fits_rel = value < (1 << 24) and value != base
            votes_abs += fits_abs and not fits_rel
            votes_rel += fits_rel and not fits_abs
    if votes_rel == votes_abs == 0:
        return None
    return votes_rel > votes_abs


@pytest.mark.parametrize("seed", range(40))
def test_numbering_for_all_rows_at_once_is_the_walk(seed: int) -> None:
    rng = random.Random(seed)
    ends = [("10.0.0.1", 80), ("10.0.0.2", 4000), ("10.0.0.2", 4001), ("10.0.0.3", None)]
    got = columns.Rows()
    spec = []
    for k in range(rng.randint(1, 60)):
        (sh, sp), (dh, dp) = rng.choice(ends), rng.choice(ends)
        flags = rng.choice([SYN, SYN | ACK, ACK, ACK, ACK | 0x08, ACK | 0x01, 0x04, 0])
        ss = rng.choice([None, 0, 1, 2, rng.randrange(SEQ_MOD)])
        a = rng.choice([None, 0, 1, 7, rng.randrange(SEQ_MOD)])
        p = Packet(n=k + 1, src_host=sh, src_port=sp, dst_host=dh, dst_port=dp, flags=flags)
        got.add(Parsed(packet=p, seq_start=ss, ack=a))
        ids = got.host_ids
        spec.append(
            ((ids[sh], -1 if sp is None else sp), (ids[dh], -1 if dp is None else dp), flags, ss, a)
        )
    assert columns._guess_relative(got) == _reference_guess(spec)
    for relative in (True, False):
        numbers = columns.number(got, ["n"] if relative else ["S"])
        assert numbers.relative is relative
        mine = [
            tuple(None if v < 0 else v for v in row)
            for row in zip(
                numbers.seq.tolist(),
                numbers.ack.tolist(),
                numbers.rel_seq.tolist(),
                numbers.rel_ack.tolist(),
                strict=True,
            )
        ]
        assert mine == _reference(spec, relative)


PLAIN_PASTE = "\n".join(
    f"10:00:{k // 1000:02d}.{k % 1000:06d} IP 10.0.0.{1 + k % 2}.{80 if k % 2 else 40000} > "
    f"10.0.0.{2 - k % 2}.{40000 if k % 2 else 80}: Flags [.], ack {k + 1}, win 502, "
    f"options [nop,nop,TS val {k} ecr {k}], length 0"
    for k in range(2000)
)


def test_a_plain_paste_is_rows_and_its_packets_are_made_again_when_shown() -> None:
    trace = parse_text(PLAIN_PASTE)
    table = trace.table
    assert trace.packet_count == 2000 and not table.objects and table.remake is not None
    lines = PLAIN_PASTE.splitlines()
    p = table.packet(1234)
    assert (p.n, p.line, p.raw, p.time_text) == (1235, 1235, lines[1234], lines[1234][:15])
    assert p.options.items == ["nop", "nop", "TS val 1234 ecr 1234"]
    assert np.array_equal(table.col("ts_val"), np.arange(2000))


def test_a_row_something_attaches_to_is_kept() -> None:
    """Decode lines under a plain packet and a quote of one with the prose around it keep
    that row's packet; the other rows stay numbers."""
    lines = PLAIN_PASTE.splitlines()[:50]
    quote = lines[10].split(" ", 1)[1]  # the packet again, without its time stamp
    text = "\n".join(
        [*lines[:20], "\tHTTP: a decode line", *lines[20:], "so this one:", quote, "is it."]
    )
    trace = parse_text(text)
    table = trace.table
    assert trace.packet_count == 50 and sorted(table.objects) == [10, 19]
    assert table.packet(19).details == ["HTTP: a decode line"]
    assert [c.text for c in table.packet(10).comments] == ["so this one:", quote, "is it."]
    assert table.packet(11).comments == [] and table.objects.get(11) is None


def test_rows_made_again_are_anonymised_as_the_kept_ones() -> None:
    from app.decode.readers.anonymise import anonymise

    trace = parse_text(PLAIN_PASTE)
    anonymise(trace, b"k" * 16)
    p = trace.table.packet(5)
    assert "10.0.0." not in (p.raw or "") and p.src_host in trace.table.hosts
    assert p.details == []
