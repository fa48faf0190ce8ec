"""``scripts/fuzz TARGET [libFuzzer options]``: a coverage-guided run of one target.

The corpus starts from the target's seeds (tests/fuzz/targets.py); libFuzzer options such
as ``-runs=1000000``, ``-max_total_time=3600``, ``-rss_limit_mb=2048``, ``-timeout=10`` pass
through.  A crash, hang or memory blow-up leaves its input as ``fuzz-out/crash-*`` (or
``timeout-*``, ``oom-*``): add it to tests/fuzz/regressions/ once fixed.

The instrumented process's RSS grows with the run (about 28 KB an input here) although a
plain replay of the same kind of inputs stays flat (atheris' comparison tracing): long runs
use ``-fork=1``, whose child processes start afresh, and catch single blow-ups with
``-malloc_limit_mb``.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["app", "starlette", "python_multipart", "multipart"]):
    from tests.fuzz.targets import TARGETS, seeds


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: scripts/fuzz {{{','.join(TARGETS)}}} [libFuzzer options]")
    name, options = sys.argv[1], sys.argv[2:]
    target = TARGETS[name]
    corpus = Path(tempfile.mkdtemp(prefix=f"tcpladder-fuzz-{name}-"))
    for i, data in enumerate(seeds(name)):
        (corpus / f"seed-{i}").write_bytes(data[:65536])
    out = Path("fuzz-out")
    out.mkdir(exist_ok=True)
    # libFuzzer's -fork=N runs argv[0] through the shell for each child: make it a command
    # line that starts this target again (each child's memory then starts afresh).
    me = f"{shlex.quote(sys.executable)} -m tests.fuzz.run_atheris {name}"
    args = [me, f"-artifact_prefix={out}/", *options, str(corpus)]
    atheris.Setup(args, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
