"""A connection told in plain words, in English and Chinese, from its computed facts.

Every sentence states something the analysis measured; where the capture cannot show a
thing (no handshake, no time stamps) the text says so instead of guessing.  RTTs are "as
seen at the capture point": a capture next to the client measures the path, one next to
the server mostly measures the peer's delayed ACKs.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.decode.explain.fields import roles
from app.decode.model.i18n import EMPTY, N_, NN_, Text, ntr, sentences, tr

# The messages ``narrate`` and ``narratives.narrate_many`` both say (one text, two tellers).
BYTES = NN_("{count} byte", "{count} bytes")
SEGMENTS = NN_("{count} segment", "{count} segments")
REFUSED = N_(
    "The client {client} tried to open a connection to the server {server}, "
    "which refused it: an RST answered the SYN{after}, so no connection was ever "
    "established (nothing was listening on that port, or a firewall rejected it)."
)
LATER = N_(" {time} later")
OPENED = N_("The client {client} opened a connection to the server {server}{took}.")
TOOK = N_("; the handshake took {time}")
SYN_ACK_ONLY = N_(
    "Only the server's SYN-ACK was captured, so {client} is the client and {server} the server."
)
HEURISTIC = N_(
    "The handshake was not captured: by a heuristic (port numbers), {client} is "
    "taken as the client and {server} as the server."
)
SENT = N_(
    "The client sent {client_size} in {client_segments}; "
    "the server answered with {server_size} in {server_segments}."
)
NO_DATA = N_("No application data was exchanged.")
BOTH_LEGS = N_(
    "The handshake spans both legs (SYN out, SYN-ACK back, ACK out), so its time is "
    "the round trip between the two endpoints wherever the capture was taken."
)
PATH_WAS = N_("The round trip between the two endpoints was {time} ({how}).")
NEXT_TO = N_(
    "The capture was taken next to the {near}: its own ACKs left within "
    "{near_time} of what they acknowledge (its ACK delay), while the "
    "{far}'s came back after {far_time} (medians)."
)
SIDE_TIME = N_("the {side} {time}")
AND = N_(" and ")
FROM_HERE = N_("Round trips from the capture point (medians): {legs}.")
MEDIAN = NN_(
    "Median ACK round trip {time} over {count} sample, as seen at the capture point.",
    "Median ACK round trip {time} over {count} samples, as seen at the capture point.",
)
ENDED = N_("It ended: {ending}.")
LASTED = N_("It lasted {time} in the capture.")
NO_TIMES = N_("The input has no time stamps, so durations and RTTs are unknown.")


def _n(v: int) -> str:
    return f"{v:,}"


def size(b: int) -> Text:
    if b < 10_000:
        return ntr(*BYTES, b, count=_n(b))
    if b < 10_000_000:
        return Text.same(f"{b / 1000:,.1f} KB")
    return Text.same(f"{b / 1_000_000:,.1f} MB")


def ms(seconds: float) -> str:
    v = seconds * 1000
    if round(v * 1000) < 1000:  # (0.9999996 ms is "1.00 ms", not "1000 µs")
        return f"{v * 1000:.0f} µs"
    if v < 100:
        return f"{v:.2f} ms"
    if v < 10_000:
        return f"{v:,.0f} ms"
    return f"{seconds:,.1f} s"


@dataclass(slots=True)
class Story:
    client: str
    server: str
    roles_from: str  # "syn", "syn-ack", "heuristic"
    handshake: str
    irtt: float | None
    bytes: tuple[int, int]  # client, server
    segments: tuple[int, int]  # data segments
    retrans: int
    fast: int
    spurious: int
    max_dup: int
    ooo: int
    lost: int
    zero_window: int
    keep_alive: int
    rtt_median: float | None
    rtt_samples: int
    ending: Text
    duration: float | None
    ended_by: str = "open"
    closer: int = -1  # 0 client, 1 server: who sent the first FIN or the RST
    half_closer: int = -1  # who closed its sending side while the other still sent data
    half_bytes: int = 0  # what the other side sent after that
    half_span: float | None = None  # from that FIN to the other side's last data
    path_rtt: float | None = None  # between the endpoints
    path_source: str = "none"  # "handshake", "ack", "ts"
    legs: tuple[float | None, float | None] = (None, None)  # capture point to each side
    vantage: str = "unknown"  # "client", "server", "between"
    copies: int = 0  # segments the network delivered twice
    ce: int = 0  # packets marked CE on the way (ECN)
    cwr: int = 0  # CWR answers from a sender


def _opening(s: Story, out: list[Text]) -> None:
    """Who opened the connection (or tried to), as far as the capture shows."""
    ends = {"client": s.client, "server": s.server}
    if s.roles_from == "syn" and s.ended_by == "refused":
        after = tr(LATER, time=ms(s.irtt)) if s.irtt is not None else EMPTY
        out.append(tr(REFUSED, after=after, **ends))
    elif s.roles_from == "syn":
        took = tr(TOOK, time=ms(s.irtt)) if s.irtt is not None else EMPTY
        out.append(tr(OPENED, took=took, **ends))
    elif s.roles_from == "syn-ack":
        out.append(tr(SYN_ACK_ONLY, **ends))
    else:
        out.append(tr(HEURISTIC, **ends))


PATH_FROM = {
    "handshake": N_("from the handshake"),
    "ack": N_("the two legs' ACK round trips added"),
    "ts": N_("the two legs' timestamp echoes added"),
}


def _path(s: Story, out: list[Text]) -> None:
    """The round trip between the endpoints."""
    if s.path_rtt is not None and s.path_source == "handshake":
        out.append(tr(BOTH_LEGS))
    elif s.path_rtt is not None:
        out.append(tr(PATH_WAS, time=ms(s.path_rtt), how=tr(PATH_FROM[s.path_source])))


def _round_trips(s: Story, out: list[Text]) -> None:
    """The round trip between the endpoints, and each leg from the capture point: a
    capture next to one end sees that end's own ACKs within microseconds, which is the host's
    ACK delay, not the path."""
    _path(s, out)
    c, v = s.legs
    role = roles()
    if s.vantage in ("client", "server") and c is not None and v is not None:
        near = 0 if s.vantage == "client" else 1
        legs = (c, v)
        out.append(
            tr(
                NEXT_TO,
                near=role[near],
                near_time=ms(legs[near]),
                far=role[1 - near],
                far_time=ms(legs[1 - near]),
            )
        )
    elif c is not None or v is not None:
        parts = [
            tr(SIDE_TIME, side=role[d], time=ms(x)) for d, x in enumerate((c, v)) if x is not None
        ]
        out.append(tr(FROM_HERE, legs=tr(AND).join(parts)))
    elif s.path_rtt is None and s.rtt_median is not None:
        out.append(ntr(*MEDIAN, s.rtt_samples, time=ms(s.rtt_median), count=_n(s.rtt_samples)))


def closing(s: Story, out: list[Text]) -> None:
    """A half-close with what flowed after it; an abort and what it throws away."""
    role = roles()
    if s.half_closer in (0, 1):
        over = tr(" over {time}", time=ms(s.half_span)) if s.half_span is not None else EMPTY
        out.append(
            tr(
                "The {who} closed its sending direction first (FIN: half-close); the {other} "
                "went on sending {size}{over} before it closed too: data after a "
                "FIN is still data, in the other direction.",
                who=role[s.half_closer],
                other=role[1 - s.half_closer],
                size=size(s.half_bytes),
                over=over,
            )
        )
    if s.ended_by == "reset" and s.closer in (0, 1):
        out.append(
            tr(
                "The {who} aborted the connection with RST: data still in flight or "
                "not yet read by the application is thrown away, unlike an orderly FIN close.",
                who=role[s.closer],
            )
        )


def _resent(s: Story, out: list[Text]) -> None:
    """Retransmissions, fast and needless ones among them; or duplicate ACKs with none."""
    all_re = s.retrans + s.fast + s.spurious
    if all_re:
        extra: list[Text] = []
        if s.fast:
            dup = (
                tr(
                    ", after up to {max} duplicate ACKs",
                    max=s.max_dup,
                )
                if s.max_dup
                else EMPTY
            )
            extra.append(
                ntr(
                    "{count} as fast retransmission{dup}",
                    "{count} as fast retransmissions{dup}",
                    s.fast,
                    count=_n(s.fast),
                    dup=dup,
                )
            )
        if s.spurious:
            extra.append(
                tr(
                    "{count} needlessly (already acknowledged)",
                    count=_n(s.spurious),
                )
            )
        which = tr(" ({which})", which=tr("; ").join(extra)) if extra else EMPTY
        out.append(
            ntr(
                "{count} segment was sent again{which}.",
                "{count} segments were sent again{which}.",
                all_re,
                count=_n(all_re),
                which=which,
            )
        )
    elif s.max_dup:
        out.append(
            tr(
                "Up to {max} duplicate ACKs in a row, but no retransmission was captured.",
                max=s.max_dup,
            )
        )


def _ecn_marks(s: Story, out: list[Text]) -> None:
    answer = (
        ntr(
            "; the sender answered with CWR {count} time, having slowed down as it would after "
            "a loss",
            "; the sender answered with CWR {count} times, having slowed down as it would "
            "after a loss",
            s.cwr,
            count=_n(s.cwr),
        )
        if s.cwr
        else EMPTY
    )
    out.append(
        ntr(
            "Routers marked {count} packet CE (congestion experienced) instead of dropping it; "
            "the receiver echoed the marks with ECE{answer}.",
            "Routers marked {count} packets CE (congestion experienced) instead of dropping "
            "them; the receiver echoed the marks with ECE{answer}.",
            s.ce,
            count=_n(s.ce),
            answer=answer,
        )
    )


def events(s: Story, out: list[Text]) -> None:
    """What went wrong or was noteworthy on the way: resends, reordering, copies, ECN
    marks, losses before the capture point, zero windows, keep-alives."""
    _resent(s, out)
    if s.ooo:
        out.append(
            ntr(
                "{count} segment arrived out of order: sent once, overtaken on the way (older "
                "TS val or IP ID than data already seen).",
                "{count} segments arrived out of order: sent once, overtaken on the way (older "
                "TS val or IP ID than data already seen).",
                s.ooo,
                count=_n(s.ooo),
            )
            if s.vantage != "unknown"
            else ntr(
                "{count} segment arrived out of order.",
                "{count} segments arrived out of order.",
                s.ooo,
                count=_n(s.ooo),
            )
        )
    if s.copies:
        out.append(
            ntr(
                "The network delivered {count} segment twice (byte-for-byte copies: same IP ID "
                "and TS val); they are not retransmissions.",
                "The network delivered {count} segments twice (byte-for-byte copies: same IP ID "
                "and TS val); they are not retransmissions.",
                s.copies,
                count=_n(s.copies),
            )
        )
    if s.ce:
        _ecn_marks(s, out)
    if s.lost:
        out.append(
            ntr(
                "{count} time the sequence jumped ahead: segments before it were lost before "
                "the capture point or not captured.",
                "{count} times the sequence jumped ahead: segments before it were lost before "
                "the capture point or not captured.",
                s.lost,
                count=_n(s.lost),
            )
        )
    if s.zero_window:
        out.append(
            ntr(
                "A receiver advertised a zero window {count} time: its buffer was full and the "
                "sender had to wait.",
                "A receiver advertised a zero window {count} times: its buffer was full and the "
                "sender had to wait.",
                s.zero_window,
                count=_n(s.zero_window),
            )
        )
    if s.keep_alive:
        out.append(
            ntr(
                "{count} keep-alive probe checked an idle connection.",
                "{count} keep-alive probes checked an idle connection.",
                s.keep_alive,
                count=_n(s.keep_alive),
            )
        )


def narrate(s: Story) -> Text:
    out: list[Text] = []
    _opening(s, out)
    (cb, sb), (cs, ss) = s.bytes, s.segments
    if cb or sb:
        out.append(
            tr(
                SENT,
                client_size=size(cb),
                server_size=size(sb),
                client_segments=_segments(cs),
                server_segments=_segments(ss),
            )
        )
    else:
        out.append(tr(NO_DATA))
    events(s, out)
    _round_trips(s, out)
    closing(s, out)
    out.append(tr(ENDED, ending=s.ending))
    if s.duration is not None:
        out.append(tr(LASTED, time=ms(s.duration)))
    else:
        out.append(tr(NO_TIMES))
    return sentences(out)


def _segments(k: int) -> Text:
    return ntr(*SEGMENTS, k, count=_n(k))


TFO_NAMES = ("none", "cookie_request", "cookie", "data")
_TFO = (
    "",
    N_("asked for a Fast Open cookie"),
    N_("sent a Fast Open cookie"),
    N_("sent data in its SYN with a Fast Open cookie"),
)


def _note(topic: str, text: Text, rfc: str) -> dict[str, str]:
    return {"topic": topic, "en": text.en, "zh": text.zh, "rfc": rfc}


def negotiation(
    *,
    syn: tuple[bool, bool],
    mss: tuple[int, int],
    wscale: tuple[int, int],
    scaling: str,
    sack: tuple[bool, bool],
    ts: tuple[bool, bool],
    ecn: int,
    tfo: tuple[int, int],
    mptcp: tuple[bool, bool],
) -> list[dict[str, str]]:
    """What the two SYNs agreed on, and what follows from it (-1 = option absent)."""
    if not syn[0] and not syn[1]:
        return [
            _note(
                "options",
                tr(
                    "Neither SYN was captured, so the negotiated options (MSS, window scale, SACK, "
                    "timestamps) are unknown; windows cannot be scaled with certainty.",
                ),
                "RFC 9293 §3.7.1, RFC 7323 §2.2",
            )
        ]
    return [
        *_mss_note(syn, mss),
        *_wscale_note(scaling, wscale),
        *_sack_ts_notes(syn, sack, ts),
        *_ecn_note(ecn),
        *_tfo_notes(tfo),
        *_mptcp_note(mptcp),
    ]


def _mss_note(syn: tuple[bool, bool], mss: tuple[int, int]) -> list[dict[str, str]]:
    """Each side's MSS, or the default its peer must assume."""
    role = roles()
    parts: list[Text] = []
    for side in (0, 1):
        peer = 1 - side
        if not syn[side]:
            continue
        if mss[side] >= 0:
            parts.append(
                tr(
                    "the {side} accepts segments of at most {mss} bytes, so the "
                    "{peer} sends no more than that per segment",
                    side=role[side],
                    peer=role[peer],
                    mss=f"{mss[side]:,}",
                )
            )
        else:
            parts.append(
                tr(
                    "the {side}'s SYN has no MSS, so the {peer} must assume the "
                    "default: 536 bytes over IPv4, 1,220 over IPv6",
                    side=role[side],
                    peer=role[peer],
                )
            )
    text = tr("MSS: {parts}.", parts=tr("; ").join(parts))
    return [_note("mss", text, "RFC 9293 §3.7.1, RFC 6691 §2")]


def _wscale_note(scaling: str, wscale: tuple[int, int]) -> list[dict[str, str]]:
    """Window scaling on, off (and why), or unknown."""
    role = roles()
    if scaling == "both":
        text = tr(
            "Window scaling is on: the client's window field is multiplied by {client_factor} "
            "(shift {client_shift}) and the server's by {server_factor} (shift {server_shift}), "
            "except in the SYNs themselves, which are never scaled.",
            client_factor=f"{1 << min(wscale[0], 14):,}",
            client_shift=wscale[0],
            server_factor=f"{1 << min(wscale[1], 14):,}",
            server_shift=wscale[1],
        )
        return [_note("wscale", text, "RFC 7323 §2.2-2.3")]
    if scaling == "none":
        who = [role[s] for s in (0, 1) if wscale[s] < 0]
        text = tr(
            "Window scaling is off because the {who} did not offer it: "
            "both windows are taken as printed, at most 65,535 bytes.",
            who=tr(" and the ").join(who),
        )
        return [_note("wscale", text, "RFC 7323 §2.2")]
    text = tr(
        "Only one SYN was captured, so whether window scaling is in use is unknown.",
    )
    return [_note("wscale", text, "RFC 7323 §2.2")]


def _sack_ts_notes(
    syn: tuple[bool, bool], sack: tuple[bool, bool], ts: tuple[bool, bool]
) -> list[dict[str, str]]:
    """SACK and timestamps, when both SYNs were seen."""
    out: list[dict[str, str]] = []
    if not (syn[0] and syn[1]):
        return out
    if sack[0] and sack[1]:
        text = tr(
            "SACK is in use: a receiver can report the blocks it holds beyond a gap, so "
            "only the missing bytes are resent.",
        )
        out.append(_note("sack", text, "RFC 2018 §2"))
    elif sack[0] or sack[1]:
        text = tr(
            "SACK is not used: only one side offered it; a loss is recovered from the "
            "cumulative ACK alone.",
        )
        out.append(_note("sack", text, "RFC 2018 §2"))
    if ts[0] and ts[1]:
        text = tr(
            "Timestamps are in use: every segment carries TS val/ecr, which gives RTT "
            "samples and protects against wrapped sequence numbers (PAWS).",
        )
        out.append(_note("timestamps", text, "RFC 7323 §3-5"))
    elif ts[0] or ts[1]:
        text = tr(
            "Timestamps are not used: only one side offered them.",
        )
        out.append(_note("timestamps", text, "RFC 7323 §3"))
    return out


def _ecn_note(ecn: int) -> list[dict[str, str]]:
    """ECN negotiated or only offered (RFC 3168 §6.1.1)."""
    if ecn == 2:
        text = tr(
            "ECN was negotiated (SYN with ECE+CWR, SYN-ACK with ECE): routers may mark "
            "congestion instead of dropping packets, and the receiver echoes the mark with ECE.",
        )
        return [_note("ecn", text, "RFC 3168 §6.1.1")]
    if ecn == 1:
        text = tr(
            "The client offered ECN (ECE+CWR in its SYN) but the server did not accept it.",
        )
        return [_note("ecn", text, "RFC 3168 §6.1.1")]
    return []


def _tfo_notes(tfo: tuple[int, int]) -> list[dict[str, str]]:
    """TCP Fast Open on either side."""
    out: list[dict[str, str]] = []
    role = roles()
    for side in (0, 1):
        if not tfo[side]:
            continue
        what = tr(_TFO[tfo[side]])
        text = (
            tr(
                "TCP Fast Open: the {side} {what}; data in a SYN saves one round trip on a "
                "repeat connection.",
                side=role[side],
                what=what,
            )
            if tfo[side] == 3
            else tr(
                "TCP Fast Open: the {side} {what}.",
                side=role[side],
                what=what,
            )
        )
        out.append(_note("tfo", text, "RFC 7413 §4"))
    return out


def _mptcp_note(mptcp: tuple[bool, bool]) -> list[dict[str, str]]:
    """Multipath TCP offered or negotiated."""
    if not (mptcp[0] or mptcp[1]):
        return []
    text = (
        tr(
            "Multipath TCP was negotiated (MP_CAPABLE in both SYNs): this connection can be one "
            "subflow of a connection that uses several paths.",
        )
        if mptcp[0] and mptcp[1]
        else tr(
            "Multipath TCP was offered by one side only, so this is plain TCP.",
        )
    )
    return [_note("mptcp", text, "RFC 8684 §3.1")]
