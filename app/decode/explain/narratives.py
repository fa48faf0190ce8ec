"""Many connections told at once: ``narrate`` of each, the same bytes.

``narrate`` tells one connection a sentence at a time, each through ``tr`` (a dictionary of
fields and two ``str.format`` calls).  A capture of 100,000 connections says the same dozen
sentences 100,000 times, so here each sentence is said for every row that says it at once
(``tr_rows``: its two templates looked up and made ``%`` templates once), the rows are put
back in order, and each row's sentences are joined as ``sentences`` joins them.  What few
connections say (resends, reordering, ECN marks, half-closes, aborts) is told row by row by
``narrate``'s own functions.  tests/decode/test_narratives.py holds the two to each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.decode.explain import narrative as one
from app.decode.explain.fields import roles
from app.decode.explain.narrative import Story, ms
from app.decode.model.i18n import Rows, Text, ntr_rows, tr, tr_rows


def narrate_many(stories: Sequence[Story]) -> Rows:
    """``narrate(s)`` of each story, as the English and the Chinese texts."""
    parts = [
        _openings(stories),
        _data(stories),
        _row_by_row(stories, one.events, _eventful),
        _paths(stories),
        _legs(stories),
        _row_by_row(stories, one.closing, _closed),
        _endings(stories),
        _durations(stories),
    ]
    en = [" ".join([p for p in row if p]) for row in zip(*(p[0] for p in parts), strict=True)]
    zh = ["".join(row) for row in zip(*(p[1] for p in parts), strict=True)]
    return en, zh


class _Said:
    """One sentence's place in every row: empty until a group of rows says it."""

    def __init__(self, n: int) -> None:
        self.en, self.zh = [""] * n, [""] * n

    def put(self, rows: list[int], said: Rows) -> None:
        en, zh = self.en, self.zh
        for i, e, z in zip(rows, said[0], said[1], strict=True):
            en[i], zh[i] = e, z

    def rows(self) -> Rows:
        return self.en, self.zh


def _row_by_row(
    stories: Sequence[Story],
    tell: Callable[[Story, list[Text]], None],
    says: Callable[[Story], bool],
) -> Rows:
    """What ``tell`` says of each story, its sentences joined (nothing where ``says`` is
    false: ``tell`` would say nothing there)."""
    said = _Said(len(stories))
    for i, s in enumerate(stories):
        if says(s):
            out: list[Text] = []
            tell(s, out)
            said.en[i] = " ".join(t.en for t in out)
            said.zh[i] = "".join(t.zh for t in out)
    return said.rows()


def _eventful(s: Story) -> bool:
    """Whether ``narrative.events`` has anything to say of ``s``."""
    return bool(
        s.retrans or s.fast or s.spurious or s.max_dup or s.ooo or s.copies or s.ce or s.lost
    ) or bool(s.zero_window or s.keep_alive)


def _closed(s: Story) -> bool:
    """Whether ``narrative.closing`` has anything to say of ``s``."""
    return s.half_closer in (0, 1) or (s.ended_by == "reset" and s.closer in (0, 1))


def _times(stories: Sequence[Story], rows: list[int], get: Callable[[Story], float | None]) -> Rows:
    """``ms`` of a time of each row (every one known)."""
    texts = [ms(get(stories[i]) or 0.0) for i in rows]
    return texts, texts


def _maybe(
    stories: Sequence[Story], rows: list[int], message: str, get: Callable[[Story], float | None]
) -> Rows:
    """``tr(message, time=ms(t))`` of the rows whose time is known, empty for the others."""
    said = _Said(len(rows))
    known = [k for k, i in enumerate(rows) if get(stories[i]) is not None]
    times = _times(stories, [rows[k] for k in known], get)
    said.put(known, tr_rows(message, len(known), time=times))
    return said.rows()


def _irtt(s: Story) -> float | None:
    return s.irtt


def _openings(stories: Sequence[Story]) -> Rows:
    """``narrative._opening`` of each story."""
    said = _Said(len(stories))
    groups: dict[str, list[int]] = {"refused": [], "syn": [], "syn-ack": [], "other": []}
    for i, s in enumerate(stories):
        if s.roles_from == "syn":
            groups["refused" if s.ended_by == "refused" else "syn"].append(i)
        else:
            groups["syn-ack" if s.roles_from == "syn-ack" else "other"].append(i)
    for group, rows in groups.items():
        ends = {
            "client": [stories[i].client for i in rows],
            "server": [stories[i].server for i in rows],
        }
        if group == "refused":
            after = _maybe(stories, rows, one.LATER, _irtt)
            said.put(rows, tr_rows(one.REFUSED, len(rows), after=after, **ends))
        elif group == "syn":
            took = _maybe(stories, rows, one.TOOK, _irtt)
            said.put(rows, tr_rows(one.OPENED, len(rows), took=took, **ends))
        else:
            message = one.SYN_ACK_ONLY if group == "syn-ack" else one.HEURISTIC
            said.put(rows, tr_rows(message, len(rows), **ends))
    return said.rows()


def _sizes(values: list[int]) -> Rows:
    """``narrative.size`` of each value."""
    said = _Said(len(values))
    small = [k for k, b in enumerate(values) if b < 10_000]
    counts = [values[k] for k in small]
    said.put(small, ntr_rows(*one.BYTES, counts, count=[f"{b:,}" for b in counts]))
    big = [k for k, b in enumerate(values) if b >= 10_000]
    texts = [one.size(values[k]).en for k in big]  # the same in both languages
    said.put(big, (texts, texts))
    return said.rows()


def _segments(values: list[int]) -> Rows:
    return ntr_rows(*one.SEGMENTS, values, count=[f"{k:,}" for k in values])


def _data(stories: Sequence[Story]) -> Rows:
    """What each side sent, or that nothing was."""
    said = _Said(len(stories))
    rows = [i for i, s in enumerate(stories) if s.bytes[0] or s.bytes[1]]
    sent = [stories[i] for i in rows]
    said.put(
        rows,
        tr_rows(
            one.SENT,
            len(rows),
            client_size=_sizes([s.bytes[0] for s in sent]),
            server_size=_sizes([s.bytes[1] for s in sent]),
            client_segments=_segments([s.segments[0] for s in sent]),
            server_segments=_segments([s.segments[1] for s in sent]),
        ),
    )
    none = [i for i, s in enumerate(stories) if not (s.bytes[0] or s.bytes[1])]
    said.put(none, tr_rows(one.NO_DATA, len(none)))
    return said.rows()


def _paths(stories: Sequence[Story]) -> Rows:
    """``narrative._path`` of each story."""
    said = _Said(len(stories))
    known = [i for i, s in enumerate(stories) if s.path_rtt is not None]
    handshake = [i for i in known if stories[i].path_source == "handshake"]
    said.put(handshake, tr_rows(one.BOTH_LEGS, len(handshake)))
    legs = [i for i in known if stories[i].path_source != "handshake"]
    hows = [tr(one.PATH_FROM[stories[i].path_source]) for i in legs]
    said.put(
        legs,
        tr_rows(
            one.PATH_WAS,
            len(legs),
            time=_times(stories, legs, lambda s: s.path_rtt),
            how=([h.en for h in hows], [h.zh for h in hows]),
        ),
    )
    return said.rows()


def _legs(stories: Sequence[Story]) -> Rows:
    """The rest of ``narrative._round_trips``: each leg from the capture point, or the
    median ACK round trip."""
    said = _Said(len(stories))
    near, some, median = [], [], []
    for i, s in enumerate(stories):
        c, v = s.legs
        if s.vantage in ("client", "server") and c is not None and v is not None:
            near.append(i)
        elif c is not None or v is not None:
            some.append(i)
        elif s.path_rtt is None and s.rtt_median is not None:
            median.append(i)
    said.put(near, _next_to(stories, near))
    said.put(some, _from_here(stories, some))
    samples = [stories[i].rtt_samples for i in median]
    said.put(
        median,
        ntr_rows(
            *one.MEDIAN,
            samples,
            time=_times(stories, median, lambda s: s.rtt_median),
            count=[f"{k:,}" for k in samples],
        ),
    )
    return said.rows()


def _next_to(stories: Sequence[Story], rows: list[int]) -> Rows:
    role = roles()
    sides = [0 if stories[i].vantage == "client" else 1 for i in rows]
    legs = [stories[i].legs for i in rows]
    return tr_rows(
        one.NEXT_TO,
        len(rows),
        near=([role[d].en for d in sides], [role[d].zh for d in sides]),
        near_time=[ms(leg[d] or 0.0) for leg, d in zip(legs, sides, strict=True)],
        far=([role[1 - d].en for d in sides], [role[1 - d].zh for d in sides]),
        far_time=[ms(leg[1 - d] or 0.0) for leg, d in zip(legs, sides, strict=True)],
    )


def _from_here(stories: Sequence[Story], rows: list[int]) -> Rows:
    """ "Round trips from the capture point": the legs known of each row, joined."""
    role = roles()
    each: list[Rows] = []
    for d in (0, 1):
        said = _Said(len(rows))
        known = [k for k, i in enumerate(rows) if stories[i].legs[d] is not None]
        times = [ms(stories[rows[k]].legs[d] or 0.0) for k in known]
        said.put(known, tr_rows(one.SIDE_TIME, len(known), side=role[d], time=times))
        each.append(said.rows())
    joint = tr(one.AND)
    joined: list[list[str]] = []
    for lang, sep in ((0, joint.en), (1, joint.zh)):
        client, server = each[0][lang], each[1][lang]
        joined.append(
            [a + (sep if a and b else "") + b for a, b in zip(client, server, strict=True)]
        )
    return tr_rows(one.FROM_HERE, len(rows), legs=(joined[0], joined[1]))


def _endings(stories: Sequence[Story]) -> Rows:
    endings = [s.ending for s in stories]
    return tr_rows(
        one.ENDED, len(stories), ending=([e.en for e in endings], [e.zh for e in endings])
    )


def _durations(stories: Sequence[Story]) -> Rows:
    said = _Said(len(stories))
    timed = [i for i, s in enumerate(stories) if s.duration is not None]
    said.put(
        timed, tr_rows(one.LASTED, len(timed), time=_times(stories, timed, lambda s: s.duration))
    )
    untimed = [i for i, s in enumerate(stories) if s.duration is None]
    said.put(untimed, tr_rows(one.NO_TIMES, len(untimed)))
    return said.rows()
