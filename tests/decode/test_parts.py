"""A pcap file read as two parts at once (app/decode/readers/parts.py) gives what one
process reading it gives: merged when the parts are independent, read on here when they are
not, whether the guessed boundary is right or the child fails."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from app.decode import analyse, read_path, write_json
from app.decode.model import parallel
from app.decode.model.errors import InputTooLarge
from app.decode.readers import capture, parts
from tests.conftest import CAPTURES, reaped

PCAPS = sorted(p for p in CAPTURES.rglob("*.pcap"))


def _json(path: Path) -> str:
    out = io.StringIO()
    trace = read_path(str(path))
    write_json(analyse(trace), out)
    return out.getvalue() + repr([(w.text, w.offset) for w in trace.warnings])


@pytest.fixture
def two(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Two processes for any size of file (``one`` switches back to one)."""
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    monkeypatch.setattr(parts, "MIN_BYTES", 0)
    return monkeypatch


def _one(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setenv("TCPLADDER_PROCESSES", "1")
        return _json(path)


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.gencap import generate

    path = tmp_path_factory.mktemp("parts") / "busy.pcap"
    generate(str(path), 6000, 50, 0, 11)  # 50 interleaved connections, losses and RSTs
    return path


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_every_fixture_reads_the_same_in_two_parts(
    path: Path, two: pytest.MonkeyPatch, forked: list[int]
) -> None:
    assert _json(path) == _one(path, two)


def test_independent_parts_are_merged(
    busy: Path, two: pytest.MonkeyPatch, forked: list[int], merged: list[int]
) -> None:
    assert _json(busy) == _one(busy, two)
    assert merged and 0 < merged[0] < 6000
    assert reaped(forked)


def test_a_wrong_boundary_is_read_on_from_here(
    busy: Path, two: pytest.MonkeyPatch, forked: list[int]
) -> None:
    """A guess that is not a record boundary (a byte inside a record): the first part's
    last record runs past it, so its child's rows are dropped and the rest read here."""
    near = parts.record_near

    def off_by_five(fd: int, head: bytes, at: int, size: int) -> int | None:
        got = near(fd, head, at, size)
        return None if got is None else got + 5

    two.setattr(parts, "record_near", off_by_five)
    two.setattr(capture.Reading, "merge", _never)
    assert _json(busy) == _one(busy, two)
    assert reaped(forked)


def _never(self: capture.Reading, parcel: capture.Parcel) -> None:
    raise AssertionError("merged a part it should not have")


def test_a_failed_child_costs_time_not_output(
    busy: Path, two: pytest.MonkeyPatch, forked: list[int]
) -> None:
    parent = os.getpid()
    second = parts._second

    def failing(*args: object) -> None:
        if os.getpid() != parent:
            raise MemoryError("the child ran out")
        second(*args)  # type: ignore[arg-type]

    two.setattr(parts, "_second", failing)
    two.setattr(capture.Reading, "merge", _never)
    assert _json(busy) == _one(busy, two)
    assert reaped(forked)


def test_the_packet_limit_is_the_one_process_error(
    busy: Path, two: pytest.MonkeyPatch, forked: list[int]
) -> None:
    """A limit that the first part stays under but the whole file does not: the error one
    process gives, at the same packet and byte."""
    from app.decode import Limits

    limits = Limits(max_packets=4500)
    with pytest.raises(InputTooLarge) as one, two.context() as m:
        m.setenv("TCPLADDER_PROCESSES", "1")
        read_path(str(busy), limits)
    with pytest.raises(InputTooLarge) as both:
        read_path(str(busy), limits)
    assert str(both.value) == str(one.value)
    assert forked and reaped(forked)


def test_a_cut_short_file_warns_as_one_process_does(
    busy: Path, tmp_path: Path, two: pytest.MonkeyPatch, forked: list[int]
) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(busy.read_bytes()[:-7])
    assert "ends inside record" in _json(cut)
    assert _json(cut) == _one(cut, two)


def test_record_near_finds_a_record_and_not_noise(busy: Path, tmp_path: Path) -> None:
    import struct

    data = busy.read_bytes()
    starts, off = [], 24
    while off < len(data):
        starts.append(off)
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    with open(busy, "rb") as fh:
        got = parts.record_near(fh.fileno(), data[:24], len(data) // 2, len(data))
    assert got == min(s for s in starts if s >= len(data) // 2)
    noise = tmp_path / "noise.pcap"
    noise.write_bytes(data[:24] + os.urandom(1 << 16))
    with open(noise, "rb") as fh:
        assert parts.record_near(fh.fileno(), data[:24], 1 << 15, (1 << 16) + 24) is None


def test_small_files_and_one_cpu_stay_in_one_process(
    busy: Path, monkeypatch: pytest.MonkeyPatch, forked: list[int]
) -> None:
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    read_path(str(busy))  # below MIN_BYTES
    monkeypatch.setattr(parts, "MIN_BYTES", 0)
    monkeypatch.setenv("TCPLADDER_PROCESSES", "1")
    read_path(str(busy))
    assert forked == []
    assert parallel.processes() == 1


def test_a_window_that_looks_right_everywhere_is_given_up_on_quickly(tmp_path: Path) -> None:
    """Headers that look right at every byte but never chain 32 records: the search stops
    after ``MAX_STEPS`` steps (one process reads the file) instead of following each."""
    import struct
    import time

    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    # records of caplen 64 whose successor (80 bytes on) is cut: at every 4th byte a time
    # of 0, a fraction of 0, caplen 64 and wire length 64, then a word that breaks it
    cell = struct.pack("<IIII", 0, 0, 64, 64)
    body = (cell * 5 + b"\xff" * 16) * 40_000
    path = tmp_path / "crafted.pcap"
    path.write_bytes(head + struct.pack("<IIII", 0, 0, 0, 0) + body)
    started = time.monotonic()
    with open(path, "rb") as fh:
        got = parts.record_near(fh.fileno(), head, len(body) // 2, len(body) + 40)
    assert got is None
    assert time.monotonic() - started < 5
