"""Undo what copying a capture out of a mail, a forum or a web page does to tcpdump's lines.

Each kind of repair is counted and reported as one warning ("removed mail quoting on 14
lines"); none is silent.  Repairs that change characters are made only on lines that read
as packets once repaired, so the user's own prose is kept as written.  Line numbers stay
those of the paste: a wrapped packet joined to its first line keeps that line's number.

- mail quoting: ``> `` (and ``> > ``, ``>>``) in front of the lines;
- line numbers and prompts in front of a packet: ``12: ``, ``[3] ``, ``$ ``;
- HTML leftovers: ``&lt;``, ``&gt;``, ``&amp;``, ``&#62;``…, and ``<;`` (an entity half
  converted);
- non-breaking and other typographic spaces, typographic quotes;
- a ``>`` between the addresses lost to markup;
- hard-wrapped packets: a packet line cut before its end and continued on the next line.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from app.decode.model.packet import Notice

_TIME = r"(?:\d{4}-\d{2}-\d{2} )?\d{1,3}:\d{2}:\d{2}(?:\.\d{1,9})?|\d{9,11}\.\d{3,9}"
_ADDR = r"[\w:.%-]*[\w]\.[\w-]+"  # host.port or host.service
# A line that reads as a tcpdump TCP packet (any dialect): "a.1 > b.2: " and then either
# today's "Flags [" or the old flag letters.
_PACKETISH = re.compile(
    r"(?:^|\s)" + _ADDR + r" > " + _ADDR + r": (?:Flags \[|[SFRPWEU]+[ ,]|\. |\[\|tcp\])"
)
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_NUMBERED = re.compile(
    r"^\s*(?:\d{1,6}[:.)]|\[\d{1,6}\]|[$#%]) +(?=(?:\d{1,9} +)?(?:" + _TIME + r") )"
)
_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,6}|#\d{2,4}|#x[0-9a-fA-F]{2,4});|<;|>;")
_TYPOGRAPHIC = str.maketrans(
    {
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2032": "'",
    }
)
# Whole-text scans look for a line start as "\n" (plus the text's first line): a pattern
# that starts with a literal is searched for that character first, where "(?m)^" is tried
# at every position (0.1 s over 200,000 lines, each).
_QUOTED_LINE = re.compile(r"[ \t]*>")
_QUOTED_AFTER_NEWLINE = re.compile(r"\n[ \t]*>")
_NUMBERED_AFTER_NEWLINE = re.compile("\n" + _NUMBERED.pattern.removeprefix("^"))
_AMP_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,6}|#\d{2,4}|#x[0-9a-fA-F]{2,4});")
_TYPOGRAPHIC_CHARS = "\u00a0\u2002\u2003\u2007\u2009\u202f\u2018\u2019\u201c\u201d\u2032"
_LOST_ARROW = re.compile(
    r"(?P<head>(?:^|\s)(?:IP6? )?)(?P<src>" + _ADDR + r")[ \t]+(?P<dst>" + _ADDR + r"): "
)
# TCP flags after a colon, as on a packet line (a line with them and no " > " may have lost
# its arrow)
_FLAGS_ANYWHERE = re.compile(r": (?:Flags \[|[SFRPWEU]+ \d|\. ack )")
# What a packet line can be cut before: the start of a field or option.
_CONTINUES = re.compile(
    r"^\s*(?:length|win|ack|seq|options|cksum|urg|\[|<|nop|mss|wscale|sackOK|sack|TS|val|"
    r"ecr|timestamp|eol|\(DF\)|\d|,|>)"
)
_STARTS_RECORD = re.compile(r"\s*(?:\d{1,9} +)?(?:" + _TIME + r") ")
# A line that may continue the one before it (``_unwrap``), anywhere in the text.
_MAYBE_CONTINUED = re.compile(
    r"\n(?!" + _STARTS_RECORD.pattern + ")" + _CONTINUES.pattern.removeprefix("^")
)
_ENDS_NEW = re.compile(r"length \d+(?:[:\s].*)?$|\[\|tcp\]\s*$")
_MESSAGES = {
    "quote": "removed mail quoting ('> ') on {n} lines",
    "number": "removed line numbers or prompts in front of {n} packet lines",
    "entity": "decoded HTML leftovers (&lt; &gt; &amp; …) on {n} lines",
    "typographic": "replaced non-breaking spaces or typographic quotes on {n} lines",
    "arrow": "restored the '>' between the addresses on {n} lines",
    "wrap": "joined {n} wrapped lines to the packet line they continue",
}


def packetish(line: str) -> bool:
    return _PACKETISH.search(line) is not None


def _anywhere(text: str, first: re.Pattern[str], after_newline: re.Pattern[str]) -> bool:
    """Whether a line of ``text`` starts with ``first``'s match."""
    return first.match(text) is not None or after_newline.search(text) is not None


def repair(lines: list[str]) -> tuple[list[tuple[int, str]], list[Notice]]:
    """(line number, repaired text) for every line but those joined to an earlier one,
    and one warning per kind of repair made."""
    done: Counter[str] = Counter()
    text = "\n".join(lines)
    # Each kind of damage is looked for in the whole text first (one pass in C): a clean
    # paste, the usual case, costs a few scans and no work a line.
    quoted = _anywhere(text, _QUOTED_LINE, _QUOTED_AFTER_NEWLINE) and any(
        _QUOTE.match(ln) and packetish(_QUOTE.sub("", ln)) for ln in lines
    )
    characters = (
        ("&" in text and _AMP_ENTITY.search(text) is not None)
        or "<;" in text
        or ">;" in text
        or any(ch in text for ch in _TYPOGRAPHIC_CHARS)
        or _anywhere(text, _NUMBERED, _NUMBERED_AFTER_NEWLINE)
        or any(" > " not in ln and _FLAGS_ANYWHERE.search(ln) for ln in lines)
    )
    fixed: list[tuple[int, str]] = []
    if characters or quoted:
        for number, line in enumerate(lines, 1):
            if quoted and _QUOTE.match(line):
                line = _QUOTE.sub("", line)
                done["quote"] += 1
            fixed.append((number, _line(line, done)))
    else:
        fixed = list(enumerate(lines, 1))
    if not (characters or quoted) and _MAYBE_CONTINUED.search(text) is None:
        return fixed, []  # no line can continue the one before it
    out = _unwrap(fixed, done)
    notes = [Notice(None, _MESSAGES[k].format(n=n)) for k, n in done.items() if n]
    return out, notes


def _line(line: str, done: Counter[str]) -> str:
    """One line's repairs, kept only where the result reads as a packet line."""
    candidate, kinds = line, []
    if _ENTITY.search(candidate):
        candidate = html.unescape(candidate.replace("<;", "<").replace(">;", ">"))
        kinds.append("entity")
    typographic = candidate.translate(_TYPOGRAPHIC)
    if typographic != candidate:
        candidate = typographic
        kinds.append("typographic")
    numbered = _NUMBERED.sub("", candidate, count=1)
    if numbered != candidate and packetish(numbered):
        candidate = numbered
        kinds.append("number")
    if not packetish(candidate):
        arrowed = _LOST_ARROW.sub(r"\g<head>\g<src> > \g<dst>: ", candidate, count=1)
        if arrowed != candidate and packetish(arrowed):
            candidate = arrowed
            kinds.append("arrow")
    if not kinds or not packetish(candidate):
        return line
    for k in kinds:
        done[k] += 1
    return candidate


def _unfinished(line: str) -> bool:
    """A packet line cut before its end: today's format ends with ``length N`` (or a
    truncation mark); the old one with its options closed, or no options at all."""
    if not packetish(line):
        return False
    body = line.rstrip()
    if "Flags [" in body:
        return _ENDS_NEW.search(body) is None
    if "[|tcp]" in body:
        return False
    # the old format always prints the window; options close with ">"
    return " win " not in body or body.endswith(",") or body.count("<") > body.count(">") - 1


def _unwrap(lines: list[tuple[int, str]], done: Counter[str]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for number, line in lines:
        if (
            out
            and _CONTINUES.match(line)
            and not _STARTS_RECORD.match(line)
            and not packetish(line)
            and _unfinished(out[-1][1])
        ):
            prev_number, prev = out[-1]
            out[-1] = (prev_number, prev.rstrip() + " " + line.strip())
            done["wrap"] += 1
            continue
        out.append((number, line))
    return out
