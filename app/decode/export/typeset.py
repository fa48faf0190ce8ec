"""Many rows of one text template at once, from columns.

A row is ``pieces[0] + slots[0][i] + pieces[1] + ... + pieces[-1]``: the pieces are the
template's constant text, each slot a ``(rows, width)`` array of UTF-8 bytes, NUL-padded
(padding may stand anywhere in a slot: integers are right-aligned).  ``typeset`` lays every
row in one byte array, drops the NULs with one ``bytes.translate`` and splits the rows
apart; the slots are made by numpy (``integers``: digits four at a time from a table of
0000-9999; ``table``: one padded text per code) or, for what numpy cannot write the way
Python does (``repr`` of a float), from Python's texts (``texts``).  JSON never holds a
raw NUL or newline (``json.dumps`` escapes both), so neither can be lost or split on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Slot = npt.NDArray[np.uint8]

# "0000" .. "9999" as little-endian 32-bit words, so a value's four digits are one gather
_FOUR = np.frombuffer(b"".join(b"%04d" % i for i in range(10_000)), dtype="<u4")
_POWERS = 10 ** np.arange(19, dtype=np.int64)  # 1, 10, ... 10**18
_NULL = np.frombuffer(b"null", dtype=np.uint8)
_NEWLINE = ord("\n")


def integers(values: npt.NDArray[Any], least: int = 1) -> Slot:
    """Decimal texts of an integer column (int64 range), a negative value (unknown) as
    ``null``: ``str(v) if v >= 0 else "null"`` of each, in a slot of ``least`` digits or
    more."""
    v = np.asarray(values, dtype=np.int64)
    n = len(v)
    top = int(v.max()) if n else 0
    if top < 0 and least <= len(_NULL):  # unknown on every row (options most packets lack)
        return constant(n, "null")
    words = max(1, -(-max(len(str(max(top, 0))), least) // 4))
    width = 4 * words
    out = np.empty((n, words), dtype="<u4")
    rest = np.maximum(v, 0)
    for w in range(words - 1, -1, -1):
        rest, four = np.divmod(rest, 10_000)
        out[:, w] = _FOUR[four]
    digits = out.view(np.uint8).reshape(n, width)
    known = v >= 0
    count = np.where(known, np.maximum(np.searchsorted(_POWERS, v, side="right"), 1), 4)
    digits *= np.arange(width) >= (width - count)[:, None]
    if not known.all():
        digits[~known, width - 4 :] = _NULL
    return digits


Rounding = Literal["none", "python", "numpy"]


def decimals(
    values: npt.NDArray[np.float64],
    places: int,
    fallback: Callable[[float], str],
    *,
    rounding: Rounding,
) -> Slot:
    """``fallback(v)`` of each value (NaN: ``null``), where that is ``repr`` of a float
    that is a decimal of at most ``places`` places: the value itself (``"none"``: a time in
    whole microseconds), ``round(v, places)`` (``"python"``) or ``numpy.round(v, places)``
    (``"numpy"``).  Written here as that decimal, trailing zeros dropped but one, where
    that is certain; ``fallback`` makes the rest.

    ``repr`` writes a float below 2**31 (where a double's spacing is under 10**-6, so no
    other decimal of as few places is as near) and of at least 1e-4 without exponent, as
    the nearest decimal of fewest digits.  So the text is certain where the result is in
    that range and: ``"none"``, the value is that decimal's nearest double; ``"python"``,
    the scaled value (below 2**32, so off by under 1e-6) is not within 1e-6 of a tie, and
    rounding it rounds the exact product as ``round`` does; ``"numpy"``, which rounds the
    scaled value as it is (``rint``) and divides, whatever the value (not negative, as
    ``-0.0`` is written with its sign)."""
    v = np.asarray(values, dtype=np.float64)
    n, unit = len(v), 10**places
    with np.errstate(invalid="ignore", over="ignore"):  # NaN, inf and huge: not sure
        scaled = v * unit
        whole = np.rint(scaled)
        if rounding == "none":
            sure = (v >= 1e-4) & (v < 2.0**31) & (whole / unit == v)
        elif rounding == "python":
            sure = (v >= 1e-4) & (scaled < 2.0**32) & (np.abs(np.abs(scaled - whole) - 0.5) > 1e-6)
        else:
            sure = ~np.signbit(v) & (whole < 2.0**31)
    count = np.where(sure, whole, 0).astype(np.int64)
    head = integers(count // unit)
    fraction = _fraction(count % unit, places)
    slots = [head, fraction]
    rest = np.flatnonzero(~sure)
    if len(rest):
        head[rest] = 0
        fraction[rest] = 0
        slots.append(_others(n, rest, v[rest], fallback))
    return np.concatenate(slots, axis=1)


def _others(
    n: int,
    rows: npt.NDArray[np.intp],
    values: npt.NDArray[np.float64],
    text: Callable[[float], str],
) -> Slot:
    """A slot with ``text(v)`` on the given rows (``null`` for NaN) and nothing on the rest."""
    nan = np.isnan(values)
    made = _padded([text(x) for x in values[~nan].tolist()])
    out = np.zeros((n, max(made.shape[1], len(_NULL))), dtype=np.uint8)
    out[rows[~nan], : made.shape[1]] = made
    out[rows[nan], : len(_NULL)] = _NULL
    return out


def _fraction(values: npt.NDArray[np.int64], places: int) -> Slot:
    """ "." and ``places`` digits of each value, trailing zeros dropped but one."""
    n = len(values)
    digits = integers(values + 10**places, places + 1)  # a leading 1 keeps the zeros
    digits = digits[:, digits.shape[1] - places - 1 :].copy()
    digits[:, 0] = ord(".")
    zeros = np.zeros(n, dtype=np.int64)
    for k in range(places, 1, -1):  # trailing zeros, the first digit kept
        trailing = (zeros == places - k) & (digits[:, k] == ord("0"))
        zeros += trailing
    digits *= np.arange(places + 1) < (places + 1 - zeros)[:, None]
    return digits


def table(codes: npt.NDArray[Any], texts: Sequence[str]) -> Slot:
    """``texts[code]`` of each row's code."""
    return _padded(texts)[np.asarray(codes, dtype=np.intp)]


def by_key(keys: npt.NDArray[Any], texts_of: Callable[[npt.NDArray[Any]], Sequence[str]]) -> Slot:
    """Each row's text, ``texts_of(distinct)`` giving one for each of the distinct keys
    (sorted) at once."""
    distinct, which = np.unique(keys, return_inverse=True)
    return table(which.reshape(-1), texts_of(distinct))


def texts(values: Sequence[str]) -> Slot:
    """Each row's own text (made by Python)."""
    return _padded(values)


def constant(n: int, text: str) -> Slot:
    """The same text on every row (a read-only view: one row's bytes)."""
    return np.broadcast_to(_padded([text]), (n, len(text.encode())))


def _padded(values: Sequence[str]) -> Slot:
    raw = np.array([t.encode() for t in values], dtype=np.bytes_)
    width = raw.dtype.itemsize
    return raw.view(np.uint8).reshape(len(values), width)


def typeset(pieces: Sequence[str], slots: Sequence[Slot]) -> list[str]:
    """Each row's text: the pieces with the slots between them (one more piece than
    slots; every slot has the same number of rows)."""
    if len(pieces) != len(slots) + 1:
        raise ValueError("a template has one more piece than slots")
    n = len(slots[0]) if slots else 0
    if not n:
        return []
    heads = [p.encode() for p in pieces]
    width = sum(map(len, heads)) + sum(s.shape[1] for s in slots) + 1
    template = np.zeros(width, dtype=np.uint8)
    rows = np.empty((n, width), dtype=np.uint8)
    at = 0
    for head, slot in zip(heads, [*slots, None], strict=True):
        template[at : at + len(head)] = np.frombuffer(head, dtype=np.uint8)
        at += len(head)
        if slot is not None:
            at += slot.shape[1]
    template[at] = _NEWLINE
    rows[:] = template
    at = 0
    for head, slot in zip(heads, slots, strict=False):
        at += len(head)
        rows[:, at : at + slot.shape[1]] = slot
        at += slot.shape[1]
    return rows.tobytes().translate(None, b"\0").decode().split("\n")[:-1]


class Template:
    """A template written piece by piece: ``t(text)`` adds constant text, ``t(text,
    slot)`` text and then a slot; ``rows()`` typesets it."""

    def __init__(self) -> None:
        self.pieces: list[str] = [""]
        self.slots: list[Slot] = []

    def __call__(self, text: str, slot: Slot | None = None) -> None:
        self.pieces[-1] += text
        if slot is not None:
            self.slots.append(slot)
            self.pieces.append("")

    def rows(self) -> list[str]:
        return typeset(self.pieces, self.slots)
