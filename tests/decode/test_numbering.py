"""Relative numbers and TS echoes as columns equal the packet-by-packet walk (their
definition) on every recorded capture, and on tcpdump's and the peers' captures when
../shared is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.decode import analyse, read_path
from app.decode.analysis.numbering import Numbering, number, walk
from app.decode.model.errors import TraceError

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "corpus"
CAPTURES = sorted(
    p
    for p in (ROOT / "tests" / "fixtures" / "captures").rglob("*")
    if p.suffix in (".pcap", ".pcapng", ".gz", ".zst")
)
CORPUS = sorted(
    p
    for sub in ("tcpdump/pcap", "peer/captures")
    if (SHARED / sub).is_dir()
    for p in (SHARED / sub).iterdir()
)


def _check(path: Path) -> None:
    try:
        ft = analyse(read_path(str(path))).table
    except (TraceError, OverflowError):
        return
    fast = number(ft)
    slow = Numbering.empty(len(ft.order))
    for f in range(ft.count):
        walk(ft, f, slow)
    for name in Numbering.__slots__:
        a, b = getattr(fast, name), getattr(slow, name)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (path.name, name)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_columns_equal_walk_on_fixtures(path: Path) -> None:
    _check(path)


@pytest.mark.skipif(not CORPUS, reason="../shared/corpus not present")
def test_columns_equal_walk_on_corpus() -> None:
    for path in CORPUS:
        _check(path)
