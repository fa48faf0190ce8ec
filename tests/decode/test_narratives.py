"""Many connections told at once (``explain.narratives``) say what ``narrate`` says of each,
and the row formatting of ``i18n`` (``tr_rows``, ``ntr_rows``) what ``tr`` and ``ntr`` do."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decode.analysis.facts import PATH_SOURCES, VANTAGES
from app.decode.analysis.flows import ENDED_BY, HANDSHAKE, ROLES_FROM
from app.decode.explain.fields import ENDINGS
from app.decode.explain.narrative import Story, narrate
from app.decode.explain.narratives import narrate_many
from app.decode.model.i18n import Text, ntr, ntr_rows, tr, tr_rows

# times on both sides of ``ms``'s unit changes, and unknown
_TIME = st.none() | st.floats(0, 200, allow_nan=False)
_TIME |= st.sampled_from([0.0, 0.0009995, 0.0009999996, 0.1, 0.09999, 10.0, 9.99996])
_BYTES = st.sampled_from([0, 1, 2, 9_999, 10_000, 9_999_999, 10_000_000]) | st.integers(0, 10**9)
_COUNT = st.sampled_from([0, 0, 0, 1, 2, 1_234])
_ENDPOINT = st.sampled_from(["10.0.0.1:80", "[fe80::1%eth0]:443", "h:%s", "a{b}"])

_STORIES = st.builds(
    Story,
    client=_ENDPOINT,
    server=_ENDPOINT,
    roles_from=st.sampled_from(ROLES_FROM),
    handshake=st.sampled_from(HANDSHAKE),
    irtt=_TIME,
    bytes=st.tuples(_BYTES, _BYTES),
    segments=st.tuples(_COUNT, _COUNT),
    retrans=_COUNT,
    fast=_COUNT,
    spurious=_COUNT,
    max_dup=_COUNT,
    ooo=_COUNT,
    lost=_COUNT,
    zero_window=_COUNT,
    keep_alive=_COUNT,
    rtt_median=_TIME,
    rtt_samples=_COUNT,
    ending=st.sampled_from(list(ENDINGS.values())),
    duration=_TIME,
    ended_by=st.sampled_from(ENDED_BY),
    closer=st.sampled_from([-1, 0, 1]),
    half_closer=st.sampled_from([-1, 0, 1]),
    half_bytes=_BYTES,
    half_span=_TIME,
    path_rtt=_TIME,
    path_source=st.sampled_from(PATH_SOURCES),
    legs=st.tuples(_TIME, _TIME),
    vantage=st.sampled_from(VANTAGES),
    copies=_COUNT,
    ce=_COUNT,
    cwr=_COUNT,
).map(
    # the facts give a path round trip with its source, or neither
    lambda s: (
        replace(s, path_source="none")
        if s.path_rtt is None
        else replace(s, path_source=s.path_source if s.path_source != "none" else "ack")
    )
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_STORIES, max_size=12))
def test_many_told_at_once_as_each_alone(stories: list[Story]) -> None:
    en, zh = narrate_many(stories)
    assert [Text(e, z) for e, z in zip(en, zh, strict=True)] == [narrate(s) for s in stories]


def test_rows_take_texts_pairs_and_constants() -> None:
    role = Text("client", "客户端")
    got = tr_rows("the {side} {time}", 2, side=role, time=["1 ms", "2 ms"])
    assert got == tuple(
        [t.en for t in made] if lang == 0 else [t.zh for t in made]
        for made in [[tr("the {side} {time}", side=role, time=x) for x in ("1 ms", "2 ms")]]
        for lang in (0, 1)
    )
    assert tr_rows("No application data was exchanged.", 2) == (
        [tr("No application data was exchanged.").en] * 2,
        [tr("No application data was exchanged.").zh] * 2,
    )
    counts = [0, 1, 2]
    plural = ntr_rows("{count} segment", "{count} segments", counts, count=["0", "1", "2"])
    alone = [ntr("{count} segment", "{count} segments", n, count=str(n)) for n in counts]
    assert plural == ([t.en for t in alone], [t.zh for t in alone])
    assert tr_rows("100% {x}", 1, x=["y"]) == (["100% y"], ["100% y"])
    with pytest.raises(ValueError, match="plain named fields"):
        tr_rows("{x:,}", 1, x=["1"])
