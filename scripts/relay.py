#!/usr/bin/env python3
"""A userspace impairment relay: an Ethernet bridge between two interfaces (AF_PACKET) that
delays, drops, duplicates and reorders frames, for kernels without netem.

    relay.py IF_A IF_B [--delay-ms N] [--drop P] [--dup P] [--reorder P] [--ce P] [--seed N]
             [--drop-nth N,M,...] [--tcp-only]

Each direction is impaired independently with a seeded random generator, so a recording
can be repeated.  ``--drop-nth`` drops exactly the N-th, M-th... TCP data frame (counted
from 1 over both directions), for scenarios that must lose one chosen segment.  Frames
other than IPv4/IPv6 TCP (ARP, neighbour discovery) always pass unimpaired.  Stops on
SIGTERM/SIGINT.  Needs root.  Used by scripts/record-fixtures; not part of tcpladder.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import random
import select
import signal
import socket
import struct
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def is_tcp_data(frame: bytes) -> tuple[bool, bool]:
    """(is TCP, carries payload) for an Ethernet frame."""
    if len(frame) < 14:
        return False, False
    etype = struct.unpack_from("!H", frame, 12)[0]
    if etype == 0x0800 and len(frame) >= 34 and frame[23] == 6:
        ihl = (frame[14] & 15) * 4
        total = struct.unpack_from("!H", frame, 16)[0]
        off = 14 + ihl
        if len(frame) < off + 13:
            return True, False
        doff = (frame[off + 12] >> 4) * 4
        return True, total - ihl - doff > 0
    if etype == 0x86DD and len(frame) >= 54 and frame[20] == 6:
        plen = struct.unpack_from("!H", frame, 18)[0]
        off = 54
        if len(frame) < off + 13:
            return True, False
        doff = (frame[off + 12] >> 4) * 4
        return True, plen - doff > 0
    return False, False


def mark_ce(frame: bytes) -> bytes:
    """An ECN-capable IPv4 packet (ECT(0) or ECT(1)) marked CE, as a congested router
    marks it instead of dropping it (RFC 3168 §5); its header checksum fixed."""
    if len(frame) < 34 or struct.unpack_from("!H", frame, 12)[0] != 0x0800:
        return frame
    if not frame[15] & 3:
        return frame  # Not-ECT: a router would drop it, not mark it
    b = bytearray(frame)
    b[15] |= 3
    ihl = (b[14] & 15) * 4
    struct.pack_into("!H", b, 24, 0)
    words = struct.unpack_from(f"!{ihl // 2}H", b, 14)
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", b, 24, ~total & 0xFFFF)
    return bytes(b)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--drop", type=float, default=0.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--ce", type=float, default=0.0, help="mark ECN-capable data CE (RFC 3168)")
    ap.add_argument("--drop-nth", default="")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    drop_nth = {int(x) for x in args.drop_nth.split(",") if x}
    socks = {}
    for name in (args.a, args.b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        socks[name] = s
    other = {args.a: socks[args.b], args.b: socks[args.a]}
    rng = {args.a: random.Random(args.seed), args.b: random.Random(args.seed * 7919 + 1)}
    held: dict[str, tuple[float, bytes] | None] = {args.a: None, args.b: None}
    queue: list[tuple[float, int, str, bytes]] = []
    counter = 0
    data_seen = 0
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = args.delay_ms / 1000
    by_fd = {s.fileno(): name for name, s in socks.items()}
    while running:
        now = time.monotonic()
        timeout = max(0.0, queue[0][0] - now) if queue else 0.2
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in ready:
            name = by_fd[s.fileno()]
            frame, addr = s.recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:
                continue
            tcp, data = is_tcp_data(frame)
            r = rng[name]
            due = now + delay
            if tcp:
                if data:
                    data_seen += 1
                    if data_seen in drop_nth:
                        continue
                if r.random() < args.drop:
                    continue
                if data and r.random() < args.ce:
                    frame = mark_ce(frame)
                if r.random() < args.reorder and held[name] is None:
                    held[name] = (due, frame)  # goes out after the next frame this way
                    continue
            counter += 1
            heapq.heappush(queue, (due, counter, name, frame))
            if tcp and r.random() < args.dup:
                counter += 1
                heapq.heappush(queue, (due + 0.0002, counter, name, frame))
            h = held[name]
            if h is not None and tcp:
                counter += 1
                heapq.heappush(queue, (due + 0.0001, counter, name, h[1]))
                held[name] = None
        for name, h in held.items():  # never hold a frame for long
            if h is not None and now - h[0] > 0.05:
                counter += 1
                heapq.heappush(queue, (now, counter, name, h[1]))
                held[name] = None
        while queue and queue[0][0] <= time.monotonic():
            _, _, name, frame = heapq.heappop(queue)
            with contextlib.suppress(OSError):
                other[name].send(frame)


if __name__ == "__main__":
    main()
