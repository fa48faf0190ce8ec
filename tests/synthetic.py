"""Captures made up for tests that need many connections of known kinds (Scapy writes
them; every count a test checks follows from the recipe here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SERVER = "10.9.0.1"


def _conversation(i: int, t: float, shift: int = 0) -> tuple[list[Any], str]:
    """Connection ``i``: its packets from time ``t`` on (initial sequence numbers moved by
    ``shift``), and the Zeek state it ends in."""
    from scapy.layers.inet import IP, TCP

    client = f"10.0.{i // 200}.{i % 200 + 1}"
    sport, dport = 40000 + i, (80, 443, 6379)[i % 3]
    up, down = IP(src=client, dst=SERVER, id=1), IP(src=SERVER, dst=client, id=1)
    c, s = 1000 * i + 1 + shift, 5000 * i + 1 + shift
    kind = i % 4
    syn = up / TCP(sport=sport, dport=dport, flags="S", seq=c - 1)
    if kind == 1:  # no answer
        return [syn], "S0"
    if kind == 2:  # refused
        rst = down / TCP(sport=dport, dport=sport, flags="RA", seq=0, ack=c)
        return [syn, rst], "REJ"
    pkts = [
        syn,
        down / TCP(sport=dport, dport=sport, flags="SA", seq=s - 1, ack=c),
        up / TCP(sport=sport, dport=dport, flags="A", seq=c, ack=s),
        up / TCP(sport=sport, dport=dport, flags="PA", seq=c, ack=s) / (b"x" * (10 + i)),
    ]
    if kind == 3:  # the request sent twice: a retransmission
        again = pkts[-1].copy()
        again[IP].id = 2
        pkts.append(again)
    pkts += [
        down / TCP(sport=dport, dport=sport, flags="A", seq=s, ack=c + 10 + i),
        up / TCP(sport=sport, dport=dport, flags="FA", seq=c + 10 + i, ack=s),
        down / TCP(sport=dport, dport=sport, flags="FA", seq=s, ack=c + 11 + i),
        up / TCP(sport=sport, dport=dport, flags="A", seq=c + 11 + i, ack=s + 1),
    ]
    for k, p in enumerate(pkts):
        p.time = t + 0.001 * k
    return pkts, "SF"


def many_connections(path: Path, n: int, *, reused: int = 3) -> list[str]:
    """A capture of ``n`` connections, one starting every 10 ms (connection ``i`` from
    ``10.0.x.y:40000+i`` to ``10.9.0.1`` port 80, 443 or 6379); the first ``reused`` of
    the ones that close cleanly are made again later from the same client port. Returns
    each connection's Zeek state, in order of start."""
    from scapy.utils import wrpcap

    pkts: list[Any] = []
    states: list[str] = []
    for i in range(n):
        got, state = _conversation(i, 1_700_000_000.0 + 0.01 * i)
        pkts += got
        states.append(state)
    again = [i for i in range(n) if i % 4 in (0, 3)][:reused]
    for k, i in enumerate(again):  # a new ISN: a new connection on the same ports
        got, state = _conversation(i, 1_700_000_000.0 + 0.01 * n + 1.0 + k, shift=77_777)
        pkts += got
        states.append(state)
    wrpcap(str(path), sorted(pkts, key=lambda p: float(p.time)))
    return states
