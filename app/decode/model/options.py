"""TCP options, declared once as data: kind, names, length, value layout, RFC.

Every decoder reads options through this table: the capture reader's vectorised walk
(``readers.dissect``), the byte parser for single packets (``options_from_bytes``), the Scapy
fallback (Scapy's option names) and the tcpdump text parser (tcpdump's labels, print-tcp.c
``tcp_option_values``).  Registry: IANA "TCP Option Kind Numbers".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum


class Kind(IntEnum):
    EOL = 0
    NOP = 1
    MSS = 2
    WSCALE = 3
    SACK_PERM = 4
    SACK = 5
    ECHO = 6
    ECHO_REPLY = 7
    TIMESTAMP = 8
    MD5 = 19
    UTO = 28
    TCP_AO = 29
    MPTCP = 30
    TFO = 34
    EXP1 = 253
    EXP2 = 254


@dataclass(frozen=True, slots=True)
class Spec:
    """One option kind.  ``value_len`` is the length of the value (after kind and length)
    when it is fixed; a SACK value is a multiple of ``value_unit`` bytes instead."""

    kind: Kind
    label: str  # as tcpdump prints it
    scapy: str | None  # Scapy's TCPOptionsField name
    value_len: int | None
    layout: str  # struct format of the value; "I*" for a run of 32-bit edges
    rfc: str
    value_unit: int = 0

    @property
    def size(self) -> int | None:
        """Total length on the wire (kind and length bytes included) when fixed."""
        if self.kind in (Kind.EOL, Kind.NOP):
            return 1
        return None if self.value_len is None else self.value_len + 2

    def accepts(self, value_len: int) -> bool:
        if self.value_len is not None:
            return value_len == self.value_len
        return value_len % self.value_unit == 0 if self.value_unit else True


SPECS: tuple[Spec, ...] = (
    Spec(Kind.EOL, "eol", "EOL", 0, "", "RFC 9293 §3.2"),
    Spec(Kind.NOP, "nop", "NOP", 0, "", "RFC 9293 §3.2"),
    Spec(Kind.MSS, "mss", "MSS", 2, "!H", "RFC 9293 §3.7.1, RFC 6691"),
    Spec(Kind.WSCALE, "wscale", "WScale", 1, "!B", "RFC 7323 §2"),
    Spec(Kind.SACK_PERM, "sackOK", "SAckOK", 0, "", "RFC 2018 §2"),
    Spec(Kind.SACK, "sack", "SAck", None, "I*", "RFC 2018 §3", value_unit=4),
    Spec(Kind.ECHO, "echo", None, None, "", "RFC 1072"),
    Spec(Kind.ECHO_REPLY, "echoreply", None, None, "", "RFC 1072"),
    Spec(Kind.TIMESTAMP, "TS", "Timestamp", 8, "!II", "RFC 7323 §3"),
    Spec(Kind.MD5, "md5", None, None, "", "RFC 2385"),
    Spec(Kind.UTO, "uto", None, None, "", "RFC 5482"),
    Spec(Kind.TCP_AO, "tcp-ao", None, None, "", "RFC 5925"),
    Spec(Kind.MPTCP, "mptcp", None, None, "", "RFC 8684"),
    Spec(Kind.TFO, "tfo", None, None, "", "RFC 7413"),
    Spec(Kind.EXP1, "exp", None, None, "", "RFC 6994"),
    Spec(Kind.EXP2, "exp", None, None, "", "RFC 6994"),
)
BY_KIND: dict[int, Spec] = {int(s.kind): s for s in SPECS}
BY_LABEL: dict[str, Spec] = {s.label: s for s in SPECS if s.kind not in (Kind.EXP1, Kind.EXP2)}
BY_SCAPY: dict[str, Spec] = {s.scapy: s for s in SPECS if s.scapy}
# The options tcpladder reads into fields of their own; the rest are kept as text.
KNOWN = (Kind.MSS, Kind.WSCALE, Kind.SACK_PERM, Kind.SACK, Kind.TIMESTAMP)


@dataclass(slots=True)
class Options:
    """TCP options as tcpdump prints them (RFC 9293 §3.2, RFC 7323, RFC 2018)."""

    mss: int | None = None
    wscale: int | None = None
    sack_perm: bool = False
    ts_val: int | None = None
    ts_ecr: int | None = None
    sack: list[tuple[int, int]] = field(default_factory=list)
    nop: int = 0
    eol: bool = False
    other: list[str] = field(default_factory=list)
    # The list as written, for display: e.g. ["mss 16344", "nop", "wscale 6", ...].
    items: list[str] = field(default_factory=list)

    def add(self, kind: Kind, values: tuple[int, ...] = (), item: str | None = None) -> None:
        """Record one option read with its values; ``item`` is the text as printed (else
        tcpdump's rendering of the values)."""
        if kind == Kind.EOL:
            self.eol = True
        elif kind == Kind.NOP:
            self.nop += 1
        elif kind == Kind.MSS:
            self.mss = values[0]
        elif kind == Kind.WSCALE:
            self.wscale = values[0]
        elif kind == Kind.SACK_PERM:
            self.sack_perm = True
        elif kind == Kind.TIMESTAMP:
            self.ts_val, self.ts_ecr = values
        elif kind == Kind.SACK:
            self.sack.extend(zip(values[0::2], values[1::2], strict=False))
        self.items.append(item if item is not None else render(kind, values))

    def add_other(self, text: str) -> None:
        self.other.append(text)
        self.items.append(text)


def render(kind: Kind, values: tuple[int, ...]) -> str:
    """tcpdump's rendering of a known option (print-tcp.c)."""
    if kind in (Kind.MSS, Kind.WSCALE):
        return f"{BY_KIND[kind].label} {values[0]}"
    if kind == Kind.TIMESTAMP:
        return f"TS val {values[0]} ecr {values[1]}"
    if kind == Kind.SACK:
        pairs = zip(values[0::2], values[1::2], strict=False)
        return "sack " + "".join(f"{{{a}:{b}}}" for a, b in pairs)
    return BY_KIND[kind].label


def unpack(spec: Spec, value: bytes) -> tuple[int, ...]:
    """The integers of an option value laid out as ``spec.layout`` says."""
    if spec.layout == "I*":
        return struct.unpack(f"!{len(value) // 4}I", value)
    if spec.layout:
        out: tuple[int, ...] = struct.unpack(spec.layout, value)
        return out
    return ()


def options_from_bytes(raw: bytes) -> tuple[Options, bool]:
    """Parse TCP option bytes as the vectorised reader does; (options, malformed)."""
    o = Options()
    bad = False
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind in (Kind.EOL, Kind.NOP):
            o.add(Kind(kind))
            if kind == Kind.EOL:
                break
            i += 1
            continue
        size = raw[i + 1] if i + 1 < len(raw) else 0
        if size < 2:
            # tcpdump ("[bad opt]") and Wireshark stop here; Scapy would read on as if the
            # length were 2.  The columns stop too, so the packet shown matches its analysis.
            o.add_other(f"[bad opt {kind} len {size}]")
            return o, True
        value = raw[i + 2 : i + size]
        if i + size > len(raw):
            bad = True
        spec = BY_KIND.get(kind)
        if spec is not None and spec.kind in KNOWN and spec.accepts(len(value)):
            o.add(spec.kind, unpack(spec, value))
        elif spec is not None and spec.kind in KNOWN:
            bad = True
            o.add_other(f"[bad opt {kind} len {size}]")
        else:
            name = spec.label if spec is not None else f"unknown-{kind}"
            o.add_other(f"{name} {value.hex()}" if value else name)
        i += size
    return o, bad


def is_dsack(blocks: list[tuple[int, int]], ack: int | None) -> bool:
    """RFC 2883 §4: the first SACK block reports a duplicate (D-SACK) when it lies below the
    cumulative ack, or inside the second block."""
    a, b = blocks[0]
    if ack is not None and 0 < (ack - a) % (1 << 32) < (1 << 31):
        return True
    if len(blocks) > 1:
        c, d = blocks[1]
        return (a - c) % (1 << 32) < (1 << 31) and (d - b) % (1 << 32) < (1 << 31)
    return False
