"""Group statistics (``analysis.stats``) against each group's values taken one by one."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decode.analysis.stats import stats

_SAMPLE = st.tuples(
    st.integers(0, 70_000),  # groups past 65,535 take the second radix pass
    st.one_of(st.floats(0, 5, allow_nan=False), st.just(math.nan), st.sampled_from([0.0, 1.5])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_SAMPLE, max_size=60), st.booleans())
def test_min_median_max_of_each_group(samples: list[tuple[int, float]], negative: bool) -> None:
    if negative:  # values below zero sort as well
        samples = [(g, -v) for g, v in samples]
    count = 70_001
    fid = np.array([g for g, _ in samples], np.int64)
    values = np.array([v for _, v in samples], np.float64)
    got = stats(fid, values, count)
    for g in set(fid.tolist()):
        mine = sorted(v for k, v in samples if k == g and not math.isnan(v))
        assert got.samples[g] == len(mine)
        if not mine:
            assert math.isnan(got.min[g]) and math.isnan(got.median[g])
            continue
        middle = (mine[(len(mine) - 1) // 2] + mine[len(mine) // 2]) / 2
        assert (got.min[g], got.median[g], got.max[g]) == (mine[0], middle, mine[-1])
    assert int(got.samples.sum()) == int((~np.isnan(values)).sum())
