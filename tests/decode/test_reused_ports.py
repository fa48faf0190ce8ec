"""Port reuse judged at once (``flows._reused_ports``) against the walk one SYN at a time
that states Wireshark's rule directly (``flows._walk_reused`` over every candidate)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decode.analysis.flows import _reused_ports, _walk_reused
from app.decode.model.packet import ACK, SYN

# a row: (which endpoint of its conversation sent it, SYN, ACK, seq, ack); small seq and
# ack ranges so that equal and off-by-one values (retransmissions, base - 1) are common
_ROW = st.tuples(
    st.integers(0, 1),
    st.booleans(),
    st.booleans(),
    st.integers(-1, 4),
    st.integers(-1, 4),
)


def _walked(
    conv_start: np.ndarray, src: np.ndarray, flags: np.ndarray, seq: np.ndarray, ack: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = len(src)
    split, reused = np.zeros(n, bool), np.zeros(n, bool)
    syn = (flags & SYN) > 0
    has_ack = ((flags & ACK) > 0) & (ack >= 0)
    cand = np.flatnonzero(syn & (seq >= 0) & ~conv_start)
    conv_id = np.cumsum(conv_start) - 1
    heads = np.flatnonzero(conv_start)
    _walk_reused(cand, conv_id, heads, src, syn, seq, ack, has_ack, split, reused)
    return split, reused


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_ROW, min_size=1, max_size=12), min_size=1, max_size=6))
def test_reuse_judged_at_once_is_the_walk(
    convs: list[list[tuple[int, bool, bool, int, int]]],
) -> None:
    starts, src, flags, seq, ack = [], [], [], [], []
    for k, rows in enumerate(convs):
        for i, (side, s, a, sq, ak) in enumerate(rows):
            starts.append(i == 0)
            src.append(2 * k + side)  # two endpoints a conversation
            flags.append((SYN if s else 0) | (ACK if a else 0))
            seq.append(sq)
            ack.append(ak)
    cols = (
        np.array(starts, bool),
        np.array(src, np.int64),
        np.array(flags, np.int64),
        np.array(seq, np.int64),
        np.array(ack, np.int64),
    )
    got = _reused_ports(*cols)
    want = _walked(*cols)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_a_new_isn_after_a_finished_connection_splits_it() -> None:
    # SYN, SYN-ACK, ACK; then a SYN from the client with another ISN: a new connection,
    # whose SYN-ACK has no base to differ from yet (the new flow starts at that SYN)
    conv_start = np.array([1, 0, 0, 0, 0], bool)
    src = np.array([0, 1, 0, 0, 1], np.int64)
    flags = np.array([SYN, SYN | ACK, ACK, SYN, SYN | ACK], np.int64)
    seq = np.array([100, 500, 101, 900, 700], np.int64)
    ack = np.array([-1, 101, 501, -1, 901], np.int64)
    split, reused = _reused_ports(conv_start, src, flags, seq, ack)
    assert split.tolist() == [False, False, False, True, False]
    assert reused.tolist() == [False, False, False, True, False]
