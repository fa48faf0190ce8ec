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

import re

from app.decode.model.errors import InputTooLarge, NoPackets
from app.decode.model.i18n import N_
from app.decode.model.memory import paused_gc
from app.decode.model.packet import (
    Comment,
    Notice,
)
from app.decode.model.table import from_packets
from app.decode.model.trace import Trace
from app.decode.text import rows as columns
from app.decode.text.line import (
    RECORD_HEAD,
    RECORD_PREFIX,
    START,
    START_AT_LINE,
    LineParser,
    Parsed,
    inherit,
)
from app.decode.text.oldformat import OLD_START
from app.decode.text.repair import repair
from app.decode.text.rows import Rows

PACKET_EXAMPLE = (
    "12:00:00.000001 IP 127.0.0.1.51596 > 127.0.0.1.8000: Flags [S], seq 469714520, "
    "win 65535, options [mss 16324,nop,wscale 6], length 0"
)

# Lines that continue a packet printed over several lines (-v, encapsulations):
#   "    10.0.0.1.80 > 10.0.0.2.1234: Flags [S], ..."  (after an IP header in parentheses)
#   "\tIP (tos 0x0, ...)" / "\twccp ...: IP (tos 0x0, ...)"  (inner packet of a tunnel)
_CONT_ADDR = re.compile(r"^(?: {4}|\t)\s*[^\s>]+ > [^\s]+: ")
_CONT_INNER = re.compile(
    r"^(?:\t| {4})\s*(?:IP6? \(|\((?:tos|hlim|flowlabel) |[^\n]*\sIP6? \(.*\)\s*$)"
)
# VXLAN and Geneve at -v print the inner "IP (...)" at the start of a line.
_INNER_AT_COLUMN_0 = re.compile(r"^IP6? \(")
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


# A record (time stamp) followed by a protocol name tcpdump prints for non-IP packets.
_OTHER_PROTOCOL = re.compile(
    RECORD_HEAD + r" +(?:[\w.@-]+ +(?:In|Out|P|B|M) +)?"
    # -e: "00:11:22:33:44:55 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), ..."
    r"(?:(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2} > \S+ (?=ethertype (?!IPv[46] )))?"
    r"(?:ARP|RARP|STP|LLDP|CDP|LLC|IPX|AARP|EAPOL|PPPoE|VRRP|ethertype|802\.1|[A-Z][A-Z0-9]{2,}v?\d?,)"
)
_BARE_START = re.compile(r"(?:(?<=: )|(?<=\) ))(?=[^\s>()]+ > \S+: Flags \[)")


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


def _same_packet(q: Parsed, rows: Rows, row: int) -> bool:
    """Whether line ``q`` repeats packet ``row``, which has its ends and flags
    (``Rows.key``): every field ``q`` printed is the row's."""
    a = q.packet
    for mine, theirs in zip(
        (q.seq_start, q.seq_end, q.ack, a.win, a.length), rows.printed(row), strict=True
    ):
        if mine is not None and mine != theirs:
            return False
    mine_opts = a.options.items
    if not (q.has_time or mine_opts):
        return True
    p = rows.peek(row)
    if q.has_time and a.time_text != p.packet.time_text:
        return False
    return not mine_opts or mine_opts == p.packet.options.items[: len(mine_opts)]


_ASCII_DUMP = re.compile(r"^(?:E.|`.)[^ ]*\.\.")


def _join_continuations(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join the lines of one packet that tcpdump printed over several lines.

    With -v, IPv4 prints "IP (tos ..., length 60)" and then the TCP part on the next line,
    indented by four spaces; tunnels print the inner packet's header on a tab-indented line.
    Returns (first line number, joined text) pairs.
    """
    if not any(cur[:1] in (" ", "\t") or cur[:2] == "IP" for _, cur in lines):
        return lines  # no line continues another
    out: list[tuple[int, str]] = []
    for number, cur in lines:
        if out and cur[:1] in (" ", "\t") and not RECORD_PREFIX.match(cur):
            prev = out[-1][1].rstrip()
            if (
                (prev.endswith(")") and _CONT_ADDR.match(cur))
                or (_CONT_INNER.match(cur) and (START.search(prev) or RECORD_PREFIX.match(prev)))
                # "src > dst: " with nothing after it: a shim header follows (BCM-LI).
                or (prev.endswith(":") and START.search(prev) and not _HEX_LINE.match(cur))
            ):
                out[-1] = (out[-1][0], prev + " " + cur.strip())
                continue
        elif (
            out
            and _INNER_AT_COLUMN_0.match(cur)
            and RECORD_PREFIX.match(out[-1][1])
            and "Flags [" not in out[-1][1].partition(" > ")[2].partition(": ")[2][:8]
            and not out[-1][1].rstrip().endswith(")")
        ):
            out[-1] = (out[-1][0], out[-1][1].rstrip() + " " + cur.strip())
            continue
        out.append((number, cur))
    return out


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
        self.lp = LineParser()
        self.warnings = self.lp.warnings
        self.header: list[Comment] = []
        self.preamble: list[Comment] = []
        self.trailing: list[Comment] = []
        self.rows = Rows()
        self.others: list[dict[str, object]] = []
        self.cmd_flags: list[str] = []
        self.pending: list[Comment] = []  # commentary waiting for the next packet
        self.last_target: int | None = None  # the row commentary after a quote is for
        self.last_was_quote = False
        self.last_was_packet_line = False
        self.blank_since_pending = False
        self.in_dump = False  # inside -A / -X payload text that follows a packet
        self.first_lookalike: tuple[int, str] | None = None  # kept as prose, looks like a packet
        # Rows by (source, destination, flags), for finding the one a quote repeats: made
        # when the first line that may be a quote comes.
        self.by_ends: dict[tuple[int, int, int, int, int], list[int]] | None = None
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
            self.rows.parsed(self.last_target).packet.comments.append(
                Comment(lineno, body, "after")
            )
            return
        if not self.rows.count and self.pending and self.blank_since_pending:
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
        at_line = START_AT_LINE.match(line)
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
                if not any(isinstance(r, Parsed) for _, _, r in items):
                    self.others.append({"line": lineno, "text": line[start:end].strip()})
                continue
            self._place(lineno, body, result)

    def _not_a_packet_line(self, lineno: int, line: str, body: str) -> bool:
        """Fences, decode and dump lines under the last packet, tcpdump's own status lines
        and the command: True when the line was taken as one of them."""
        if _FENCE.match(line):
            return True
        rows = self.rows
        if rows.count and not self.pending and self.last_target == rows.count - 1:
            if _HEX_LINE.match(line):
                last = rows.parsed(rows.count - 1)
                last.hex_lines.append(body)
                last.packet.details.append(body)
                return True
            if line.startswith("\t") and not START.search(line):
                # Protocol decode tcpdump prints under the packet (BGP, DNS, ...).
                rows.parsed(rows.count - 1).packet.details.append(body)
                return True
            ascii_dump = "A" in self.cmd_flags or _ASCII_DUMP.match(line)
            if (self.in_dump or (self.last_was_packet_line and ascii_dump)) and not START.search(
                line
            ):
                # -A prints the packet as ASCII on the lines after it.
                self.in_dump = True
                rows.parsed(rows.count - 1).packet.details.append(body)
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
    ) -> list[tuple[int, int, Parsed | str]]:
        """Every packet start on the line, parsed (a string for a non-TCP packet)."""
        lp = self.lp
        starts = lp.find_starts(line, at_line)
        items: list[tuple[int, int, Parsed | str]] = []
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
                if isinstance(result, Parsed):
                    if om.group("link"):
                        result.packet.ip["link"] = om.group("link").rstrip(": ")
                    return [(om.start(), len(line), result)]
        if RECORD_PREFIX.match(line) and not any(isinstance(r, Parsed) for _, _, r in items):
            # TCP printed without "IP" in front: after a -e link header tcpdump omits it
            # ("be 50 c3 65: 10.0.0.1.80 > ..."), and so it does for a tunnel's inner packet
            # ("1.1.1.1 > 2.2.2.2: (tos ...) 10.0.0.1.80 > ...: Flags").
            for bare in list(_BARE_START.finditer(line))[:1]:
                result = lp.parse_at(line, bare, len(line), lineno)
                if isinstance(result, Parsed):
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
        elif _OTHER_PROTOCOL.match(line) or (RECORD_PREFIX.match(line) and _ARROW.search(line)):
            # "12:00:00.000003 ARP, Request who-has ...", "… 10.0.0.1.53 > 10.0.0.2.99: 1234+
            # A? …": a packet, just not TCP.
            self.others.append({"line": lineno, "text": body})
            self.last_target = None
            return
        elif lineno in self.lp.rejected:
            pass  # warned about already: a number out of range
        elif RECORD_PREFIX.match(line) and _LOOKALIKE.search(line):
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
        self, lineno: int, line: str, items: list[tuple[int, int, Parsed | str]]
    ) -> None:
        """The -# number and time stamp printed once, at the start of the record, belong to
        every packet on it: the -e link header's packet and a tunnel's inner packet."""
        lead = line[: items[0][0]]
        record = RECORD_PREFIX.match(line)
        if record is None:
            if lead.strip():
                self.add_comment(lineno, lead.strip())
            return
        link = lead[record.end() - 1 :].strip()
        for _start, _end, result in items:
            if isinstance(result, Parsed):
                inherit(result, record, lineno, self.warnings)
                if link and "link" not in result.packet.ip:
                    result.packet.ip["link"] = link.rstrip(", ")

    def _place(self, lineno: int, body: str, q: Parsed) -> None:
        """A parsed packet: a quote of an earlier one (kept as its commentary) or new."""
        target = self._quoted(q)
        if target is not None:
            tp = self.rows.parsed(target).packet
            for c in self.pending:
                tp.comments.append(Comment(c.line, c.text, "after"))
            self.pending.clear()
            tp.comments.append(Comment(lineno, q.packet.raw or body, "after"))
            self.last_target = target
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
        if not self.rows.count and len(self.pending) > _FIRST_LABEL_LINES:
            self.preamble.extend(self.pending[:-_FIRST_LABEL_LINES])
            del self.pending[:-_FIRST_LABEL_LINES]
        q.packet.comments.extend(self.pending)
        self.pending.clear()
        self.rows.add(q)
        self._placed(lineno, q.has_time)

    def _placed(self, lineno: int, has_time: bool) -> None:
        """The books kept on the packet just added, the last row."""
        row = self.rows.count - 1
        if self.by_ends is not None:
            self.by_ends.setdefault(self.rows.key(row), []).append(row)
        self.timed = self.timed or has_time
        if self.max_packets is not None and self.rows.count > self.max_packets:
            raise InputTooLarge(
                f"the text has more than {self.max_packets:,} packets (line {lineno}), the "
                "limit (TCPLADDER_MAX_PACKETS)",
                line=lineno,
            )
        self.last_target = row
        self.last_was_quote = False

    def plain(self, lineno: int, line: str) -> bool:
        """A plain packet line (``line.PLAIN``) with no commentary waiting for it: a row of
        numbers and nothing else, as ``feed`` would have read it."""
        if (
            self.pending
            or (self.max_line is not None and len(line) > self.max_line)
            or not self.rows.plain(line, lineno)
        ):
            return False
        self.in_run = self.last_was_packet_line
        self.in_dump = False
        self.last_was_packet_line = True
        self._placed(lineno, True)
        return True

    def _quoted(self, q: Parsed) -> int | None:
        """The earlier packet that line ``q`` repeats, if it is a quote: a line cut short,
        or one without a time stamp where the packets have them.  In a paste whose packets
        have no time stamps (tcpdump -t) an untimed line in a run of packet lines is a packet
        of its own: a duplicate ACK prints exactly as the ACK before it.  Only the last
        ``QUOTE_LOOKBACK`` packets with the same ends and flags are compared, so a long paste
        of such lines stays linear."""
        if not (q.partial or (not q.has_time and (self.timed or not self.in_run))):
            return None
        rows = self.rows
        if self.by_ends is None:
            self.by_ends = {}
            for row, key in enumerate(rows.keys()):
                self.by_ends.setdefault(key, []).append(row)
        p = q.packet
        ends = (
            rows.host_ids.get(p.src_host, -1),
            -1 if p.src_port is None else p.src_port,
            rows.host_ids.get(p.dst_host, -1),
            -1 if p.dst_port is None else p.dst_port,
            p.flags,
        )
        same = self.by_ends.get(ends, ())
        for k in range(len(same) - 1, max(len(same) - QUOTE_LOOKBACK, 0) - 1, -1):
            if _same_packet(q, rows, same[k]):
                return same[k]
        return None

    def finish(self) -> Trace:
        rows = self.rows
        if not rows.count:
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
        kept = [q for _, q in rows.in_order()]
        for row, q in rows.kept.items():
            q.packet.n = row + 1
        numbers = columns.number(rows, self.cmd_flags)
        _apply_hex_dumps(kept, self.warnings)
        t = columns.times(rows, self.cmd_flags, self.warnings)
        return Trace(
            kind="text",
            table=columns.table(rows, numbers, t),
            warnings=self.warnings,
            header=self.header,
            preamble=self.preamble,
            trailing=self.trailing,
            other_packets=self.others,
            options=self.cmd_flags,
            numbering="relative" if numbers.relative else "absolute",
            text_format=_format_of(kept, rows.count),
        )


def _format_of(kept: list[Parsed], count: int) -> str:
    """Which tcpdump printed most of the packets: "Flags [...]" since 4.0 (print-tcp.c), the
    "IP" in front of the addresses since 3.8 (print-ip.c)."""
    old = sum(q.old for q in kept)  # plain lines are in today's format
    if old * 2 <= count:
        return N_("tcpdump 4.0 or later")
    no_ip = sum(q.old and q.no_ip for q in kept)
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
        plain = reader.plain
        for lineno, raw in _join_continuations(lines):
            if not plain(lineno, raw):
                reader.feed(lineno, raw)
        return reader.finish()


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


def _apply_hex_dumps(parsed: list[Parsed], warnings: list[Notice]) -> None:
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
