"""A long output written by two processes at once.

The JSON of a large analysis is made flow by flow from columns that are read and never
written, so its two halves can be made at the same time: the second by a forked child
(fork(2): the parent's memory is shared copy-on-write, nothing is pickled), which writes
it to a temporary file while the parent writes the first half to the output; the parent
then copies the child's half after its own.  The bytes are those one process writes: the
halves are cut where the caller says and each is made by the same function.

A child that fails for any reason (an exception, a full temporary directory, a signal)
costs time, not output: the parent makes that half itself.  Without ``os.fork`` (not a
POSIX system), on one CPU, or with ``TCPLADDER_PROCESSES=1``, everything is written here.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from typing import TextIO

# below this much work (the caller's units) a fork and a copy cost more than they save
MIN_WORK = 60_000
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


def write_in_two(
    out: TextIO, write: Callable[[TextIO, int, int], None], n: int, mid: int, work: int
) -> None:
    """``write(out, 0, n)``, made as ``write(out, 0, mid)`` here while a forked child makes
    ``write(file, mid, n)``, when ``work`` is worth it and a fork is possible."""
    if work < MIN_WORK or not 0 < mid < n or processes() < 2 or not hasattr(os, "fork"):
        write(out, 0, n)
        return
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as part:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            _child(part, write, mid, n)
        try:
            write(out, 0, mid)
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            write(out, mid, n)  # the child's half, here after all
            return
        part.seek(0)
        shutil.copyfileobj(part, out, _PIECE)


def _child(  # pragma: no cover - runs in the forked child
    part: TextIO, write: Callable[[TextIO, int, int], None], lo: int, hi: int
) -> None:
    """Write ``lo:hi`` to ``part`` and leave at once: no exit handlers, no buffers of the
    parent's flushed a second time (os._exit)."""
    code = 1
    try:
        write(part, lo, hi)
        part.flush()
        code = 0
    finally:
        os._exit(code)
