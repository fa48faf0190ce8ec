"""The columnar packet table: one numpy array per TCP header field, one row per segment.

A capture of millions of packets lives here, not in Python objects.  A ``Packet`` object is
made for a row only when something shows that row (a ladder page, the JSON packet list).
Rows that the fast reader left to Scapy, and pasted packets with more than their line
(commentary, decode lines), keep their ``Packet`` object in ``objects``, and the columns
mirror it; the other rows of pasted text are made again from their line (``remake``).

Unknown values are -1 (a pasted bare ACK has no seq; a packet without ACK has no ack).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.decode.model.i18n import N_
from app.decode.model.options import Options, options_from_bytes
from app.decode.model.packet import ACK, NAMED_PORTS, URG, Comment, Packet, format_endpoint

# column: dtype.  Host columns are ids into ``PacketTable.hosts``.
COLUMNS: dict[str, type[Any]] = {
    "frame": np.int64,  # capture frame number (1-based) or tcpdump's -# number; -1
    "time": np.float64,  # seconds; NaN when unknown
    "ipv": np.int8,
    "src": np.int32,
    "dst": np.int32,
    "sport": np.int32,
    "dport": np.int32,
    "flags": np.int32,
    "seq": np.int64,
    "ack": np.int64,  # -1 unless the ACK bit is set (and the value known)
    "length": np.int64,  # payload bytes
    "win": np.int32,
    "urg": np.int32,  # -1 unless the URG bit is set
    "cksum": np.int32,
    "mss": np.int32,
    "wscale": np.int16,
    "sackok": np.bool_,
    "ts_val": np.int64,
    "ts_ecr": np.int64,
    "sack": np.bool_,  # carries SACK blocks
    "bad_opt": np.bool_,  # an option that does not parse
    "bad_cksum": np.bool_,  # tcpdump printed "incorrect -> 0x…"
    "truncated": np.bool_,
    "malformed": np.int8,  # a TCP header that does not add up: MALFORMED_TCP's key; 0
    "reassembly": np.int8,  # 1: reassembled from IP fragments; 2: its datagram incomplete; 0
    "ipid": np.int32,  # IPv4 identification; -1 (IPv6, or not printed)
    "tos": np.int16,  # IPv4 TOS / IPv6 traffic class byte (DSCP and ECN, RFC 3168 §5); -1
    "ttl": np.int16,  # IPv4 TTL / IPv6 hop limit; -1
    "cksum_status": np.int8,  # TCP checksum: 0 unverified, 1 good, 2 bad (checksum.py)
    "cksum_expected": np.int32,  # what it should have been, when bad; -1
    "ipsum_status": np.int8,  # IPv4 header checksum, the same way
    "offset": np.int64,  # where the frame's bytes start in the (decompressed) input; -1
    "caplen": np.int32,
    "iface": np.int16,  # interface (pcapng) whose link type the frame has
    "opt_start": np.int64,  # the TCP option bytes, in PacketTable.opt_bytes
    "opt_len": np.int16,
}

Columns = dict[str, npt.NDArray[Any]]

# What is wrong with a malformed TCP header (tshark: "Short segment", "Bogus TCP header
# length"): such a segment is shown, flagged tcp.malformed, and left out of the sequence
# analysis, as Wireshark leaves it out.
MALFORMED_TCP: dict[int, str] = {  # (explanations translate them: N_)
    1: N_("the header length (data offset) is below the 20-byte minimum"),
    2: N_("the header is longer than the IP packet's payload"),
}
MALFORMED_CODE: dict[str, int] = {v: k for k, v in MALFORMED_TCP.items()}


def empty_columns(n: int = 0) -> Columns:
    """n rows of "unknown": -1, False, and NaN for the time."""
    cols: Columns = {name: np.full(n, -1, dtype=dt) for name, dt in COLUMNS.items()}
    for name, dt in COLUMNS.items():
        if dt is np.bool_:
            cols[name] = np.zeros(n, dt)
    cols["time"] = np.full(n, np.nan)
    cols["malformed"] = np.zeros(n, np.int8)
    cols["reassembly"] = np.zeros(n, np.int8)
    cols["cksum_status"] = np.zeros(n, np.int8)
    cols["ipsum_status"] = np.zeros(n, np.int8)
    return cols


def concat(parts: list[Columns]) -> Columns:
    """One table from many chunks' columns, freeing each chunk's column as it goes."""
    if not parts:
        return empty_columns()
    out: Columns = {}
    for name, dt in COLUMNS.items():
        out[name] = np.concatenate([p.pop(name) for p in parts]).astype(dt, copy=False)
    return out


class RowTexts(Mapping[int, str]):
    """A text for some rows, as a column: each row's index into ``texts``, or -1.  A
    capture's payload summaries are hundreds of thousands of rows but a few distinct texts;
    as a dict they would cost some 140 bytes a row."""

    __slots__ = ("_rows", "codes", "texts")

    def __init__(self, codes: npt.NDArray[np.int32], texts: list[str]) -> None:
        self.codes = codes
        self.texts = texts
        self._rows: npt.NDArray[np.int64] | None = None

    def rows(self) -> npt.NDArray[np.int64]:
        """The rows that have a text, in order."""
        if self._rows is None:
            self._rows = np.flatnonzero(self.codes >= 0)
        return self._rows

    def __getitem__(self, row: int) -> str:
        code = int(self.codes[row]) if 0 <= row < len(self.codes) else -1
        if code < 0:
            raise KeyError(row)
        return self.texts[code]

    def __iter__(self) -> Iterator[int]:
        return iter(self.rows().tolist())

    def __len__(self) -> int:
        return len(self.rows())

    def take(self, rows: Sequence[int] | npt.NDArray[np.int64]) -> dict[int, str]:
        """The texts of ``rows``, keyed by position in ``rows``."""
        codes = self.codes[np.asarray(rows, np.int64)]
        have = np.flatnonzero(codes >= 0)
        texts = [self.texts[c] for c in codes[have].tolist()]
        return dict(zip(have.tolist(), texts, strict=True))


@dataclass(slots=True)
class PacketTable:
    kind: str
    cols: Columns
    hosts: list[str]
    opt_bytes: bytes = b""
    objects: dict[int, Packet] = field(default_factory=dict)  # row -> Packet kept as read
    comments: dict[int, list[str]] = field(default_factory=dict)  # row -> capture comments
    apps: Mapping[int, str] = field(default_factory=dict)  # row -> the message its payload starts
    linktypes: list[int] = field(default_factory=list)  # per interface (column "iface")
    port_names: dict[int, str] = field(default_factory=dict)  # ports >= NAMED_PORTS
    cache: list[Packet] | None = None
    # Pasted text: the Packet of a row not kept in ``objects``, made again from its line.
    remake: Callable[[int], Packet] | None = None

    def packets(self) -> list[Packet]:
        """Every row as a ``Packet`` (made once; fine for small inputs, slow for millions)."""
        if self.cache is None:
            self.cache = [self.packet(i) for i in range(len(self))]
        return self.cache

    def __len__(self) -> int:
        return len(self.cols["flags"])

    def col(self, name: str) -> npt.NDArray[Any]:
        return self.cols[name]

    def endpoint(self, host: int, port: int) -> str:
        return format_endpoint(self.hosts[host], None if port < 0 else port, self.port_names)

    def object(self, row: int) -> Packet | None:
        """The row's packet as the reader made it (kept, or made again from pasted text's
        line); None for a row that lives in the columns alone."""
        kept = self.objects.get(row)
        if kept is None and self.remake is not None:
            return self.remake(row)
        return kept

    def object_items(self) -> Iterator[tuple[int, Packet]]:
        """(row, packet) for every row that has one (``object``)."""
        if self.remake is None:
            yield from self.objects.items()
            return
        for row in range(len(self)):
            p = self.object(row)
            if p is not None:
                yield row, p

    def options(self, row: int) -> Options:
        """The row's TCP options (the reader's packet's, or read from the option bytes)."""
        kept = self.object(row)
        if kept is not None:
            return kept.options
        start, size = int(self.cols["opt_start"][row]), int(self.cols["opt_len"][row])
        options, _bad = options_from_bytes(self.opt_bytes[start : start + size])
        return options

    def packet(self, row: int) -> Packet:
        """The row as a ``Packet`` (the reader's, ``object``, or one made from the columns)."""
        kept = self.object(row)
        if kept is not None:
            return kept
        c = self.cols

        def opt(name: str) -> int | None:
            v = int(c[name][row])
            return None if v < 0 else v

        flags = int(c["flags"][row])
        options = self.options(row)
        t = float(c["time"][row])
        frame = opt("frame")
        p = Packet(
            n=int(c["row"][row]) + 1 if "row" in c else row + 1,
            src_host=self.hosts[int(c["src"][row])],
            src_port=opt("sport"),
            dst_host=self.hosts[int(c["dst"][row])],
            dst_port=opt("dport"),
            flags=flags,
            ip_version=int(c["ipv"][row]),
            time=None if t != t else t,
            seq=opt("seq"),
            ack=opt("ack") if flags & ACK else None,
            length=opt("length"),
            win=opt("win"),
            urg=opt("urg") if flags & URG else None,
            options=options,
            cksum=opt("cksum"),
            frame=frame,
            truncated=bool(c["truncated"][row]),
            # sessions stored before the column existed have none
            malformed=MALFORMED_TCP.get(int(c["malformed"][row])) if "malformed" in c else None,
        )
        if "cksum_status" in c:
            p.cksum_status = int(c["cksum_status"][row])
            p.cksum_expected = opt("cksum_expected")
        for name, key in (("tos", "tos"), ("ipid", "id")):
            v = int(c[name][row]) if name in c else -1
            if v >= 0:
                p.ip[key] = v
        for text in self.comments.get(row, []):
            p.comments.append(Comment(0, text, "before"))
        p.app = self.apps.get(row)
        return p


class HostBook:
    """Host strings and their ids; captures key them by address bytes."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self._ids: dict[object, int] = {}
        # IPv4 addresses seen so far, sorted, with their ids: a vectorised lookup.
        self._v4_keys = np.zeros(0, np.int64)
        self._v4_ids = np.zeros(0, np.int32)

    def id(self, key: object, text: str | None = None) -> int:
        got = self._ids.get(key)
        if got is None:
            got = self._ids[key] = len(self.hosts)
            self.hosts.append(text if text is not None else str(key))
        return got

    def v4_ids(self, addrs: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """Ids for many IPv4 addresses (as integers), naming the new ones."""
        import socket

        uniq, inv = np.unique(addrs, return_inverse=True)
        at = np.searchsorted(self._v4_keys, uniq)
        known = at < len(self._v4_keys)
        known[known] = self._v4_keys[at[known]] == uniq[known]
        ids = np.empty(len(uniq), np.int32)
        ids[known] = self._v4_ids[at[known]]
        new = uniq[~known]
        if len(new):
            ids[~known] = [
                self.id(text, text)
                for text in (socket.inet_ntoa(v.to_bytes(4, "big")) for v in new.tolist())
            ]
            keys = np.concatenate([self._v4_keys, new])
            vals = np.concatenate([self._v4_ids, ids[~known]])
            order = np.argsort(keys, kind="stable")
            self._v4_keys, self._v4_ids = keys[order], vals[order]
        out: npt.NDArray[np.int32] = ids[inv.ravel()]
        return out


def packet_columns(packets: list[Packet], book: HostBook) -> Columns:
    """Columns mirroring ``Packet`` objects (pasted text, or frames Scapy read)."""
    n = len(packets)
    cols = empty_columns(n)

    def fill(name: str, values: list[Any]) -> None:
        cols[name][:] = values

    def num(v: int | None) -> int:
        return -1 if v is None else v

    fill("frame", [num(p.frame) for p in packets])
    fill("time", [np.nan if p.time is None else p.time for p in packets])
    fill("ipv", [p.ip_version for p in packets])
    fill("src", [book.id(p.src_host) for p in packets])
    fill("dst", [book.id(p.dst_host) for p in packets])
    fill("sport", [num(p.src_port) for p in packets])
    fill("dport", [num(p.dst_port) for p in packets])
    fill("flags", [p.flags for p in packets])
    fill("seq", [num(p.seq) for p in packets])
    fill("ack", [num(p.ack) if p.flags & ACK else -1 for p in packets])
    fill("length", [num(p.length) for p in packets])
    fill("win", [num(p.win) for p in packets])
    fill("urg", [num(p.urg) for p in packets])
    fill("cksum", [num(p.cksum) for p in packets])
    fill("mss", [num(p.options.mss) for p in packets])
    fill("wscale", [num(p.options.wscale) for p in packets])
    fill("sackok", [p.options.sack_perm for p in packets])
    fill("ts_val", [num(p.options.ts_val) for p in packets])
    fill("ts_ecr", [num(p.options.ts_ecr) for p in packets])
    fill("sack", [bool(p.options.sack) for p in packets])
    fill("bad_opt", [any("bad opt" in o for o in p.options.other) for p in packets])
    fill("bad_cksum", [p.cksum_expected is not None for p in packets])
    fill("cksum_status", [p.cksum_verdict() for p in packets])
    fill("cksum_expected", [num(p.cksum_expected) for p in packets])
    fill("truncated", [p.truncated for p in packets])
    fill("malformed", [MALFORMED_CODE.get(p.malformed or "", 0) for p in packets])
    fill("reassembly", [2 if p.incomplete else 1 if p.fragments else 0 for p in packets])
    fill("ipid", [num(p.ip_value("id")) for p in packets])
    fill("tos", [num(p.ip_value("tos")) for p in packets])
    fill("ttl", [num(p.ip_value("ttl") if "ttl" in p.ip else p.ip_value("hlim")) for p in packets])
    cols["opt_start"][:] = 0
    cols["opt_len"][:] = 0
    return cols


def from_packets(kind: str, packets: list[Packet]) -> PacketTable:
    book = HostBook()
    cols = packet_columns(packets, book)
    names = {p.src_port: p.src_port_name for p in packets if p.src_port_name}
    names.update({p.dst_port: p.dst_port_name for p in packets if p.dst_port_name})
    port_names = {
        port: name
        for port, name in names.items()
        if port is not None and port >= NAMED_PORTS and name is not None
    }
    return PacketTable(
        kind, cols, book.hosts, objects=dict(enumerate(packets)), port_names=port_names
    )
