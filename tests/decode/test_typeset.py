"""Rows typeset from columns (``export.typeset``) against the Python texts they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.decode.export import typeset


def _rows(slot: typeset.Slot) -> list[str]:
    return typeset.typeset(["<", ">"], [slot])


def _ms(v: float) -> str:
    return "null" if v != v else repr(round(v, 3))


def _time(v: float) -> str:
    return "null" if v != v else repr(v)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-5, 2**63 - 1) | st.integers(-1, 10**6), max_size=40))
@example([0, 9, 10, 9999, 10_000, 99_999_999, 10**8, -1, 2**63 - 1])
def test_integers_are_str_or_null(values: list[int]) -> None:
    got = _rows(typeset.integers(np.array(values, dtype=np.int64)))
    assert got == [f"<{v}>" if v >= 0 else "<null>" for v in values]


_MICROSECONDS = st.integers(0, 2**31 * 10**6 - 1).map(lambda us: us / 1e6)
_TIMES = _MICROSECONDS | st.floats(allow_nan=True, allow_infinity=True)
_TIMES |= st.sampled_from([0.0, 1e-4, 9.9e-5, 1e-05, -1.5, 2.0**31, 1700000000.0, 0.1])


@settings(max_examples=400, deadline=None)
@given(st.lists(_TIMES, max_size=30))
@example([1700000000.123456, 1700000000.1, 1700000000.000001, 1e16, math.nan, 123.000100])
def test_exact_decimals_are_repr(values: list[float]) -> None:
    got = _rows(typeset.decimals(np.array(values, dtype=np.float64), 6, _time, rounding="none"))
    assert got == [f"<{_time(v)}>" for v in values]


_MS = st.floats(0, 1e7) | st.floats(allow_nan=True, allow_infinity=True)
_MS |= st.integers(0, 10**12).map(lambda k: k / 1000 + 0.0005)  # ties, near ties
_MS |= st.floats(2.0**19, 2.0**21)
_MS |= st.sampled_from([0.0, 0.0004, 0.0005, 0.0015, 2.675, 1.0005, 1e-4, 2.0**31 - 0.1])


@settings(max_examples=400, deadline=None)
@given(st.lists(_MS, max_size=30))
@example([2.675, 0.0005, 0.0015, 1.0005, 123.4565, math.nan, 5e-324, 1e300])
def test_rounded_decimals_are_repr_of_round(values: list[float]) -> None:
    got = _rows(typeset.decimals(np.array(values, dtype=np.float64), 3, _ms, rounding="python"))
    assert got == [f"<{_ms(v)}>" for v in values]


_ANY = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1, 1e7) | _MS
_ANY |= st.sampled_from([-0.0, -1e-9, 2.0**31 / 1000, 2.0**31 * 1000])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ANY, max_size=30), st.sampled_from([1, 3]))
@example([2.675, 0.0005, -0.0, -1e-9, 1e-9, 0.0, math.nan, 2147483.6475], 3)
@example([1.797693134862316e307, 1.7976931348623157e308], 1)
def test_numpy_rounded_decimals_are_repr_of_numpy_round(values: list[float], places: int) -> None:
    def text(v: float) -> str:
        with np.errstate(over="ignore"):  # near the largest double, as the writer does
            return "null" if v != v else repr(float(np.round(v, places)))

    got = _rows(
        typeset.decimals(np.array(values, dtype=np.float64), places, text, rounding="numpy")
    )
    assert got == [f"<{text(v)}>" for v in values]


def test_tables_texts_constants_and_pieces() -> None:
    codes = np.array([2, 0, 1, 2])
    slots = [
        typeset.table(codes, ["a", "", "ünï"]),
        typeset.texts(["x", "", '"q"', "yy"]),
        typeset.constant(4, "k"),
    ]
    assert typeset.typeset(["[", ",", ",", "]"], slots) == [
        "[ünï,x,k]",
        "[a,,k]",
        '[,"q",k]',
        "[ünï,yy,k]",
    ]
    assert typeset.typeset(["only"], []) == []
    with pytest.raises(ValueError):
        typeset.typeset(["a"], slots)
