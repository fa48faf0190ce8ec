"""Generate a large, realistic Ethernet/IPv4/TCP pcap for the benchmarks.

    python benchmarks/gencap.py OUT.pcap --packets 1000000 [--flows 4000] [--snaplen 0]
    python benchmarks/gencap.py OUT.pcap --packets 100000 --one-flow

Each connection is a web-like exchange: SYN (mss, sackOK, TS, nop, wscale), SYN-ACK, ACK,
a request, a response of several full-size segments acknowledged every second segment,
then FIN/ACK both ways.  About 1% of data segments are retransmitted (after three duplicate
ACKs or a timeout), 0.3% arrive out of order, and a few connections end with RST or hit a
zero window.  Thousands of connections are interleaved, as on a busy server.  Checksums are
correct (payload bytes are a fixed pattern whose sum is cached per length).  With
``--snaplen N`` packets are cut to N bytes (``caplen < len``), as ``tcpdump -s N`` does.
"""

from __future__ import annotations

import argparse
import heapq
import random
import struct
import sys
from collections.abc import Iterator

ETH = bytes.fromhex("0200000000020200000000010800")
ETH_REV = bytes.fromhex("0200000000010200000000020800")
MSS = 1448
REQUEST = (
    b"GET /assets/app.js HTTP/1.1\r\nHost: example.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
)
RESPONSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\n\r\n"
FILL = bytes(range(32, 127)) * 20


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(total)


_payload_cache: dict[tuple[int, int], tuple[bytes, int]] = {}


def payload(kind: int, n: int) -> tuple[bytes, int]:
    """(bytes, ones'-complement sum) for a payload of ``n`` bytes of kind 0 req, 1 resp."""
    key = (kind, n)
    hit = _payload_cache.get(key)
    if hit is None:
        head = REQUEST if kind == 0 else RESPONSE_HEAD
        body = (head + FILL * (n // len(FILL) + 1))[:n]
        hit = (body, _sum16(body))
        _payload_cache[key] = hit
    return hit


def fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(total)


class Conn:
    def __init__(self, idx: int, rng: random.Random) -> None:
        self.c_ip = bytes([10, 1 + idx // 60000 % 200, idx // 250 % 240, 1 + idx % 250])
        self.s_ip = bytes([10, 200, 0, 1 + idx % 8])
        self.c_port = 20000 + idx % 40000
        self.s_port = 443 if idx % 3 else 80
        self.c_isn = rng.getrandbits(32)
        self.s_isn = rng.getrandbits(32)
        self.ipid = rng.getrandbits(16)
        self.ts = rng.getrandbits(30)


def segment(
    c: Conn,
    from_client: bool,
    flags: int,
    seq: int,
    ack: int,
    win: int,
    data: tuple[bytes, int],
    t: float,
    opts: bytes,
    snaplen: int,
) -> bytes:
    src, dst = (c.c_ip, c.s_ip) if from_client else (c.s_ip, c.c_ip)
    sport, dport = (c.c_port, c.s_port) if from_client else (c.s_port, c.c_port)
    body, body_sum = data
    thl = 20 + len(opts)
    tot = 20 + thl + len(body)
    c.ipid = (c.ipid + 1) & 0xFFFF
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, c.ipid, 0x4000, 64, 6, 0, src, dst)
    ip_ck = 0xFFFF - _sum16(ip)
    ip = ip[:10] + struct.pack("!H", ip_ck) + ip[12:]
    tcp = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        (thl // 4) << 4,
        flags,
        win,
        0,
        0,
    )
    tcp += opts
    pseudo = _sum16(src + dst) + 6 + thl + len(body)
    ck = 0xFFFF - fold(pseudo + _sum16(tcp) + body_sum)
    tcp = tcp[:16] + struct.pack("!H", ck or 0xFFFF) + tcp[18:]
    frame = (ETH if from_client else ETH_REV) + ip + tcp + body
    wire = len(frame)
    if snaplen and wire > snaplen:
        frame = frame[:snaplen]
    sec = int(t)
    usec = round((t - sec) * 1e6)
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    return struct.pack("<IIII", sec, usec, len(frame), wire) + frame


def ts_opt(val: int, ecr: int) -> bytes:
    return b"\x01\x01\x08\x0a" + struct.pack("!II", val & 0xFFFFFFFF, ecr & 0xFFFFFFFF)


def syn_opts(val: int, ecr: int, wscale: int) -> bytes:
    return (
        struct.pack("!BBH", 2, 4, MSS)
        + b"\x04\x02\x08\x0a"
        + struct.pack("!II", val, ecr)
        + b"\x01\x03\x03"
        + bytes([wscale])
    )


def conversation(c: Conn, rng: random.Random, snaplen: int) -> Iterator[tuple[float, bytes]]:
    """Packets of one connection as (relative time, record) pairs."""
    rtt = rng.uniform(0.0005, 0.08)
    t = 0.0
    cs, ss = c.c_isn, c.s_isn
    tsc, tss = c.ts, c.ts + 7_000_000
    empty = (b"", 0)
    yield t, segment(c, True, 0x02, cs, 0, 64240, empty, t, syn_opts(tsc, 0, 7), snaplen)
    t += rtt / 2
    yield t, segment(c, False, 0x12, ss, cs + 1, 65160, empty, t, syn_opts(tss, tsc, 7), snaplen)
    t += rtt / 2
    cs += 1
    ss += 1
    tsc += 1
    yield t, segment(c, True, 0x10, cs, ss, 502, empty, t, ts_opt(tsc, tss), snaplen)
    req = payload(0, rng.randint(80, 600))
    t += 0.0001
    yield t, segment(c, True, 0x18, cs, ss, 502, req, t, ts_opt(tsc, tss), snaplen)
    cs += len(req[0])
    t += rtt / 2
    yield t, segment(c, False, 0x10, ss, cs, 509, empty, t, ts_opt(tss, tsc), snaplen)
    nseg = rng.choice((1, 2, 3, 4, 6, 8, 12, 20, 40))
    sizes = [MSS] * (nseg - 1) + [rng.randint(100, MSS)]
    held: tuple[float, bytes] | None = None
    for i, size in enumerate(sizes):
        t += 0.00005
        flags = 0x18 if i == len(sizes) - 1 else 0x10
        data = payload(1, size)
        rec = segment(c, False, flags, ss, cs, 509, data, t, ts_opt(tss, tsc), snaplen)
        r = rng.random()
        if r < 0.003 and held is None and i + 1 < len(sizes):
            held = (t, rec)  # delivered after the next segment: out of order
        else:
            yield t, rec
            if held is not None:
                yield t + 0.00001, held[1]
                held = None
        if r > 0.99:
            # lost then retransmitted after duplicate ACKs (or a timeout)
            for _ in range(3):
                t += rtt / 2
                yield t, segment(c, True, 0x10, cs, ss, 502, empty, t, ts_opt(tsc, tss), snaplen)
            t += rtt / 2
            yield t, segment(c, False, flags, ss, cs, 509, data, t, ts_opt(tss, tsc), snaplen)
        ss += size
        tss += 1
        if i % 2 == 1 or i == len(sizes) - 1:
            t += rtt / 2
            tsc += 1
            win = 0 if rng.random() < 0.001 else 502
            yield t, segment(c, True, 0x10, cs, ss, win, empty, t, ts_opt(tsc, tss), snaplen)
    if held is not None:
        yield held
    t += 0.001
    if rng.random() < 0.02:
        yield t, segment(c, True, 0x14, cs, ss, 0, empty, t, b"", snaplen)
        return
    yield t, segment(c, True, 0x11, cs, ss, 502, empty, t, ts_opt(tsc, tss), snaplen)
    t += rtt / 2
    yield t, segment(c, False, 0x11, ss, cs + 1, 509, empty, t, ts_opt(tss, tsc), snaplen)
    t += rtt / 2
    yield t, segment(c, True, 0x10, cs + 1, ss + 1, 502, empty, t, ts_opt(tsc, tss), snaplen)


def generate(out: str, packets: int, flows: int, snaplen: int, seed: int) -> int:
    """Schedule connections on one clock: each packet goes out at its connection's start
    plus its own offset, so time stamps only grow and connections overlap."""
    rng = random.Random(seed)
    written = 0
    snap_hdr = snaplen or 262144
    heap: list[tuple[float, int, bytes, Iterator[tuple[float, bytes]]]] = []
    idx = 0
    start = 1_700_000_000.0
    # New connections arrive at a rate that keeps about ``flows`` of them open.
    gap = 0.05 / flows

    def open_conn(at: float) -> None:
        nonlocal idx
        c = Conn(idx, rng)
        it = conversation(c, rng, snaplen)
        first = next(it)
        heapq.heappush(heap, (at + first[0], idx, first[1], it))
        idx += 1

    next_open = start
    with open(out, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap_hdr, 1))
        buf: list[bytes] = []
        begun: dict[int, float] = {}
        while written < packets:
            while not heap or next_open <= heap[0][0]:
                begun[idx] = next_open
                open_conn(next_open)
                next_open += gap * rng.uniform(0.5, 1.5)
            t, key, rec, it = heapq.heappop(heap)
            sec = int(t)
            usec = min(int((t - sec) * 1e6), 999_999)
            buf.append(struct.pack("<II", sec, usec) + rec[8:])
            written += 1
            nxt = next(it, None)
            if nxt is None:
                del begun[key]
            else:
                heapq.heappush(heap, (begun[key] + nxt[0], key, nxt[1], it))
            if len(buf) > 10000:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
    return written


def bulk(out: str, packets: int, snaplen: int, seed: int) -> int:
    """One long download (``--one-flow``): the handshake, a request, then the server's
    segments acknowledged every second one; about 0.5% of segments are lost and sent again
    after three duplicate ACKs, and the receiver's window now and then drops to zero and
    opens again. Each ACK is a tenth of a round trip after the segment it answers."""
    rng = random.Random(seed)
    c = Conn(0, rng)
    rtt, t = 0.02, 1_700_000_000.0
    cs, ss, tsc, tss = c.c_isn, c.s_isn, c.ts, c.ts + 7_000_000
    empty = (b"", 0)
    recs = [
        segment(c, True, 0x02, cs, 0, 64240, empty, t, syn_opts(tsc, 0, 7), snaplen),
        segment(c, False, 0x12, ss, cs + 1, 65160, empty, t + rtt, syn_opts(tss, tsc, 7), snaplen),
    ]
    cs, ss, t = cs + 1, ss + 1, t + rtt
    req = payload(0, 200)
    recs.append(segment(c, True, 0x18, cs, ss, 502, req, t, ts_opt(tsc, tss), snaplen))
    cs += len(req[0])
    data = payload(1, MSS)
    i = 0
    while len(recs) < packets - 3:
        t += 0.0002
        tss += 1
        recs.append(segment(c, False, 0x10, ss, cs, 509, data, t, ts_opt(tss, tsc), snaplen))
        if rng.random() < 0.005:  # lost past the capture point: three more, duplicate ACKs
            for k in range(1, 4):
                t += 0.0002
                later = ss + k * MSS
                recs.append(
                    segment(c, False, 0x10, later, cs, 509, data, t, ts_opt(tss, tsc), snaplen)
                )
                dup = ts_opt(tsc, tss)
                recs.append(segment(c, True, 0x10, cs, ss, 502, empty, t + rtt / 10, dup, snaplen))
            t += rtt / 10 + 0.0002  # the fast retransmission
            recs.append(segment(c, False, 0x10, ss, cs, 509, data, t, ts_opt(tss, tsc), snaplen))
            ss += 3 * MSS
        ss += MSS
        i += 1
        if i % 2 == 0:
            t += rtt / 10
            tsc += 1
            win = 0 if rng.random() < 0.002 else 502
            recs.append(segment(c, True, 0x10, cs, ss, win, empty, t, ts_opt(tsc, tss), snaplen))
            if win == 0:  # the reader catches up after a while
                t += 0.3
                recs.append(
                    segment(c, True, 0x10, cs, ss, 502, empty, t, ts_opt(tsc, tss), snaplen)
                )
    recs.append(segment(c, False, 0x11, ss, cs, 509, empty, t + 0.001, ts_opt(tss, tsc), snaplen))
    recs.append(
        segment(c, True, 0x11, cs, ss + 1, 502, empty, t + 0.002, ts_opt(tsc, tss), snaplen)
    )
    recs.append(
        segment(c, False, 0x10, ss + 1, cs + 1, 509, empty, t + 0.003, ts_opt(tss, tsc), snaplen)
    )
    with open(out, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen or 262144, 1))
        fh.write(b"".join(recs))
    return len(recs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=4000, help="connections open at once")
    ap.add_argument("--snaplen", type=int, default=0, help="cut packets to N bytes (0: whole)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--one-flow", action="store_true", help="one long download instead")
    args = ap.parse_args(argv)
    if args.one_flow:
        n = bulk(args.out, args.packets, args.snaplen, args.seed)
    else:
        n = generate(args.out, args.packets, args.flows, args.snaplen, args.seed)
    print(f"wrote {n:,} packets to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
