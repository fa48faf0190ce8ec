"""tcpdump's TCP line before 4.0 (3.x), still all over the web.

From print-tcp.c of those versions (tcpdump-3.9.8, for instance; 4.0.0 introduced
"Flags [...]")::

    src.port > dst.port: FLAGS[, cksum 0x1c46 (correct),] [seq:end(len)] [ack N] win N
        [urg N] [<options>] [IP trailer]

- FLAGS are the letters S F R P W E in that order, or ``.`` when none of them is set; ACK
  has no letter: it is set when ``ack N`` is printed, URG when ``urg N`` is;
- ``seq:end(len)`` is printed for data, SYN, FIN or RST (or with ``-vv``); relative after
  the first ACK-bearing segment, as in later versions;
- options in angle brackets, comma-separated: ``mss 1460``, ``nop``, ``eol``, ``wscale 2``,
  ``sackOK``, ``sack 1 {a:b}``, ``timestamp VAL ECR``, ``echo``/``echoreply``/``cc``/
  ``ccnew``/``ccecho N``, ``md5:…``, ``opt-N:hex``, a ``[len N]`` complaint;
- the IP printer adds ``(DF)``, ``[tos 0x10]`` and, with ``-v``, ``(ttl 64, id 1, len 60)``
  after the TCP part.

tcpdump 3.7 and earlier print no ``IP`` in front of the addresses; 3.8 and 3.9 do
(print-ip.c), but not with ``-e``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.decode.model.options import Kind, Options
from app.decode.model.packet import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG

_TIME = (
    r"(?:(?:(?P<date>\d{4}-\d{2}-\d{2}) )?(?P<time>\d{1,3}:\d{2}:\d{2}(?:\.\d{1,9})?)"
    r"|(?P<epoch>\d{9,11}\.\d{3,9}))"
)
_OLD_FLAGS = r"(?:[SFRPWEU]+|\.)"
# A line in the old format without "IP": [number] [time] [-e link header] src > dst: FLAGS
# (-e printed "8:0:20:1:2:3 0:0:c:4:5:6 ip 74: " or "… 0800 74: " before the addresses).
_OLD_LINK = r"(?:[0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2}){5} ){2}(?:ip|[0-9a-fA-F]{4}) \d+: "
OLD_START = re.compile(
    r"[ \t]*(?:(?P<num>\d{1,9}) +)?(?:" + _TIME + r" +)?(?P<link>" + _OLD_LINK + r")?"
    r"(?=[^\s>]+ > [^\s>]+: " + _OLD_FLAGS + r"(?:[ ,]|$))"
)
OLD_TCP = re.compile(
    r" ?(?P<flags>" + _OLD_FLAGS + r")(?=[ ,]|$)"
    r"(?:, cksum 0x(?P<ck>[0-9a-fA-F]+) \((?:correct|incorrect \(-> 0x(?P<exp>[0-9a-fA-F]+)\))\),?)?"
    r"(?: (?P<s>\d+):(?P<e>\d+)\((?P<len>\d+)\))?"
    r"(?: ack (?P<ack>\d+))?"
    r"(?: win (?P<win>\d+))?"
    r"(?: urg (?P<urg>\d+))?"
    r"(?: <(?P<opts>[^>]*)>?)?"
)
_LETTERS = {"S": SYN, "F": FIN, "R": RST, "P": PSH, "W": CWR, "E": ECE, "U": URG}
_TRAILERS = (
    (re.compile(r"^\s*\(DF\)"), "df"),
    (re.compile(r"^\s*\[tos (?P<v>0x[0-9a-fA-F]+)\]"), "tos"),
    (re.compile(r"^\s*\((?P<v>ttl \d+[^)]*)\)"), "v"),
)
_SACK_BLOCK = re.compile(r"\{(\d+):(\d+)\}")


@dataclass(slots=True)
class OldFields:
    flags: int
    seq_start: int | None = None
    seq_end: int | None = None
    length: int = 0
    ack: int | None = None
    win: int | None = None
    urg: int | None = None
    cksum: int | None = None
    cksum_expected: int | None = None
    options: Options = field(default_factory=Options)
    options_cut: bool = False  # "<mss 1460,sack" with no closing bracket: cut short
    ip: dict[str, object] = field(default_factory=dict)
    tail: str = ""


def parse_old(rest: str) -> OldFields | None:
    """The TCP part after ``src > dst:`` in the old format, or None when it is not one."""
    m = OLD_TCP.match(rest)
    if m is None:
        return None
    g = m.groupdict()
    flags = 0
    for letter in g["flags"].strip("."):
        flags |= _LETTERS[letter]
    if g["ack"] is not None:
        flags |= ACK
    if g["urg"] is not None:
        flags |= URG
    out = OldFields(flags=flags)
    if g["s"] is not None:
        out.seq_start, out.seq_end, out.length = int(g["s"]), int(g["e"]), int(g["len"])
    out.ack = None if g["ack"] is None else int(g["ack"])
    out.win = None if g["win"] is None else int(g["win"])
    out.urg = None if g["urg"] is None else int(g["urg"])
    if g["ck"] is not None:
        out.cksum = int(g["ck"], 16)
        out.cksum_expected = None if g["exp"] is None else int(g["exp"], 16)
    if g["opts"] is not None:
        out.options = old_options(g["opts"])
        out.options_cut = not m.group(0).endswith(">")
    out.tail = _trailers(rest[m.end() :], out.ip)
    return out


def old_options(text: str) -> Options:
    """The inside of ``<...>``, the old labels read into the same fields as today's."""
    o = Options()
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        words = item.split()
        head = words[0]
        try:
            if head in ("mss", "wscale") and len(words) >= 2:
                o.add(Kind.MSS if head == "mss" else Kind.WSCALE, (int(words[1]),), item)
            elif head in ("nop", "eol", "sackOK") and len(words) == 1:
                kind = {"nop": Kind.NOP, "eol": Kind.EOL, "sackOK": Kind.SACK_PERM}[head]
                o.add(kind, (), item)
            elif head == "timestamp" and len(words) >= 3:
                o.add(Kind.TIMESTAMP, (int(words[1]), int(words[2])), item)
            elif head == "sack" and _SACK_BLOCK.search(item):
                edges = [int(v) for pair in _SACK_BLOCK.findall(item) for v in pair]
                o.add(Kind.SACK, tuple(edges), item)
            else:
                o.add_other(item)
        except ValueError:
            o.add_other(item)
    return o


def _trailers(tail: str, ip: dict[str, object]) -> str:
    """What the IP printer added after the TCP part, into ``ip``; the rest is returned."""
    progress = True
    while progress:
        progress = False
        for rx, key in _TRAILERS:
            m = rx.match(tail)
            if m is None:
                continue
            if key == "df":
                ip["df"] = True
            elif key == "tos":
                ip["tos"] = m.group("v")
            else:
                for part in m.group("v").split(","):
                    name, _, value = part.strip().partition(" ")
                    if name and value.isdigit():
                        ip[name] = int(value)
            tail = tail[m.end() :]
            progress = True
    return tail
