"""Read tcpdump terminal output as people paste it.

The format is tcpdump(1)'s "TCP Packets" section and print-tcp.c: ::

    [time] IP[6] [(ip header)] src > dst: Flags [..], [cksum ..,] [seq a[:b],] [ack n,]
        win w, [urg u,] [options [..],] length l[: app summary]

Pasted text also carries the user's own words between packets, the tcpdump command and its
status lines, packets glued on one line, lines cut short while quoting, and hex dumps.  Every
non-blank line ends up somewhere: a packet, a repeat of a packet (its prose attached to it),
commentary beside a packet, the header, or a warning with its line number.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.decode.model.errors import InputTooLarge, NoPackets
from app.decode.model.i18n import N_
from app.decode.model.memory import paused_gc
from app.decode.model.options import BY_LABEL, Kind, Options
from app.decode.model.packet import (
    ACK,
    AE,
    CWR,
    ECE,
    FIN,
    NAMED_PORTS,
    PSH,
    RST,
    SEQ_MOD,
    SYN,
    URG,
    Comment,
    Notice,
    Packet,
)
from app.decode.model.services import SERVICES
from app.decode.model.table import from_packets
from app.decode.model.trace import Trace
from app.decode.text.oldformat import OLD_START, OldFields, parse_old
from app.decode.text.repair import repair

PACKET_EXAMPLE = (
    "12:00:00.000001 IP 127.0.0.1.51596 > 127.0.0.1.8000: Flags [S], seq 469714520, "
    "win 65535, options [mss 16324,nop,wscale 6], length 0"
)

# A packet starts with an optional time stamp, an optional interface/direction (-i any on
# newer Linux tcpdump: "lo In"), then "IP" or "IP6".
# Time stamps: default / -ttt / -ttttt "12:34:56.123456" (nano: 9 digits), -tttt with a date,
# -tt seconds since the epoch "1700000000.123456".
_TIME = (
    r"(?:(?:(?P<date>\d{4}-\d{2}-\d{2}) )?(?P<time>\d{1,3}:\d{2}:\d{2}(?:\.\d{1,9})?)"
    r"|(?P<epoch>\d{9,11}\.\d{3,9}))"
)
_START_BODY = (
    r"(?:"
    + _TIME
    + r" +)?"
    + r"(?:(?P<ifname>[\w.@-]+) +(?P<dir>In|Out|P|B|M) +)?"
    # -e: "ethertype IPv4 (0x0800), length 74: " stands where "IP " would be.
    + r"(?:(?P<proto>IP6?) |ethertype (?P<etype>IPv[46]) \(0x[0-9a-fA-F]{4}\),(?: length \d+:)? )"
)
_START = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[`>]))" + _START_BODY)
# Fast path: the packet begins the line (after tcpdump's -# number).
_START_AT_LINE = re.compile(r"[ \t]*(?:\d{1,9} +)?" + _START_BODY)
# A tcpdump record starts with -# packet number and/or a time stamp.
_RECORD_HEAD = r"^\s*(?:(?P<num>\d{1,9}) +)?" + _TIME
_RECORD_PREFIX = re.compile(_RECORD_HEAD + r"\s")
# Lines that continue a packet printed over several lines (-v, encapsulations):
#   "    10.0.0.1.80 > 10.0.0.2.1234: Flags [S], ..."  (after an IP header in parentheses)
#   "\tIP (tos 0x0, ...)" / "\twccp ...: IP (tos 0x0, ...)"  (inner packet of a tunnel)
_CONT_ADDR = re.compile(r"^(?: {4}|\t)\s*[^\s>]+ > [^\s]+: ")
_CONT_INNER = re.compile(
    r"^(?:\t| {4})\s*(?:IP6? \(|\((?:tos|hlim|flowlabel) |[^\n]*\sIP6? \(.*\)\s*$)"
)
# VXLAN and Geneve at -v print the inner "IP (...)" at the start of a line.
_INNER_AT_COLUMN_0 = re.compile(r"^IP6? \(")
_FLAGS = re.compile(r"Flags \[(?P<flags>[^\]]*)\]")
_EXT_PORTS = re.compile(r"^ (?:[^>]*?) (?P<sp>\d{1,5}) > (?P<dp>\d{1,5}): (?=Flags \[)")
_HEX_LINE = re.compile(r"^\s*0x[0-9a-fA-F]{4}:\s")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PROMPT_CMD = re.compile(
    # user@host: "[^\s@]*@" splits at the first @ only (as "\S*@" would at any, which
    # backtracks quadratically on a long line of @s: found by the fuzzer)
    r"^(?:[^\s@]*@\S*(?:\s+\S+)?\s*)?(?:[$%#>]\s*)?(?:sudo\s+)?(?P<cmd>tcpdump(?:\s.*)?)$"
)
_FILTER_WORD = re.compile(
    r"^(?:-.*|[!'\"(].*|.*[)'\"]|\d+|tcp|udp|icmp6?|arp|ip6?|port|portrange|host|net|src|dst|"
    r"and|or|not|&&|\|\||greater|less|proto|ether|vlan|any|lo\d*|eth\d+|en\d+|[a-z]+\d+)$"
)
_STATUS = re.compile(
    r"^\s*(?:tcpdump: |listening on |\d+ packets? (?:captured|received by filter|dropped by)|"
    r"reading from file |dropped privs to )"
)
_BAD_TIME = re.compile(r"^\s*(\d{1,3}):(\d{2}):(\d{2})\.(\d{1,9})\b")

_FIRST_LABEL_LINES = 3
OLD_EXAMPLE = (
    "12:00:00.000001 IP 127.0.0.1.51596 > 127.0.0.1.8000: S 469714520:469714520(0) win 65535"
)
_ARROW = re.compile(r"[^\s>]+ > [^\s>]+: ")
# Prose that reads like an attempt at a packet: addresses and an arrow or TCP words.
_LOOKALIKE = re.compile(
    r"(?:\d{1,3}\.){3}\d{1,3}[.:]\d+\s*(?:>|->|→)\s*\S+|"
    r"\b(?:Flags|seq|ack|win)\b.*\b(?:length|win|ack)\b"
)

_LONG_FLAGS = {
    "SYN": SYN,
    "ACK": ACK,
    "FIN": FIN,
    "RST": RST,
    "RESET": RST,
    "PUSH": PSH,
    "PSH": PSH,
    "URG": URG,
    "ECE": ECE,
    "CWR": CWR,
    "AE": AE,
}
_LETTER_FLAGS = {
    "F": FIN,
    "S": SYN,
    "R": RST,
    "P": PSH,
    ".": ACK,
    "U": URG,
    "E": ECE,
    "W": CWR,
    "e": AE,
}

_FIELD_RES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "cksum",
        re.compile(
            r", cksum 0x(?P<ck>[0-9a-fA-F]+) \((?:(?P<ok>correct)|incorrect -> 0x(?P<exp>[0-9a-fA-F]+))\)"
        ),
    ),
    ("seq", re.compile(r", seq (?P<s>\d+)(?::(?P<e>\d+))?")),
    ("ack", re.compile(r", ack (?P<a>\d+)")),
    ("win", re.compile(r", win (?P<w>\d+)")),
    ("urg", re.compile(r", urg (?P<u>\d+)")),
    ("options", re.compile(r", options \[")),
    ("length", re.compile(r", length (?P<l>\d+)")),
)


_FAST_FIELDS = re.compile(
    r"(?:, cksum 0x([0-9a-fA-F]+) \((?:correct|incorrect -> 0x([0-9a-fA-F]+))\))?"
    r"(?:, seq (\d+)(?::(\d+))?)?"
    r"(?:, ack (\d+))?"
    r"(?:, win (\d+))?"
    r"(?:, urg (\d+))?"
    r"(?:, options \[([^\[\]]*)\])?"
    r", length (\d+)"
)


class FlagError(ValueError):
    pass


_FLAG_CACHE: dict[str, int] = {}


def parse_flags(text: str) -> int:
    """``S.`` / ``SYN.ACK`` / ``none`` → bit mask (tcpdump print-tcp.c tcp_flag_values)."""
    bits = _FLAG_CACHE.get(text)
    if bits is None:
        bits = _parse_flags(text)
        if len(_FLAG_CACHE) < 4096:
            _FLAG_CACHE[text] = bits
    return bits


def _parse_flags(text: str) -> int:
    text = text.strip()
    if text in ("", "none"):
        return 0
    parts = [p for p in text.split(".")]
    if any(p.upper() in _LONG_FLAGS for p in parts if p):
        bits = 0
        for i, part in enumerate(parts):
            if not part:
                # "[ACK]" style never has empty parts except a trailing "." meaning ACK.
                if i == len(parts) - 1 and i > 0:
                    bits |= ACK
                continue
            name = part.upper()
            if name not in _LONG_FLAGS:
                raise FlagError(f"unknown flag name {part!r} in [{text}]")
            bits |= _LONG_FLAGS[name]
        return bits
    bits = 0
    for ch in text:
        if ch not in _LETTER_FLAGS:
            raise FlagError(f"unknown flag letter {ch!r} in [{text}]")
        bits |= _LETTER_FLAGS[ch]
    return bits


def _read_option(opts: Options, item: str) -> None:
    """One printed option, read through the option table's tcpdump labels."""
    words = item.split()
    spec = BY_LABEL.get(words[0] if words else "")
    kind = spec.kind if spec is not None else None
    try:
        if kind in (Kind.MSS, Kind.WSCALE) and len(words) == 2:
            opts.add(Kind(kind), (int(words[1]),), item)
        elif kind in (Kind.SACK_PERM, Kind.NOP, Kind.EOL):
            opts.add(Kind(kind), (), item)
        elif kind == Kind.TIMESTAMP and len(words) >= 5 and words[1] == "val" and words[3] == "ecr":
            opts.add(Kind.TIMESTAMP, (int(words[2]), int(words[4])), item)
        elif kind == Kind.SACK and len(words) >= 2:
            edges = [int(v) for pair in re.findall(r"\{(\d+):(\d+)\}", item) for v in pair]
            opts.add(Kind.SACK, tuple(edges), item)
        else:
            opts.add_other(item)
    except ValueError:
        opts.add_other(item)


_NOP_NOP_TS = re.compile(r"nop,nop,TS val (\d+) ecr (\d+)\Z")


def parse_options(text: str) -> Options:
    """The inside of ``options [...]`` as tcpdump prints it (print-tcp.c, tcp_opts)."""
    common = _NOP_NOP_TS.match(text)
    if common is not None:
        # what nearly every segment of a connection with timestamps carries
        val, ecr = int(common.group(1)), int(common.group(2))
        return Options(ts_val=val, ts_ecr=ecr, nop=2, items=["nop", "nop", text[8:]])
    opts = Options()
    depth = 0
    item = ""
    items: list[str] = []
    if not any(c in text for c in "[{"):
        items = [i.strip() for i in text.split(",")]
        if not items[-1]:
            items.pop()
        text = ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(item.strip())
            item = ""
        else:
            item += ch
    if item.strip():
        items.append(item.strip())
    # "md5 shared secret not supplied with -M, can't check - 0123..." is one option.
    for k in range(len(items) - 1, 0, -1):
        if items[k].startswith("can't check") and items[k - 1].startswith("md5"):
            items[k - 1 : k + 1] = [items[k - 1] + ", " + items[k]]
    for it in items:
        _read_option(opts, it)
    return opts


@dataclass(slots=True)
class _Parsed:
    """A packet line as printed, before relative numbers are resolved."""

    packet: Packet
    seq_start: int | None = None
    seq_end: int | None = None
    ack: int | None = None
    partial: bool = False
    has_time: bool = False
    hex_lines: list[str] = field(default_factory=list)
    old: bool = False  # printed in tcpdump's format before 4.0
    no_ip: bool = False  # no "IP" in front of the addresses (tcpdump 3.x)


def _split_endpoint(text: str) -> tuple[str, int | None, str | None]:
    """``127.0.0.1.57729`` → host, port; ``10.8.34.27.memcache`` → host, 11211, "memcache"."""
    host, dot, port = text.rpartition(".")
    if not dot or not host:
        return text, None, None
    if port.isdigit():
        return host, int(port), None
    return host, SERVICES.get(port.lower()), port


def _parse_clock(date: str | None, clock: str, line: int, warnings: list[Notice]) -> float | None:
    hh, mm, rest = clock.split(":")
    ss, _, frac = rest.partition(".")
    h, m, s = int(hh), int(mm), int(ss)
    if h > 23 or m > 59 or s > 60:
        warnings.append(
            Notice(
                line,
                f"time stamp {clock!r} is not a time of day (hour {h}, minute {m}, second {s}); "
                "packet kept without a time",
            )
        )
        return None
    seconds = h * 3600 + m * 60 + s + (int(frac) / 10 ** len(frac) if frac else 0.0)
    if date:
        try:
            day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            warnings.append(Notice(line, f"date {date!r} is not a calendar date; ignored"))
        else:
            seconds += day.timestamp()
    return seconds


# A record (time stamp) followed by a protocol name tcpdump prints for non-IP packets.
_OTHER_PROTOCOL = re.compile(
    _RECORD_HEAD + r" +(?:[\w.@-]+ +(?:In|Out|P|B|M) +)?"
    # -e: "00:11:22:33:44:55 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), ..."
    r"(?:(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2} > \S+ (?=ethertype (?!IPv[46] )))?"
    r"(?:ARP|RARP|STP|LLDP|CDP|LLC|IPX|AARP|EAPOL|PPPoE|VRRP|ethertype|802\.1|[A-Z][A-Z0-9]{2,}v?\d?,)"
)
_BARE_START = re.compile(r"(?:(?<=: )|(?<=\) ))(?=[^\s>()]+ > \S+: Flags \[)")


def _ip_version(m: re.Match[str], src_text: str) -> int:
    g = m.groupdict()
    proto = g.get("proto") or g.get("etype")
    if proto is None:
        return 6 if ":" in src_text else 4
    return 6 if proto in ("IP6", "IPv6") else 4


def _balanced_paren(text: str, pos: int) -> int:
    """Index just past the ')' or ']' closing the bracket at ``pos``, or -1."""
    opening = text[pos]
    closing = ")" if opening == "(" else "]"
    depth = 0
    for i in range(pos, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _ip_header(text: str) -> dict[str, object]:
    """The ``(tos 0x0, ttl 64, ...)`` of -v output, as a small dict of what we recognise."""
    out: dict[str, object] = {"text": text}
    for key, pattern in (
        # tcpdump 3.9 printed "ttl  64" (two spaces) and "length: 60"
        ("ttl", r"\bttl +(\d+)"),
        ("hlim", r"\bhlim (\d+)"),
        ("id", r"\bid (\d+)"),
        ("length", r"(?:\blength:?|payload length:?) (\d+)"),
    ):
        m = re.search(pattern, text)
        if m:
            out[key] = int(m.group(1))
    m = re.search(r"\bflowlabel (0x[0-9a-fA-F]+)", text)
    if m:
        out["flowlabel"] = m.group(1)
    m = re.search(r"\btos (0x[0-9a-fA-F]+)(?:,(ECT\(0\)|ECT\(1\)|CE))?", text)
    if m:
        out["tos"] = m.group(1)
        if m.group(2):
            out["ecn"] = m.group(2)
    return out


def _ip_prefix(seg: str) -> tuple[dict[str, object], int] | None:
    """The IP header in parentheses (-v), possibly after tcpdump's "[total length 62 >
    length 50] (invalid)" complaints; (its fields, where the addresses start)."""
    pos = 0
    ip: dict[str, object] = {}
    while pos < len(seg) and seg[pos] in "([":
        close = _balanced_paren(seg, pos)
        if close < 0:
            return None
        if seg[pos] == "(" and not ip:
            inner = seg[pos + 1 : close - 1]
            if inner != "invalid":
                ip = _ip_header(inner)
        pos = close
        while pos < len(seg) and seg[pos] == " ":
            pos += 1
    return ip, pos


def _addresses_and_rest(seg: str, pos: int) -> tuple[str, str, str] | None:
    """``src > dst:`` from ``pos``: (src, dst, what follows the colon), or None."""
    arrow = seg.find(" > ", pos)
    colon = seg.find(": ", arrow + 3) if arrow >= 0 else -1
    if arrow < 0 or colon < 0:
        # "IP 1.2.3.4.5 > 6.7.8.9.10:" at the very end of the text has no space.
        if arrow >= 0 and seg.rstrip().endswith(":"):
            colon = len(seg.rstrip()) - 1
        else:
            return None
    src_text = seg[pos:arrow]
    dst_text = seg[arrow + 3 : colon]
    if not src_text or " " in src_text or not dst_text or " " in dst_text:
        return None
    return src_text, dst_text, seg[colon + 1 :]


class _LineParser:
    def __init__(self) -> None:
        self.warnings: list[Notice] = []
        # unknown service names: each its own port from NAMED_PORTS up, warned about once
        self.named_ports: dict[str, int] = {}
        self.rejected: set[int] = set()  # lines whose numbers are out of range (warned)

    def find_starts(self, text: str, m: re.Match[str] | None) -> list[re.Match[str]]:
        """Packet starts in ``text``; ``m`` is _START_AT_LINE's match on it, if any."""
        # Fast path: one packet at the start of the line, as tcpdump prints it.
        if m is not None and "IP" not in text[m.end() :] and "ethertype" not in text:
            return [m]
        return list(_START.finditer(text))

    def parse_at(self, text: str, m: re.Match[str], end: int, line: int) -> _Parsed | str | None:
        """Parse the packet starting at match ``m`` and ending before ``end``.

        Returns a ``_Parsed`` for TCP, the string ``"other"`` for a recognised non-TCP packet,
        or ``None`` when this is not a packet line after all (prose that says "IP").
        """
        seg = text[m.end() : end]
        head = _ip_prefix(seg)
        if head is None:
            return None
        ip, pos = head
        found = _addresses_and_rest(seg, pos)
        if found is None:
            return None
        src_text, dst_text, rest = found
        fm = _FLAGS.match(rest.lstrip())
        old: OldFields | None = None
        cut = False
        if fm is None:
            # IPv6 extension headers come between the addresses and the ports:
            # "::1 > ::2: HBH (jumbo: 80040)  41851 > 43913: Flags [P.], ..."
            ext = _EXT_PORTS.match(rest)
            if ext is not None:
                src_text += "." + ext.group("sp")
                dst_text += "." + ext.group("dp")
                rest = rest[ext.end() :]
                fm = _FLAGS.match(rest)
            if fm is None:
                old = parse_old(rest)
                # "src > dst: [|tcp]": the snap length cut the TCP header before its flags
                cut = old is None and rest.strip().startswith("[|tcp]")
                if old is None and not cut:
                    return "other"
        rest = rest.lstrip()
        if fm is not None:
            try:
                flags = parse_flags(fm.group("flags"))
            except FlagError as exc:
                self.warnings.append(
                    Notice(line, f"{exc}; flags ignored", text=text[m.start() : end].strip())
                )
                flags = 0
        else:
            flags = old.flags if old is not None else 0
        src_host, src_port, src_name = _split_endpoint(src_text)
        dst_host, dst_port, dst_name = _split_endpoint(dst_text)
        whole = text[m.start() : end].strip()
        if self._bad_port(src_port, src_text, line, whole) or self._bad_port(
            dst_port, dst_text, line, whole
        ):
            return None
        src_port = self._named_port(src_name, src_port, src_text, line)
        dst_port = self._named_port(dst_name, dst_port, dst_text, line)
        pkt = Packet(
            n=0,
            src_host=src_host,
            src_port=src_port,
            dst_host=dst_host,
            dst_port=dst_port,
            flags=flags,
            ip_version=_ip_version(m, src_text),
            src_port_name=src_name,
            dst_port_name=dst_name,
            ip=ip,
            line=line,
            raw=text[m.start() : end].strip(),
        )
        parsed = _Parsed(packet=pkt)
        g = m.groupdict()
        parsed.no_ip = not (g.get("proto") or g.get("etype"))
        if g.get("time") or g.get("epoch"):
            parsed.has_time = True
            pkt.time_text, pkt.time = _stamp(g, line, self.warnings)
        if g.get("dir"):
            pkt.ip["interface"] = m.group("ifname")
            pkt.ip["direction"] = m.group("dir")
        if fm is not None:
            self._parse_fields(rest[fm.end() :], parsed, line)
        elif old is not None:
            _old_fields(old, parsed)
        else:
            pkt.details.append("[|tcp]")
            pkt.truncated = parsed.partial = True
        wrong = _out_of_range(parsed)
        if wrong is not None:
            self.warnings.append(
                Notice(
                    line,
                    f"{wrong}, so this is not a packet tcpdump printed; kept as commentary",
                    text=text[m.start() : end].strip(),
                )
            )
            self.rejected.add(line)
            return None
        return parsed

    def _bad_port(self, port: int | None, shown: str, line: int, whole: str) -> bool:
        """A port above 65535 (RFC 9293 §3.1: 16 bits): warned about, the line rejected."""
        if port is None or port <= 0xFFFF:
            return False
        self.warnings.append(
            Notice(
                line,
                f"port {port} in {shown!r} is above 65535, so this is not a packet tcpdump "
                "printed; kept as commentary",
                text=whole,
            )
        )
        self.rejected.add(line)
        return True

    def _named_port(self, name: str | None, port: int | None, shown: str, line: int) -> int | None:
        """A service name tcpladder does not know gets a port of its own (from NAMED_PORTS
        up), shown by its name: two different names are two different ports."""
        if name is None or port is not None:
            return port
        got = self.named_ports.get(name)
        if got is None:
            got = self.named_ports[name] = NAMED_PORTS + len(self.named_ports)
            self.warnings.append(
                Notice(
                    line,
                    f"service name {name!r} (in {shown!r}) is not one tcpladder knows; kept "
                    "as a port of its own, shown by name (tcpdump -nn prints numbers)",
                )
            )
        return got

    def _parse_fields(self, rest: str, parsed: _Parsed, line: int) -> None:
        pkt = parsed.packet
        pos = 0
        fast = _FAST_FIELDS.match(rest)
        if fast is not None:
            # The common shape in one regex; anything unusual goes field by field below.
            _fast_fields(fast, parsed)
            pos = fast.end()
        while pos < len(rest):
            got = next(((n, m) for n, rx in _FIELD_RES if (m := rx.match(rest, pos))), None)
            if got is None:
                break
            pos = _one_field(got[0], got[1], rest, parsed)
        if pkt.length is None:
            parsed.partial = True
        _tail(rest[pos:], parsed)


def _fast_fields(fast: re.Match[str], parsed: _Parsed) -> None:
    pkt = parsed.packet
    ck, exp, s, e, a, w, u, o, length = fast.groups()
    if ck is not None:
        pkt.cksum = int(ck, 16)
        pkt.cksum_expected = None if exp is None else int(exp, 16)
    if s is not None:
        parsed.seq_start = int(s)
        parsed.seq_end = None if e is None else int(e)
    parsed.ack = None if a is None else int(a)
    pkt.win = None if w is None else int(w)
    pkt.urg = None if u is None else int(u)
    if o is not None:
        pkt.options = parse_options(o)
    pkt.length = int(length)


_U16, _U32 = 1 << 16, 1 << 32


def _out_of_range(q: _Parsed) -> str | None:
    """The first number of a parsed packet that no TCP header can hold (RFC 9293 §3.1:
    32-bit sequence and acknowledgment numbers, 16-bit window, urgent pointer and
    checksum; RFC 7323, RFC 2018: 32-bit TS values and SACK edges), or None."""
    p, o = q.packet, q.packet.options
    if (
        max(q.seq_start or 0, q.ack or 0, p.length or 0, o.ts_val or 0, o.ts_ecr or 0) < _U32
        and max(p.win or 0, p.urg or 0, p.cksum or 0, p.cksum_expected or 0, o.mss or 0) < _U16
        and (q.seq_end or 0) < _U32 + _U32
        and (o.wscale or 0) < 256
        and (p.frame or 0) < 1 << 40
        and not o.sack
        and min(q.seq_start or 0, q.ack or 0, p.length or 0, p.win or 0) >= 0
    ):
        return None  # the usual case, in one pass
    checks: list[tuple[str, int | None, int]] = [
        ("seq", q.seq_start, _U32),
        ("seq end", q.seq_end, _U32 + _U32),
        ("ack", q.ack, _U32),
        ("win", p.win, _U16),
        ("urg", p.urg, _U16),
        ("cksum", p.cksum, _U16),
        ("expected cksum", p.cksum_expected, _U16),
        ("length", p.length, _U32),
        ("mss", o.mss, _U16),
        ("wscale", o.wscale, 256),
        ("TS val", o.ts_val, _U32),
        ("TS ecr", o.ts_ecr, _U32),
        ("packet number", p.frame, 1 << 40),
        *(("SACK edge", e, _U32) for block in o.sack for e in block),
    ]
    for name, value, limit in checks:
        if value is not None and not 0 <= value < limit:
            return f"{name} {value} does not fit its field (at most {limit - 1})"
    return None


def _old_fields(old: OldFields, parsed: _Parsed) -> None:
    """A packet printed in tcpdump's format before 4.0 (``oldformat``)."""
    pkt = parsed.packet
    parsed.old = True
    parsed.seq_start, parsed.seq_end, parsed.ack = old.seq_start, old.seq_end, old.ack
    pkt.length, pkt.win, pkt.urg = old.length, old.win, old.urg
    pkt.cksum, pkt.cksum_expected = old.cksum, old.cksum_expected
    pkt.options = old.options
    pkt.ip.update(old.ip)
    if old.options_cut:
        pkt.truncated = parsed.partial = True
        pkt.details.append("[|tcp]")
    _tail(old.tail, parsed)


def _one_field(name: str, fm: re.Match[str], rest: str, parsed: _Parsed) -> int:
    """Read one field that matched at its position; where the next one starts."""
    pkt = parsed.packet
    if name == "cksum":
        pkt.cksum = int(fm.group("ck"), 16)
        if fm.group("exp"):
            pkt.cksum_expected = int(fm.group("exp"), 16)
    elif name == "seq":
        parsed.seq_start = int(fm.group("s"))
        parsed.seq_end = int(fm.group("e")) if fm.group("e") else None
    elif name == "ack":
        parsed.ack = int(fm.group("a"))
    elif name == "win":
        pkt.win = int(fm.group("w"))
    elif name == "urg":
        pkt.urg = int(fm.group("u"))
    elif name == "options":
        return _options_field(fm, rest, parsed)
    elif name == "length":
        pkt.length = int(fm.group("l"))
    return fm.end()


def _options_field(fm: re.Match[str], rest: str, parsed: _Parsed) -> int:
    """``options [...]``, brackets balanced; cut short, the rest of the line is read."""
    depth = 1
    i = fm.end()
    while i < len(rest) and depth:
        if rest[i] == "[":
            depth += 1
        elif rest[i] == "]":
            depth -= 1
        i += 1
    if depth:
        parsed.partial = True
        inside = rest[fm.end() :]
        if "[|tcp]" in inside:
            # the snap length cut the options: what was printed is kept, the packet is
            # marked truncated
            parsed.packet.truncated = True
            parsed.packet.details.append("[|tcp]")
            inside = inside.split("[|tcp]", 1)[0].rstrip(" ,[")
        parsed.packet.options = parse_options(inside)
        return len(rest)
    parsed.packet.options = parse_options(rest[fm.end() : i - 1])
    return i


def _tail(tail: str, parsed: _Parsed) -> None:
    """What follows the TCP fields: tcpdump's truncation marks, an application summary,
    or a note the user wrote after the packet."""
    pkt = parsed.packet
    stripped = tail.strip()
    if not stripped or stripped == ",":
        return
    if stripped.startswith("[|tcp]") or stripped.startswith("[bad hdr length"):
        pkt.details.append(stripped)
        parsed.partial = True
        pkt.truncated = pkt.truncated or stripped.startswith("[|tcp]")
        return
    if tail.startswith(": ") or tail.startswith(":"):
        pkt.details.append(stripped.lstrip(": ").strip())
        return
    # A note the user wrote after the packet, e.g. "（1）".
    pkt.annotation = stripped


def _classify_command(line: str) -> list[str] | None:
    if len(line) > 4096 or "tcpdump" not in line:  # a command line is short and names it
        return None
    m = _PROMPT_CMD.search(line.strip())
    if not m:
        return None
    words = m.group("cmd").split()
    # "tcpdump is a powerful tool" is prose; a command is options and filter words.
    args = words[1:]
    if not args or sum(bool(_FILTER_WORD.match(w)) for w in args) * 4 < len(args) * 3:
        return None
    return words


def _command_flags(words: list[str]) -> list[str]:
    """Single-letter options from a tcpdump command line: ``-nnS`` → ``n``, ``n``, ``S``."""
    flags: list[str] = []
    for w in words[1:]:
        if w.startswith("--"):
            flags.append(w)
        elif w.startswith("-") and len(w) > 1:
            for ch in w[1:]:
                flags.append(ch)
                if ch in "iwrcCsEFGMTWyzZBj":  # options that take an argument
                    break
    return flags


QUOTE_LOOKBACK = 256


def _ends_key(p: Packet) -> tuple[str, int | None, str, int | None, int]:
    """What a quote must repeat exactly: the ends (a port above NAMED_PORTS stands for one
    service name) and the flags."""
    return (p.src_host, p.src_port, p.dst_host, p.dst_port, p.flags)


def _same_packet(q: _Parsed, p: _Parsed) -> bool:
    """Whether line ``q`` repeats packet ``p``, which has its ends and flags (``_ends_key``):
    every field ``q`` printed is ``p``'s."""
    a, b = q.packet, p.packet
    if q.has_time and a.time_text != b.time_text:
        return False
    for mine, theirs in (
        (q.seq_start, p.seq_start),
        (q.seq_end, p.seq_end),
        (q.ack, p.ack),
        (a.win, b.win),
        (a.length, b.length),
    ):
        if mine is not None and mine != theirs:
            return False
    mine_opts = a.options.items
    return not mine_opts or mine_opts == b.options.items[: len(mine_opts)]


_ASCII_DUMP = re.compile(r"^(?:E.|`.)[^ ]*\.\.")


def _join_continuations(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join the lines of one packet that tcpdump printed over several lines.

    With -v, IPv4 prints "IP (tos ..., length 60)" and then the TCP part on the next line,
    indented by four spaces; tunnels print the inner packet's header on a tab-indented line.
    Returns (first line number, joined text) pairs.
    """
    out: list[tuple[int, str]] = []
    for number, cur in lines:
        if out and cur[:1] in (" ", "\t") and not _RECORD_PREFIX.match(cur):
            prev = out[-1][1].rstrip()
            if (
                (prev.endswith(")") and _CONT_ADDR.match(cur))
                or (_CONT_INNER.match(cur) and (_START.search(prev) or _RECORD_PREFIX.match(prev)))
                # "src > dst: " with nothing after it: a shim header follows (BCM-LI).
                or (prev.endswith(":") and _START.search(prev) and not _HEX_LINE.match(cur))
            ):
                out[-1] = (out[-1][0], prev + " " + cur.strip())
                continue
        elif (
            out
            and _INNER_AT_COLUMN_0.match(cur)
            and _RECORD_PREFIX.match(out[-1][1])
            and "Flags [" not in out[-1][1].partition(" > ")[2].partition(": ")[2][:8]
            and not out[-1][1].rstrip().endswith(")")
        ):
            out[-1] = (out[-1][0], out[-1][1].rstrip() + " " + cur.strip())
            continue
        out.append((number, cur))
    return out


def _inherit(q: _Parsed, record: re.Match[str], line: int, warnings: list[Notice]) -> None:
    pkt = q.packet
    if pkt.frame is None and record.group("num"):
        pkt.frame = int(record.group("num"))
    if not q.has_time:
        q.has_time = True
        pkt.time_text, pkt.time = _stamp(record.groupdict(), line, warnings)


def _stamp(g: dict[str, str | None], line: int, warnings: list[Notice]) -> tuple[str, float | None]:
    """(as printed, seconds) from the time groups of _TIME."""
    epoch = g.get("epoch")
    if epoch:
        return epoch, float(epoch)
    date, clock = g.get("date"), g.get("time") or ""
    return (date + " " if date else "") + clock, _parse_clock(date, clock, line, warnings)


class _TextReader:
    """Reads pasted text line by line.  Every non-blank line ends up somewhere: a packet,
    a repeat of a packet (its prose attached to it), commentary beside a packet, the
    header, the other-packets list, or a warning."""

    def __init__(
        self,
        max_packets: int | None = None,
        max_comment_lines: int | None = None,
        max_line_length: int | None = None,
    ) -> None:
        self.max_packets = max_packets
        self.max_comments = max_comment_lines
        self.max_line = max_line_length
        self.comment_lines = 0
        self.lp = _LineParser()
        self.warnings = self.lp.warnings
        self.header: list[Comment] = []
        self.preamble: list[Comment] = []
        self.trailing: list[Comment] = []
        self.parsed: list[_Parsed] = []
        self.others: list[dict[str, object]] = []
        self.cmd_flags: list[str] = []
        self.pending: list[Comment] = []  # commentary waiting for the next packet
        self.last_target: Packet | None = None  # the packet commentary after a quote is for
        self.last_was_quote = False
        self.last_was_packet_line = False
        self.blank_since_pending = False
        self.in_dump = False  # inside -A / -X payload text that follows a packet
        self.first_lookalike: tuple[int, str] | None = None  # kept as prose, looks like a packet
        # Packets by (source, destination, flags), for finding the one a quote repeats.
        self.by_ends: dict[tuple[str, int | None, str, int | None, int], list[_Parsed]] = {}
        self.timed = False  # a packet line so far carried a time stamp
        self.in_run = False  # the line before this one was a packet line (or its decode)

    def add_comment(self, lineno: int, body: str) -> None:
        self.comment_lines += 1
        if self.max_comments is not None and self.comment_lines > self.max_comments:
            if self.comment_lines == self.max_comments + 1:
                self.warnings.append(
                    Notice(
                        lineno,
                        f"more than {self.max_comments:,} lines of commentary: from this line "
                        "on they are not kept (TCPLADDER_MAX_COMMENT_LINES)",
                    )
                )
            return
        if self.last_was_quote and self.last_target is not None:
            self.last_target.comments.append(Comment(lineno, body, "after"))
            return
        if not self.parsed and self.pending and self.blank_since_pending:
            # Only the block right above the first packet labels it; the rest is preamble.
            self.preamble.extend(self.pending)
            self.pending.clear()
        self.blank_since_pending = False
        self.pending.append(Comment(lineno, body))

    def feed(self, lineno: int, raw: str) -> None:
        line = raw.rstrip("\r\n")
        if self.max_line is not None and len(line) > self.max_line:
            # tcpdump's fields come first: a protocol decode or a paste gone wrong runs on
            self.warnings.append(
                Notice(
                    lineno,
                    f"line of {len(line):,} characters: only its first {self.max_line:,} were "
                    "read (TCPLADDER_MAX_LINE_LENGTH)",
                    text=line[:300],
                )
            )
            line = line[: self.max_line]
        body = line.strip()
        if not body:
            self.blank_since_pending = True
            self.in_dump = False
            return
        self.in_run = self.last_was_packet_line
        at_line = _START_AT_LINE.match(line)
        if at_line is None and self._not_a_packet_line(lineno, line, body):
            return
        items = self._candidates(lineno, line, at_line)
        if not items:
            self._no_packet(lineno, line, body)
            return
        self._record_prefix(lineno, line, items)
        self.in_dump = False
        self.last_was_packet_line = True
        for start, end, result in items:
            if isinstance(result, str):
                # A tunnel's outer header carries the TCP packet on this line: not "other".
                if not any(isinstance(r, _Parsed) for _, _, r in items):
                    self.others.append({"line": lineno, "text": line[start:end].strip()})
                continue
            self._place(lineno, body, result)

    def _not_a_packet_line(self, lineno: int, line: str, body: str) -> bool:
        """Fences, decode and dump lines under the last packet, tcpdump's own status lines
        and the command: True when the line was taken as one of them."""
        if _FENCE.match(line):
            return True
        parsed = self.parsed
        if parsed and not self.pending and self.last_target is parsed[-1].packet:
            last = parsed[-1]
            if _HEX_LINE.match(line):
                last.hex_lines.append(body)
                last.packet.details.append(body)
                return True
            if line.startswith("\t") and not _START.search(line):
                # Protocol decode tcpdump prints under the packet (BGP, DNS, ...).
                last.packet.details.append(body)
                return True
            ascii_dump = "A" in self.cmd_flags or _ASCII_DUMP.match(line)
            if (self.in_dump or (self.last_was_packet_line and ascii_dump)) and not _START.search(
                line
            ):
                # -A prints the packet as ASCII on the lines after it.
                self.in_dump = True
                last.packet.details.append(body)
                return True
        self.last_was_packet_line = False
        if _STATUS.match(line):
            self.header.append(Comment(lineno, body))
            return True
        words = _classify_command(body)
        if words is not None:
            self.header.append(Comment(lineno, body))
            self.cmd_flags.extend(_command_flags(words))
            return True
        return False

    def _candidates(
        self, lineno: int, line: str, at_line: re.Match[str] | None
    ) -> list[tuple[int, int, _Parsed | str]]:
        """Every packet start on the line, parsed (a string for a non-TCP packet)."""
        lp = self.lp
        starts = lp.find_starts(line, at_line)
        items: list[tuple[int, int, _Parsed | str]] = []
        for k, m in enumerate(starts):
            end = starts[k + 1].start() if k + 1 < len(starts) else len(line)
            result = lp.parse_at(line, m, end, lineno)
            if result is not None:
                items.append((m.start(), end, result))
        if not items:
            # tcpdump 3.x printed no "IP" in front of the addresses
            om = OLD_START.match(line)
            if om is not None:
                result = lp.parse_at(line, om, len(line), lineno)
                if isinstance(result, _Parsed):
                    if om.group("link"):
                        result.packet.ip["link"] = om.group("link").rstrip(": ")
                    return [(om.start(), len(line), result)]
        if _RECORD_PREFIX.match(line) and not any(isinstance(r, _Parsed) for _, _, r in items):
            # TCP printed without "IP" in front: after a -e link header tcpdump omits it
            # ("be 50 c3 65: 10.0.0.1.80 > ..."), and so it does for a tunnel's inner packet
            # ("1.1.1.1 > 2.2.2.2: (tos ...) 10.0.0.1.80 > ...: Flags").
            for bare in list(_BARE_START.finditer(line))[:1]:
                result = lp.parse_at(line, bare, len(line), lineno)
                if isinstance(result, _Parsed):
                    items = [i for i in items if i[0] < bare.start()]
                    items.append((bare.start(), len(line), result))
        return items

    def _no_packet(self, lineno: int, line: str, body: str) -> None:
        """A line with no packet on it: commentary, maybe with a warning, or a non-IP one."""
        bad = _BAD_TIME.match(line)
        if bad and int(bad.group(1)) > 23:
            self.warnings.append(
                Notice(
                    lineno,
                    f"line starts with {bad.group(0).strip()!r}, which is not a time of day; "
                    "no packet follows it, kept as commentary",
                )
            )
        elif " > " in line and re.search(r"Flags \[", line):
            self.warnings.append(
                Notice(
                    lineno,
                    "looks like a TCP packet but is not in tcpdump's "
                    "'IP src > dst: Flags [...]' form; kept as commentary",
                    text=body,
                )
            )
        elif _OTHER_PROTOCOL.match(line) or (_RECORD_PREFIX.match(line) and _ARROW.search(line)):
            # "12:00:00.000003 ARP, Request who-has ...", "… 10.0.0.1.53 > 10.0.0.2.99: 1234+
            # A? …": a packet, just not TCP.
            self.others.append({"line": lineno, "text": body})
            self.last_target = None
            return
        elif lineno in self.lp.rejected:
            pass  # warned about already: a number out of range
        elif _RECORD_PREFIX.match(line) and _LOOKALIKE.search(line):
            if self.first_lookalike is None:
                self.first_lookalike = (lineno, body)
            self.warnings.append(
                Notice(
                    lineno,
                    "looks like a packet but is in no tcpdump format tcpladder knows; kept as "
                    "commentary",
                    text=body,
                )
            )
        self.add_comment(lineno, body)

    def _record_prefix(
        self, lineno: int, line: str, items: list[tuple[int, int, _Parsed | str]]
    ) -> None:
        """The -# number and time stamp printed once, at the start of the record, belong to
        every packet on it: the -e link header's packet and a tunnel's inner packet."""
        lead = line[: items[0][0]]
        record = _RECORD_PREFIX.match(line)
        if record is None:
            if lead.strip():
                self.add_comment(lineno, lead.strip())
            return
        link = lead[record.end() - 1 :].strip()
        for _start, _end, result in items:
            if isinstance(result, _Parsed):
                _inherit(result, record, lineno, self.warnings)
                if link and "link" not in result.packet.ip:
                    result.packet.ip["link"] = link.rstrip(", ")

    def _place(self, lineno: int, body: str, q: _Parsed) -> None:
        """A parsed packet: a quote of an earlier one (kept as its commentary) or new."""
        target = self._quoted(q)
        if target is not None:
            tp = target.packet
            for c in self.pending:
                tp.comments.append(Comment(c.line, c.text, "after"))
            self.pending.clear()
            tp.comments.append(Comment(lineno, q.packet.raw or body, "after"))
            self.last_target = tp
            self.last_was_quote = True
            return
        if q.partial:
            cut = next((d for d in q.packet.details if d.startswith("[")), None)
            why = (
                f"tcpdump printed {cut.split(']')[0]}]: it could not read the whole TCP "
                "header (snap length or a malformed header)"
                if cut
                else "the line is cut short (no 'length' field)"
            )
            self.warnings.append(
                Notice(lineno, f"{why}; packet kept with the fields it has", text=body)
            )
        if not self.parsed and len(self.pending) > _FIRST_LABEL_LINES:
            self.preamble.extend(self.pending[:-_FIRST_LABEL_LINES])
            del self.pending[:-_FIRST_LABEL_LINES]
        q.packet.comments.extend(self.pending)
        self.pending.clear()
        self.parsed.append(q)
        self.by_ends.setdefault(_ends_key(q.packet), []).append(q)
        self.timed = self.timed or q.has_time
        if self.max_packets is not None and len(self.parsed) > self.max_packets:
            raise InputTooLarge(
                f"the text has more than {self.max_packets:,} packets (line {lineno}), the "
                "limit (TCPLADDER_MAX_PACKETS)",
                line=lineno,
            )
        self.last_target = q.packet
        self.last_was_quote = False

    def _quoted(self, q: _Parsed) -> _Parsed | None:
        """The earlier packet that line ``q`` repeats, if it is a quote: a line cut short,
        or one without a time stamp where the packets have them.  In a paste whose packets
        have no time stamps (tcpdump -t) an untimed line in a run of packet lines is a packet
        of its own: a duplicate ACK prints exactly as the ACK before it.  Only the last
        ``QUOTE_LOOKBACK`` packets with the same ends and flags are compared, so a long paste
        of such lines stays linear."""
        if not (q.partial or (not q.has_time and (self.timed or not self.in_run))):
            return None
        same = self.by_ends.get(_ends_key(q.packet), ())
        for k in range(len(same) - 1, max(len(same) - QUOTE_LOOKBACK, 0) - 1, -1):
            if _same_packet(q, same[k]):
                return same[k]
        return None

    def finish(self) -> Trace:
        parsed = self.parsed
        if not parsed:
            if self.others:
                return Trace(
                    kind="text",
                    table=from_packets("text", []),
                    warnings=self.warnings,
                    header=self.header,
                    preamble=self.preamble + self.pending,
                    other_packets=self.others,
                )
            if self.first_lookalike is not None:
                at, shown = self.first_lookalike
                raise NoPackets(
                    "no packet could be read; this line looks like one but is in no tcpdump "
                    f"format tcpladder knows: {shown[:200]!r}",
                    line=at,
                    hint=f"A packet line looks like: {PACKET_EXAMPLE} (or, before tcpdump "
                    f"4.0: {OLD_EXAMPLE})",
                )
            raise NoPackets(
                "no tcpdump packet line found in the text",
                hint=f"A packet line looks like: {PACKET_EXAMPLE}",
            )
        self.trailing.extend(self.pending)
        packets = [p.packet for p in parsed]
        for n, pkt in enumerate(packets, 1):
            pkt.n = n
        numbering = _resolve_numbering(parsed, self.cmd_flags, self.warnings)
        _apply_hex_dumps(parsed, self.warnings)
        if not _deltas_to_times(packets, self.cmd_flags):
            _check_time_order(packets, self.warnings)
        return Trace(
            kind="text",
            table=from_packets("text", packets),
            warnings=self.warnings,
            header=self.header,
            preamble=self.preamble,
            trailing=self.trailing,
            other_packets=self.others,
            options=self.cmd_flags,
            numbering=numbering,
            text_format=_format_of(parsed),
        )


def _format_of(parsed: list[_Parsed]) -> str:
    """Which tcpdump printed most of the packets: "Flags [...]" since 4.0 (print-tcp.c), the
    "IP" in front of the addresses since 3.8 (print-ip.c)."""
    old = sum(q.old for q in parsed)
    if old * 2 <= len(parsed):
        return N_("tcpdump 4.0 or later")
    no_ip = sum(q.old and q.no_ip for q in parsed)
    return N_("tcpdump 3.7 or earlier") if no_ip * 2 > old else N_("tcpdump 3.8-3.9")


def parse_text(
    text: str,
    *,
    max_packets: int | None = None,
    max_comment_lines: int | None = None,
    max_line_length: int | None = None,
) -> Trace:
    """Parse pasted tcpdump output into a Trace; raise NoPackets if nothing is a packet.

    With limits: more than ``max_packets`` packets is ``InputTooLarge`` as soon as the one
    too many is read; commentary past ``max_comment_lines`` lines is counted, not kept; a
    line longer than ``max_line_length`` is commentary, cut, and said so."""
    reader = _TextReader(max_packets, max_comment_lines, max_line_length)
    with paused_gc():
        lines, repairs = repair(text.splitlines())
        reader.warnings.extend(repairs)
        for lineno, raw in _join_continuations(lines):
            reader.feed(lineno, raw)
        return reader.finish()


_End = tuple[str, int | None]


def _ends(p: Packet) -> tuple[_End, _End]:
    """(source, destination) endpoints as (host, port): the keys of the numbering."""
    return (p.src_host, p.src_port), (p.dst_host, p.dst_port)


def _conv_key(p: Packet) -> tuple[_End, _End]:
    """The conversation: its two endpoints in a fixed order."""
    a, b = _ends(p)
    ka = (a[0], -1 if a[1] is None else a[1])
    kb = (b[0], -1 if b[1] is None else b[1])
    return (a, b) if ka <= kb else (b, a)


def _guess_relative(parsed: list[_Parsed]) -> bool | None:
    """Vote per conversation: after the packet that sets tcpdump's base, are numbers small?"""
    votes_rel = votes_abs = 0
    bases: dict[tuple[_End, _End], dict[_End, int]] = {}
    for q in parsed:
        p = q.packet
        if not p.flags & ACK or q.ack is None:
            continue
        key = _conv_key(p)
        src, dst = _ends(p)
        if key not in bases or p.flags & SYN:
            bases[key] = {dst: q.ack - 1}
            if q.seq_start is not None:
                bases[key][src] = q.seq_start
            continue
        for value, base in (
            (q.ack, bases[key].get(dst)),
            (q.seq_start, bases[key].get(src)),
        ):
            if value is None or base is None:
                continue
            # Absolute numbers stay a little ahead of the base; relative ones are small.
            # Only a value that fits one reading and not the other is a vote.
            fits_abs = (value - base) % SEQ_MOD < (1 << 24)
            fits_rel = value < (1 << 24) and value != base
            if fits_abs and not fits_rel:
                votes_abs += 1
            elif fits_rel and not fits_abs:
                votes_rel += 1
    if votes_rel == votes_abs == 0:
        return None
    return votes_rel > votes_abs


def _resolve_numbering(parsed: list[_Parsed], cmd_flags: list[str], warnings: list[Notice]) -> str:
    """Turn printed seq/ack into absolute numbers, undoing tcpdump's relative numbering.

    tcpdump (print-tcp.c) rewrites seq/ack only on segments with ACK set, relative to a
    per-conversation base taken from the first ACK-bearing segment it saw, or from any
    segment with SYN and ACK: base(sender) = seq, base(receiver) = ack - 1.  That segment
    itself is printed with absolute values.
    """
    if "S" in cmd_flags or "--absolute-tcp-sequence-numbers" in cmd_flags:
        relative = False
    elif any(f in cmd_flags for f in ("n", "i", "v", "r")) or cmd_flags:
        relative = True
    else:
        guess = _guess_relative(parsed)
        relative = bool(guess)
    bases: dict[tuple[_End, _End], dict[_End, int | None]] = {}
    for q in parsed:
        p = q.packet
        p.length = p.length if p.length is not None else _len_from_seq(q)
        if not relative or not p.flags & ACK:
            p.seq = q.seq_start
            p.ack = q.ack
            continue
        key = _conv_key(p)
        src, dst = _ends(p)
        if key not in bases or p.flags & SYN:
            seq_base = q.seq_start  # unknown when tcpdump did not print it (bare ACK)
            bases[key] = {src: seq_base, dst: (q.ack - 1) % SEQ_MOD if q.ack else None}
            p.seq = q.seq_start
            p.ack = q.ack
            p.rel_seq = 0 if q.seq_start is not None else None
            p.rel_ack = 1 if q.ack is not None else None
            continue
        b = bases[key]
        sb, ab = b.get(src), b.get(dst)
        if q.seq_start is not None:
            p.rel_seq = q.seq_start
            p.seq = (q.seq_start + sb) % SEQ_MOD if sb is not None else None
        if q.ack is not None:
            p.rel_ack = q.ack
            p.ack = (q.ack + ab) % SEQ_MOD if ab is not None else None
        if p.options.sack:
            # SACK blocks are printed relative to the same base as the ack (print-tcp.c).
            p.options.sack = (
                [((a + ab) % SEQ_MOD, (b_ + ab) % SEQ_MOD) for a, b_ in p.options.sack]
                if ab is not None
                else []
            )
    return "relative" if relative else "absolute"


_HEX_BYTES = re.compile(r"^\s*0x(?P<off>[0-9a-fA-F]{4}):\s+(?P<hex>(?:[0-9a-fA-F]{2,4} ?){1,8})")


def hex_dump_bytes(lines: list[str]) -> bytes:
    """The bytes of tcpdump's -x/-xx/-X/-XX dump lines (the -X ASCII column is ignored)."""
    out = bytearray()
    for text in lines:
        m = _HEX_BYTES.match(text)
        if m is None or int(m.group("off"), 16) != len(out):
            break
        digits = m.group("hex").replace(" ", "")
        if len(digits) % 2:
            break  # "450 0028": not tcpdump's groups of four digits
        out += bytes.fromhex(digits)
    return bytes(out)


def _apply_hex_dumps(parsed: list[_Parsed], warnings: list[Notice]) -> None:
    """Rebuild each hex-dumped packet's bytes and decode them with Scapy: the dump is the
    packet itself, so its absolute numbers, options and checksum replace what the line said."""
    from app.decode.readers.scapy_fallback import decode_hex

    for q in parsed:
        if not q.hex_lines:
            continue
        data = hex_dump_bytes(q.hex_lines)
        p = q.packet
        got = decode_hex(data) if data else None
        if got is None:
            warnings.append(
                Notice(
                    p.line,
                    f"hex dump of {len(data)} bytes under packet {p.n} has no TCP segment; ignored",
                )
            )
            continue
        if (got.src_port, got.dst_port) != (p.src_port, p.dst_port) and None not in (
            p.src_port,
            p.dst_port,
        ):
            warnings.append(
                Notice(
                    p.line,
                    f"hex dump under packet {p.n} is a different packet ({got.src} > {got.dst}); ignored",
                )
            )
            continue
        p.flags, p.seq, p.ack, p.win, p.urg = got.flags, got.seq, got.ack, got.win, got.urg
        p.options, p.cksum = got.options, got.cksum
        p.seq_inferred = False
        if p.length is None:
            p.length = got.length
        p.ip["hex_bytes"] = len(data)
        p.frame_bytes = data
        link = got.ip.get("link", 1)
        p.frame_link = link if isinstance(link, int) else 1


def _len_from_seq(q: _Parsed) -> int | None:
    if q.seq_start is not None and q.seq_end is not None:
        return (q.seq_end - q.seq_start) % SEQ_MOD
    return None


def _deltas_to_times(packets: list[Packet], cmd_flags: list[str]) -> bool:
    """tcpdump -ttt prints the time since the previous packet; make it a running clock.

    Recognised from the command's ``-ttt`` or, without one, from stamps that start at
    00:00:00.000000 and go backwards (a delta smaller than the one before)."""
    timed = [p for p in packets if p.time is not None]
    if len(timed) < 2:
        return False
    if "".join(f for f in cmd_flags if f == "t") != "ttt":
        if not (timed[0].time_text or "").startswith(("00:00:00.0000000", "00:00:00.000000")):
            return False
        stamps = [p.time or 0.0 for p in timed]
        if all(a <= b for a, b in itertools.pairwise(stamps)):
            return False  # -ttttt: time since the first packet, already a clock
    clock = 0.0
    for p in timed:
        clock += p.time or 0.0
        p.time = clock
    return True


def _check_time_order(packets: list[Packet], warnings: list[Notice]) -> None:
    last: Packet | None = None
    day = 0.0
    for p in packets:
        if p.time is None:
            continue
        p.time += day
        if last is not None and last.time is not None and p.time < last.time:
            back = last.time - p.time
            if back > 12 * 3600:
                # Past midnight: times of day wrapped.
                day += 86400
                p.time += 86400
                last = p
                continue
            warnings.append(
                Notice(
                    p.line,
                    f"time goes backwards by {back * 1e6:.0f} µs after packet {last.n} "
                    f"(line {last.line}); kept in the order printed",
                )
            )
        last = p
