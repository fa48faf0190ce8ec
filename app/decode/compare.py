"""Field-by-field comparison of two decodes of the same packets (text vs. capture).

Used by ``scripts/conformance`` over tcpdump's test suite and by the dialect tests over the
repository's own recordings.  Text has fewer facts than a capture (no seq on a bare ACK,
options cut short by ``[|tcp]``), so a field the text did not print is not compared.
"""

from __future__ import annotations

from .model import ACK, Packet

FIELDS = ("flags", "seq", "ack", "length", "win", "urg")


def option_key(p: Packet) -> list[tuple[object, ...]]:
    """Options as comparable tuples; kinds tcpladder does not model compare by count."""
    o = p.options
    out: list[tuple[object, ...]] = []
    if o.mss is not None:
        out.append(("mss", o.mss))
    if o.wscale is not None:
        out.append(("wscale", o.wscale))
    if o.sack_perm:
        out.append(("sackOK",))
    if o.ts_val is not None:
        out.append(("TS", o.ts_val, o.ts_ecr))
    if o.sack:
        out.append(("sack", tuple(o.sack)))
    out.append(("nop", o.nop))
    out.append(("eol", o.eol))
    out.append(("other", len(o.other)))
    return out


def is_partial(p: Packet) -> bool:
    """tcpdump printed less than the whole TCP header ([|tcp], [bad opt])."""
    return (
        "[|" in (p.raw or "")
        or any("[|" in d for d in p.details)
        or any("[bad opt]" in item for item in p.options.items)
    )


def differences(text_pkt: Packet, cap_pkt: Packet) -> list[str]:
    """What differs between a packet read from text and the same packet from a capture."""
    diffs: list[str] = []
    for name in FIELDS:
        mine = getattr(text_pkt, name)
        ref = getattr(cap_pkt, name)
        if mine is None and name in ("seq", "length", "win", "urg"):
            continue  # not printed (a bare ACK has no seq; a line cut short)
        if name == "ack" and mine is None and not (cap_pkt.flags & ACK):
            continue
        if mine != ref:
            diffs.append(f"{name} text={mine} capture={ref}")
    if (
        not is_partial(text_pkt)
        and text_pkt.options.items
        and option_key(text_pkt) != option_key(cap_pkt)
    ):
        diffs.append(f"options text={text_pkt.options.items} capture={cap_pkt.options.items}")
    return diffs
