"""One line of tcpdump output read into a packet: the fields tcpdump's print-tcp.c prints.

The format is tcpdump(1)'s "TCP Packets" section and print-tcp.c: ::

    [time] IP[6] [(ip header)] src > dst: Flags [..], [cksum ..,] [seq a[:b],] [ack n,]
        win w, [urg u,] [options [..],] length l[: app summary]

``LineParser.parse_at`` reads one packet; ``parser`` decides which lines are packets and
what the rest of the text is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
    SYN,
    URG,
    Notice,
    Packet,
)
from app.decode.model.services import SERVICES
from app.decode.text.oldformat import OldFields, parse_old

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
START = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[`>]))" + _START_BODY)
# Fast path: the packet begins the line (after tcpdump's -# number).
START_AT_LINE = re.compile(r"[ \t]*(?:\d{1,9} +)?" + _START_BODY)
# A tcpdump record starts with -# packet number and/or a time stamp.
RECORD_HEAD = r"^\s*(?:(?P<num>\d{1,9}) +)?" + _TIME
RECORD_PREFIX = re.compile(RECORD_HEAD + r"\s")

_FLAGS = re.compile(r"Flags \[(?P<flags>[^\]]*)\]")
_EXT_PORTS = re.compile(r"^ (?:[^>]*?) (?P<sp>\d{1,5}) > (?P<dp>\d{1,5}): (?=Flags \[)")

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
class Parsed:
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


class LineParser:
    def __init__(self) -> None:
        self.warnings: list[Notice] = []
        # unknown service names: each its own port from NAMED_PORTS up, warned about once
        self.named_ports: dict[str, int] = {}
        self.rejected: set[int] = set()  # lines whose numbers are out of range (warned)

    def find_starts(self, text: str, m: re.Match[str] | None) -> list[re.Match[str]]:
        """Packet starts in ``text``; ``m`` is START_AT_LINE's match on it, if any."""
        # Fast path: one packet at the start of the line, as tcpdump prints it.
        if m is not None and "IP" not in text[m.end() :] and "ethertype" not in text:
            return [m]
        return list(START.finditer(text))

    def parse_at(self, text: str, m: re.Match[str], end: int, line: int) -> Parsed | str | None:
        """Parse the packet starting at match ``m`` and ending before ``end``.

        Returns a ``Parsed`` for TCP, the string ``"other"`` for a recognised non-TCP packet,
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
            raw=whole,
        )
        parsed = Parsed(packet=pkt)
        g = m.groupdict()
        parsed.no_ip = not (g.get("proto") or g.get("etype"))
        if g.get("time") or g.get("epoch"):
            parsed.has_time = True
            pkt.time_text, pkt.time = stamp(g, line, self.warnings)
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

    def _parse_fields(self, rest: str, parsed: Parsed, line: int) -> None:
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


def _fast_fields(fast: re.Match[str], parsed: Parsed) -> None:
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


def _out_of_range(q: Parsed) -> str | None:
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


def _old_fields(old: OldFields, parsed: Parsed) -> None:
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


def _one_field(name: str, fm: re.Match[str], rest: str, parsed: Parsed) -> int:
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


def _options_field(fm: re.Match[str], rest: str, parsed: Parsed) -> int:
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


def _tail(tail: str, parsed: Parsed) -> None:
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


def inherit(q: Parsed, record: re.Match[str], line: int, warnings: list[Notice]) -> None:
    pkt = q.packet
    if pkt.frame is None and record.group("num"):
        pkt.frame = int(record.group("num"))
    if not q.has_time:
        q.has_time = True
        pkt.time_text, pkt.time = stamp(record.groupdict(), line, warnings)


def stamp(g: dict[str, str | None], line: int, warnings: list[Notice]) -> tuple[str, float | None]:
    """(as printed, seconds) from the time groups of _TIME."""
    epoch = g.get("epoch")
    if epoch:
        return epoch, float(epoch)
    date, clock = g.get("date"), g.get("time") or ""
    return (date + " " if date else "") + clock, _parse_clock(date, clock, line, warnings)


# The line nearly every packet of a paste is: a default (-t none) or -tt time stamp, "IP" or
# "IP6", numeric ports, print-tcp.c's fields without a checksum, and at most an application
# summary after the length.  Such a line is read by one match (``plain_parsed``, and
# ``rows.Rows.plain`` straight into columns); LineParser reads it to the same packet, which
# the tests hold every plain line of the corpus to.
PLAIN = re.compile(
    r"(?:(\d{1,2}):(\d\d):(\d\d)\.(\d{6}|\d{9})|(\d{9,11}\.\d{3,9})) (IP6?) "
    r"(\S+)\.(\d{1,5}) > (\S+)\.(\d{1,5}): Flags \[([^\]]*)\]"
    r"(?:, seq (\d+)(?::(\d+))?)?(?:, ack (\d+))?, win (\d+)(?:, urg (\d+))?"
    r"(?:, options \[(nop,nop,TS val (\d+) ecr (\d+)|[^\[\]]*)\])?, length (\d+)(?=:|\Z)"
)
U16, U32 = _U16, _U32


def plain_match(line: str) -> re.Match[str] | None:
    """PLAIN's match on a line LineParser reads as one packet the same way: no second "IP"
    after the first (find_starts would look for more packets on the line), every number
    within its field, a time of day that is one."""
    m = PLAIN.match(line)
    if m is None or line.find("IP", m.end(6)) >= 0 or "ethertype" in line:
        return None
    return m


def plain_parsed(line: str, lineno: int) -> Parsed | None:
    """A plain line (``plain_match``) as LineParser reads it; None for any other line."""
    m = plain_match(line)
    if m is None:
        return None
    hh, mm, ss, frac, epoch, ip, sh, sp, dh, dp, fl, s, e, a, w, u, o, _tv, _te, ln = m.groups()
    sport, dport = int(sp), int(dp)
    try:
        flags = parse_flags(fl)
    except FlagError:
        return None
    if sport > 0xFFFF or dport > 0xFFFF:
        return None
    pkt = Packet(
        n=0,
        src_host=sh,
        src_port=sport,
        dst_host=dh,
        dst_port=dport,
        flags=flags,
        ip_version=6 if ip == "IP6" else 4,
        line=lineno,
        raw=line.strip(),
    )
    q = Parsed(packet=pkt, has_time=True)
    if epoch:
        pkt.time_text, pkt.time = epoch, float(epoch)
    else:
        h, mi, sec = int(hh), int(mm), int(ss)
        if h > 23 or mi > 59 or sec > 60:
            return None
        pkt.time_text = line[: m.end(4)]
        pkt.time = h * 3600 + mi * 60 + sec + (int(frac) / 10 ** len(frac))
    if s is not None:
        q.seq_start = int(s)
        q.seq_end = None if e is None else int(e)
    q.ack = None if a is None else int(a)
    pkt.win = int(w)
    pkt.urg = None if u is None else int(u)
    if o is not None:
        pkt.options = parse_options(o)
    pkt.length = int(ln)
    if _out_of_range(q) is not None:
        return None
    _tail(line[m.end() :], q)
    return q
