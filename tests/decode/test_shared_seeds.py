"""The five tutorials in ../shared/seeds, exactly as they are, when that folder is beside the
repository (it is on the project's machines and in CI); skipped elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.decode import analyse, read_input

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
EXPECTED = {
    "000": (12, "four_way_close"),
    "001": (10, "three_way_close"),
    "002": (10, "three_way_close"),
    "003": (7, "open"),
    "004": (19, "three_way_close"),
}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present")
@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_shared_seed_as_pasted(prefix: str) -> None:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    a = analyse(read_input(path.read_bytes()))
    count, ended = EXPECTED[prefix]
    assert len(a.trace.packets) == count
    assert [f.ended_by for f in a.flows] == [ended]
    assert a.flows[0].handshake == "complete"
