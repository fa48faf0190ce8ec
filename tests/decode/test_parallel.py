"""A large JSON document is written by two processes at once (app/decode/model/parallel.py):
the same bytes as one process writes, and a child that fails costs time, not output."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import IO, TextIO

import pytest

from app.decode import analyse, read_path, write_json
from app.decode.model import parallel
from tests.conftest import CAPTURES, reaped


def _json(path: Path, *, summary: bool) -> str:
    out = io.StringIO()
    write_json(analyse(read_path(str(path))), out, summary=summary)
    return out.getvalue()


@pytest.mark.parametrize("summary", [True, False], ids=["summary", "packets"])
def test_two_processes_write_what_one_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, summary: bool
) -> None:
    from benchmarks.gencap import generate

    busy = tmp_path / "busy.pcap"  # 60 interleaved connections with losses and RSTs
    generate(str(busy), 4000, 60, 0, 7)
    for path in (busy, CAPTURES / "http-like.pcap"):
        monkeypatch.setenv("TCPLADDER_PROCESSES", "1")
        one = _json(path, summary=summary)
        monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
        monkeypatch.setattr(parallel, "MIN_WORK", 0)
        assert _json(path, summary=summary) == one
        monkeypatch.undo()


def _mixed(out: TextIO, lo: int, hi: int) -> None:
    out.write("".join("aé中"[k % 3] for k in range(lo, hi)))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_the_childs_half_is_copied_as_the_output_encodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """UTF-8 output takes the child's bytes as they are; any other, its text."""
    copied: list[int] = []
    copy = parallel._copy_text

    def counted(file: IO[bytes], out: TextIO) -> None:
        copied.append(1)
        copy(file, out)

    monkeypatch.setattr(parallel, "_copy_text", counted)
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    path = tmp_path / "out.txt"
    with open(path, "w", encoding=encoding, newline="") as out:
        out.write("<")
        parallel.write_in_two(out, _mixed, 60, 20, parallel.MIN_WORK)
        out.write(">")
    assert path.read_text(encoding) == "<" + "aé中" * 20 + ">"
    assert copied == [1]


def _letters(out: TextIO, lo: int, hi: int) -> None:
    out.write("".join(chr(97 + k % 26) for k in range(lo, hi)))


def test_a_failed_child_costs_time_not_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    parent = os.getpid()

    def failing(out: TextIO, lo: int, hi: int) -> None:
        if os.getpid() != parent:
            out.write("half written")
            raise RuntimeError("the child's failure")
        _letters(out, lo, hi)

    out = io.StringIO()
    parallel.write_in_two(out, failing, 60, 20, parallel.MIN_WORK)
    assert out.getvalue() == "".join(chr(97 + k % 26) for k in range(60))


def test_the_parents_failure_stops_the_child(
    monkeypatch: pytest.MonkeyPatch, forked: list[int]
) -> None:
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    parent = os.getpid()

    def failing(out: TextIO, lo: int, hi: int) -> None:
        if os.getpid() == parent:
            raise BrokenPipeError("the reader went away")
        _letters(out, lo, hi)

    with pytest.raises(BrokenPipeError):
        parallel.write_in_two(io.StringIO(), failing, 60, 20, parallel.MIN_WORK)
    assert reaped(forked)  # no child left behind


def test_small_work_or_one_cpu_stays_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()
    seen: list[int] = []

    def where(out: TextIO, lo: int, hi: int) -> None:
        seen.append(os.getpid())
        _letters(out, lo, hi)

    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    parallel.write_in_two(io.StringIO(), where, 60, 20, parallel.MIN_WORK - 1)
    monkeypatch.setenv("TCPLADDER_PROCESSES", "1")
    parallel.write_in_two(io.StringIO(), where, 60, 20, parallel.MIN_WORK)
    assert seen == [parent, parent]
    assert parallel.processes() == 1


def test_a_hung_child_is_killed_and_its_part_made_here(
    monkeypatch: pytest.MonkeyPatch, forked: list[int]
) -> None:
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    monkeypatch.setattr(parallel, "WAIT", 0.2)
    parent = os.getpid()

    def hanging(out: TextIO, lo: int, hi: int) -> None:
        if os.getpid() != parent:
            time.sleep(60)
        _letters(out, lo, hi)

    out = io.StringIO()
    started = time.monotonic()
    parallel.write_in_two(out, hanging, 60, 20, parallel.MIN_WORK)
    assert time.monotonic() - started < 30
    assert out.getvalue() == "".join(chr(97 + k % 26) for k in range(60))
    assert reaped(forked)


def test_blobs_come_in_order_from_the_child_or_from_here(
    monkeypatch: pytest.MonkeyPatch, forked: list[int]
) -> None:
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    parent = os.getpid()
    made = [bytes([k]) * k for k in range(50)]

    def blobs() -> list[bytes]:
        return list(made)

    def failing() -> list[bytes]:
        if os.getpid() != parent:
            raise OSError("no space left on the device")
        return list(made)

    assert list(parallel.Blobs(blobs, parallel.MIN_WORK)) == made
    assert list(parallel.Blobs(failing, parallel.MIN_WORK)) == made
    assert list(parallel.Blobs(blobs, 0)) == made
    unwanted = parallel.Blobs(blobs, parallel.MIN_WORK)
    unwanted.close()
    assert reaped(forked)


def test_no_temporary_file_means_one_process(
    monkeypatch: pytest.MonkeyPatch, forked: list[int]
) -> None:
    import tempfile

    def full(*args: object, **kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    out = io.StringIO()
    parallel.write_in_two(out, _letters, 60, 20, parallel.MIN_WORK)
    assert out.getvalue() == "".join(chr(97 + k % 26) for k in range(60))
    assert list(parallel.Blobs(lambda: [b"a", b"bc"], parallel.MIN_WORK)) == [b"a", b"bc"]
    assert forked == []


def test_a_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A second process whose parent is killed (kill -9) is killed too: its work is for
    nobody else."""
    import subprocess
    import sys

    script = tmp_path / "orphan.py"
    script.write_text(
        "import io, os, sys, time\n"
        "from app.decode.model import parallel\n"
        "def slow(out, lo, hi):\n"
        "    if lo:\n"
        "        print(os.getpid(), flush=True, file=sys.stderr)\n"
        "        time.sleep(60)\n"
        "parallel.write_in_two(io.StringIO(), slow, 2, 1, parallel.MIN_WORK)\n"
    )
    env = {**os.environ, "TCPLADDER_PROCESSES": "2"}
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, str(script)], cwd=root, env=env, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        child = int(proc.stderr.readline())
        proc.kill()
    for _ in range(200):
        if not Path(f"/proc/{child}").exists() or "Z" in _state(child):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the child outlived its parent")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
