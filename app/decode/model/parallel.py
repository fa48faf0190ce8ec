"""Work shared with a forked second process.

The JSON of a large analysis is made flow by flow from columns that are read and never
written, so its two halves can be made at the same time: the second by a forked child
(fork(2): the parent's memory is shared copy-on-write, nothing is pickled), which writes
it to a temporary file while the parent writes the first half to the output; the parent
then copies the child's half after its own (``write_in_two``).  A stored session's packet
chunks are made the same way while the parent makes the rest (``Blobs``), and the second
part of a big pcap file is read so while the parent reads the first (``Later``,
``readers.parts``), as is the second half of the sequence analysis's blocks of connections
(``analysis.sequence.analyse_blocks``).  The bytes are those one process makes: each part is
made by the same function.

A child that fails for any reason (an exception, a full temporary directory, a signal, a
hang) costs time, not output: the parent makes that part itself.  Without ``os.fork`` (not a
POSIX system), on one CPU, or with ``TCPLADDER_PROCESSES=1``, everything is written here.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, BinaryIO, TextIO, cast

# below this much work (the caller's units) a fork and a copy cost more than they save
MIN_WORK = 60_000
# seconds a child may take after the parent's part is done, at least (else twice what the
# parent's part took)
WAIT = 10.0
# the copy from the child's file to the output, a piece at a time
_PIECE = 1 << 20


def processes() -> int:
    """How many processes may share the work: ``TCPLADDER_PROCESSES`` if set, else the
    CPUs this process may run on, at most two."""
    given = os.environ.get("TCPLADDER_PROCESSES", "").strip()
    if given.isdigit() and int(given) > 0:
        return min(int(given), 2)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return min(cpus, 2)


class _Child:
    """``make(file)`` run by a forked child into a temporary file; ``finished`` says
    whether it did (exit 0), waiting at most twice as long as the parent's own part took
    (at least ``WAIT`` seconds): a child that hangs is killed, and the parent does
    its part."""

    def __init__(self, make: Callable[[IO[Any]], None], file: IO[Any]) -> None:
        self.file = file
        self.since = time.monotonic()
        parent = os.getpid()
        self.pid: int | None = os.fork()
        if self.pid == 0:  # pragma: no cover - the child's coverage is not collected
            _child(self.file, make, parent)

    @classmethod
    def start(cls, make: Callable[[IO[bytes]], None]) -> _Child | None:
        """The child, or None when there is no temporary file or process to be had (the
        parent then does it all)."""
        try:
            # closed by stop(), which every user calls in a finally; written and read a
            # piece at a time (8 KiB writes were a third of a big document's system time)
            file = tempfile.TemporaryFile("w+b", buffering=_PIECE)  # noqa: SIM115
        except OSError:
            return None
        try:
            return cls(make, file)
        except OSError:
            file.close()
            return None

    def finished(self) -> bool:
        if self.pid is None:
            return False
        until = time.monotonic() + max(WAIT, 2 * (time.monotonic() - self.since))
        pause = 0.001
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = None
                if os.waitstatus_to_exitcode(status) != 0:
                    return False
                self.file.seek(0)
                return True
            if time.monotonic() > until:
                self.stop()
                return False
            time.sleep(pause)
            pause = min(2 * pause, 0.02)

    def stop(self) -> None:
        """Kill the child if it runs, reap it, drop its file."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        self.file.close()


def worth(work: int, least: int | None = None) -> bool:
    """Whether ``work`` (the caller's units) is worth a second process: at least ``least``
    (``MIN_WORK``), two CPUs, and fork(2)."""
    return (
        work >= (MIN_WORK if least is None else least) and processes() >= 2 and hasattr(os, "fork")
    )


def write_in_two(
    out: TextIO, write: Callable[[TextIO, int, int], None], n: int, mid: int, work: int
) -> None:
    """``write(out, 0, n)``, made as ``write(out, 0, mid)`` here while a forked child makes
    ``write(file, mid, n)``, when ``work`` is worth it and a fork is possible."""
    split = worth(work) and 0 < mid < n
    child = _Child.start(lambda f: _write_text(f, write, mid, n)) if split else None
    if child is None:
        write(out, 0, n)
        return
    try:
        write(out, 0, mid)
        if child.finished():
            _copy_text(cast(IO[bytes], child.file), out)
        else:
            write(out, mid, n)  # the child's half, here after all
    finally:
        child.stop()


def _write_text(  # pragma: no cover - runs in the child
    file: IO[bytes], write: Callable[[TextIO, int, int], None], lo: int, hi: int
) -> None:
    text = io.TextIOWrapper(cast(BinaryIO, file), encoding="utf-8", newline="")
    write(text, lo, hi)
    text.flush()
    text.detach()


def _copy_text(file: IO[bytes], out: TextIO) -> None:
    """The UTF-8 text in ``file`` written to ``out``: as bytes when ``out`` writes UTF-8
    to a byte stream (no decoding and encoding again), else as text."""
    buffer = getattr(out, "buffer", None)
    if buffer is None or codecs.lookup(out.encoding or "ascii").name != "utf-8":
        text = io.TextIOWrapper(cast(BinaryIO, file), encoding="utf-8", newline="")
        shutil.copyfileobj(text, out, _PIECE)
        text.detach()
        return
    out.flush()
    shutil.copyfileobj(file, buffer, _PIECE)


class Blobs:
    """The byte strings ``make()`` yields, made by a forked child from the moment this is
    made (when ``work`` is worth it), while the caller does something else; iterating
    gives them, in order (made here if there is no child or it failed).  ``close`` stops a
    child whose blobs are not wanted after all."""

    def __init__(self, make: Callable[[], Iterable[bytes]], work: int) -> None:
        self.make = make
        self.later = Later(self._write, work)

    def _write(self, file: IO[bytes]) -> None:  # pragma: no cover - runs in the child
        for blob in self.make():
            file.write(len(blob).to_bytes(8, "little"))
            file.write(blob)

    def __iter__(self) -> Iterator[bytes]:
        file = self.later.file()
        try:
            if file is None:
                yield from self.make()
                return
            while head := file.read(8):
                yield file.read(int.from_bytes(head, "little"))
        finally:
            self.later.close()

    def close(self) -> None:
        self.later.close()


def load(file: IO[bytes]) -> object | None:
    """The next object a child pickled to its file, or None when there is none or it cannot
    be read."""
    try:
        got: object = pickle.load(file)  # our own child's, in a private file we made
    except (pickle.UnpicklingError, EOFError, OSError, ValueError):
        return None
    return got


class Later:
    """``make(file)`` run by a forked child into a temporary file from the moment this is
    made (when ``work`` is worth it, ``least`` as in ``worth``), while the caller does its
    own part; ``file()`` waits for it and gives the file to read back, or None (no child,
    or it failed or hung: the caller does that part itself).  ``close`` stops it."""

    def __init__(
        self, make: Callable[[IO[bytes]], None], work: int, least: int | None = None
    ) -> None:
        self.child = _Child.start(make) if worth(work, least) else None

    def file(self) -> IO[bytes] | None:
        child = self.child
        if child is None or not child.finished():
            self.close()
            return None
        return cast(IO[bytes], child.file)

    def unpickled(self) -> object | None:
        """The object the child pickled to its file, or None (no child, it failed, or what
        it wrote cannot be read): the caller then does that part itself."""
        file = self.file()
        return None if file is None else load(file)

    def close(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


def _child(  # pragma: no cover - runs in the forked child
    file: IO[Any], make: Callable[[IO[Any]], None], parent: int
) -> None:
    """``make(file)``, then leave at once: no exit handlers, no buffers of the parent's
    flushed a second time (os._exit).  Killed with the parent (prctl(2)
    PR_SET_PDEATHSIG): its work is for nobody else."""
    code = 1
    try:
        _die_with(parent)
        make(file)
        file.flush()
        code = 0
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:  # pragma: no cover - runs in the forked child
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the child ends with its work
        pass
    if os.getppid() != parent:  # the parent died before that
        os._exit(1)
