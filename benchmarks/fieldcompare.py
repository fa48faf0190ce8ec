"""Field-by-field comparison of two decodes of the same packets (text vs. capture).

Used by ``scripts/conformance`` over tcpdump's test suite and by the dialect tests over the
repository's own recordings.  Text has fewer facts than a capture (no seq on a bare ACK,
options cut short by ``[|tcp]``), so a field the text did not print is not compared.
"""

from __future__ import annotations

from app.decode.model.packet import ACK, Packet

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


def reader_differences(data: bytes, *, limit: int = 20) -> tuple[list[str], dict[str, int]]:
    """Decode a capture with the fast reader and with Scapy's PcapReader; list what differs.

    Returns (differences, counts) where counts has the TCP frames each way and how many
    frames the fast reader handed to Scapy itself.
    """
    import io
    import math

    from app.decode.readers.capture import read_capture
    from app.decode.readers.scapy_fallback import read_capture_scapy

    fast = read_capture(io.BytesIO(data), max_packets=10_000_000)
    ref = {p.frame or 0: p for p in read_capture_scapy(data, max_packets=10_000_000)}
    got = {p.frame or 0: p for p in fast.packets}
    caplen = dict(
        zip(fast.table.cols["frame"].tolist(), fast.table.cols["caplen"].tolist(), strict=True)
    )
    out: list[str] = []
    for frame in sorted(set(ref) | set(got)):
        a, b = got.get(frame), ref.get(frame)
        if a is None or b is None:
            out.append(f"frame {frame}: TCP only in the {'Scapy' if a is None else 'fast'} reading")
            continue
        for name in ("src_host", "dst_host", "src_port", "dst_port", "ip_version", *FIELDS):
            if getattr(a, name) != getattr(b, name):
                out.append(
                    f"frame {frame}: {name} fast {getattr(a, name)!r} scapy {getattr(b, name)!r}"
                )
        for name in ("cksum", "truncated", "malformed", "cksum_status", "cksum_expected"):
            # Scapy's PcapReader reads at most 65,535 bytes of a record (its MTU), so it
            # calls a bigger frame (BIG TCP) truncated and cannot verify its checksum; the
            # fast reader reads it all.
            big = caplen.get(frame, 0) > 65535
            if big and name in ("truncated", "cksum_status", "cksum_expected"):
                continue
            if getattr(a, name) != getattr(b, name):
                out.append(
                    f"frame {frame}: {name} fast {getattr(a, name)!r} scapy {getattr(b, name)!r}"
                )
        ka = [k for k in option_key(a) if k[0] in ("mss", "wscale", "sackOK", "TS", "sack")]
        kb = [k for k in option_key(b) if k[0] in ("mss", "wscale", "sackOK", "TS", "sack")]
        if ka != kb:
            out.append(f"frame {frame}: options fast {ka} scapy {kb}")
        ta, tb = a.time, b.time
        if (ta is None) != (tb is None) or (
            ta is not None and tb is not None and not math.isclose(ta, tb, abs_tol=1e-6)
        ):
            out.append(f"frame {frame}: time fast {ta} scapy {tb}")
        if len(out) >= limit:
            break
    counts = {
        "fast": len(got),
        "scapy": len(ref),
        "via_scapy": len(fast.table.objects),
    }
    return out, counts
