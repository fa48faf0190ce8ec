"""The packets of a paste as columns while it is read, and the work done on them at its end.

Nearly every line of a paste is a plain packet line (``line.PLAIN``).  Such a line becomes
one row of numbers in arrays; no object is kept for it, and its ``Packet`` is made again from
the line when something shows it (``Remake``).  A packet that needs more than its line says
(commentary beside it, decode or dump lines under it, an unusual field) is kept as the
``Parsed`` the line parser made, and so is a plain row something attaches to later
(``Rows.parsed``).  At the end tcpdump's relative numbers are undone and the time stamps
checked over the columns of all rows (``number``, ``times``), and the kept objects get what
their rows got.  200,000 pasted lines kept as objects took 2.4 KB each; as rows they take
152 bytes of numbers, and the line itself (kept to show the packet).
"""

from __future__ import annotations

import itertools
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.decode.model.packet import ACK, ENDPOINT_PORTS, NAMED_PORTS, SEQ_MOD, SYN, Notice, Packet
from app.decode.model.table import HostBook, PacketTable, empty_columns, packet_columns
from app.decode.text.line import (
    PLAIN,
    U16,
    U32,
    FlagError,
    Parsed,
    parse_flags,
    parse_options,
    plain_parsed,
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_PLAIN = PLAIN.match
_FRACTION = {6: 10**6, 9: 10**9}  # int(frac) / 10 ** len(frac), as the line parser divides
_TS_ITEM = re.compile(r"TS val (\d+) ecr (\d+)")
_OPTION_CACHE_SIZE = 4096
# (mss, wscale, sackOK) of an option list without SACK blocks or options tcpladder keeps
# only as text, its TS values aside; None: such a list is not plain.  Lists are looked up
# with each TS item made "[TS]", which no printed list holds (PLAIN's has no brackets).
_OptionShape = tuple[int, int, int] | None

# The integers of every row, in this order: what numbering, quotes and the table need.
_INTS = (
    "line",
    "src",
    "dst",
    "sport",
    "dport",
    "flags",
    "seq_start",
    "seq_end",
    "ack",
    "win",
    "urg",
    "length",
    "mss",
    "wscale",
    "sackok",
    "ts_val",
    "ts_ecr",
    "ipv",
)
_AT = {name: k for k, name in enumerate(_INTS)}
_WIDTH = len(_INTS)


def _num(v: int | None) -> int:
    return -1 if v is None else v


def _opt(v: int) -> int | None:
    return None if v < 0 else v


class Rows:
    """Every packet read so far: numbers in arrays, a ``Parsed`` where one is kept, the
    line of each plain row."""

    def __init__(self) -> None:
        self.count = 0
        self.kept: dict[int, Parsed] = {}
        self.texts: list[str | None] = []
        self.ints: array[int] = array("q")  # _WIDTH a row (_INTS)
        self.time: array[float] = array("d")
        self.host_ids: dict[str, int] = {}
        self._options: dict[str, _OptionShape] = {}
        self._flags: dict[str, int] = {}
        self._clock: dict[str, int] = {}  # "HH:MM:SS" -> seconds

    def _host(self, host: str) -> int:
        got = self.host_ids.get(host)
        if got is None:
            got = self.host_ids[host] = len(self.host_ids)
        return got

    def plain(self, line: str, lineno: int) -> bool:
        """Add a plain packet line (``line.plain_match``) as a row; False for any other.
        (The hot loop of a paste: ``line.plain_parsed`` says the same in fewer words.)"""
        m = _PLAIN(line)
        if m is None or line.find("IP", m.end(6)) >= 0 or "ethertype" in line:
            return False
        hh, mm, ss, frac, epoch, ip, sh, sp, dh, dp, fl, s, e, a, w, u, o, tv, te, ln = m.groups()
        flags = self._flags.get(fl)
        if flags is None:
            try:
                flags = self._flags[fl] = parse_flags(fl)
            except FlagError:
                return False
        if epoch:
            t = float(epoch)
        else:
            clock = self._clock.get(line[:8])  # the packets of one second share it
            if clock is None:
                h, mi, sec = int(hh), int(mm), int(ss)
                if h > 23 or mi > 59 or sec > 60:
                    return False
                clock = self._clock[line[:8]] = h * 3600 + mi * 60 + sec
            t = clock + (int(frac) / _FRACTION[len(frac)])
        sport, dport = int(sp), int(dp)
        seq = -1 if s is None else int(s)
        end = -1 if s is None or e is None else int(e)
        ack = -1 if a is None else int(a)
        win, urg, length = int(w), -1 if u is None else int(u), int(ln)
        mss = wscale = tsv = tse = -1
        sackok = 0
        if tv is not None:
            tsv, tse = int(tv), int(te)
        elif o is not None:
            shape = self._option_shape(o)
            if shape is None:
                return False
            mss, wscale, sackok = shape
            ts = _TS_ITEM.search(o)
            if ts is not None:
                tsv, tse = int(ts.group(1)), int(ts.group(2))
        if (
            sport > 0xFFFF
            or dport > 0xFFFF
            or seq >= U32
            or ack >= U32
            or length >= U32
            or tsv >= U32
            or tse >= U32
            or end >= U32 + U32
            or win >= U16
            or urg >= U16
        ):
            return False  # the line parser says which number, and keeps it as commentary
        ids = self.host_ids
        src = ids.get(sh)
        if src is None:
            src = ids[sh] = len(ids)
        dst = ids.get(dh)
        if dst is None:
            dst = ids[dh] = len(ids)
        self.ints.extend(
            (
                lineno,
                src,
                dst,
                sport,
                dport,
                flags,
                seq,
                end,
                ack,
                win,
                urg,
                length,
                mss,
                wscale,
                sackok,
                tsv,
                tse,
                6 if ip == "IP6" else 4,
            )
        )
        self.time.append(t)
        self.texts.append(line)
        self.count += 1
        return True

    def _option_shape(self, text: str) -> _OptionShape:
        """What an option list gives the columns, its TS values aside (they differ on every
        SYN: the list is looked up with them taken out)."""
        key = _TS_ITEM.sub("[TS]", text)
        if key in self._options:
            return self._options[key]
        opts = parse_options(text)
        shape: _OptionShape = None
        if (
            not opts.sack
            and not opts.other
            and len(_TS_ITEM.findall(text)) == (opts.ts_val is not None)
            and _num(opts.mss) < U16
            and _num(opts.wscale) < 256
        ):
            shape = (_num(opts.mss), _num(opts.wscale), int(opts.sack_perm))
        if len(self._options) < _OPTION_CACHE_SIZE:
            self._options[key] = shape
        return shape

    def add(self, q: Parsed) -> int:
        """Add a packet kept as its ``Parsed``; its row."""
        p = q.packet
        self.ints.extend(
            (
                _num(p.line),
                self._host(p.src_host),
                self._host(p.dst_host),
                _num(p.src_port),
                _num(p.dst_port),
                p.flags,
                _num(q.seq_start),
                _num(q.seq_end),
                _num(q.ack),
                _num(p.win),
                _num(p.urg),
                _num(p.length),
                -1,
                -1,
                0,
                -1,
                -1,
                p.ip_version,
            )
        )
        self.time.append(np.nan if p.time is None else p.time)
        self.texts.append(None)
        row = self.count
        self.kept[row] = q
        self.count += 1
        return row

    def peek(self, row: int) -> Parsed:
        """Row ``row`` as the line parser made it (kept, or made again from its line)."""
        kept = self.kept.get(row)
        if kept is not None:
            return kept
        text = self.texts[row]
        got = plain_parsed(text, self.value("line", row)) if text is not None else None
        if got is None:
            raise AssertionError(f"row {row} is neither kept nor a plain line")
        return got

    def parsed(self, row: int) -> Parsed:
        """Row ``row`` kept from now on: something attaches to it."""
        q = self.kept.get(row)
        if q is None:
            q = self.kept[row] = self.peek(row)
            self.texts[row] = None
        return q

    def value(self, name: str, row: int) -> int:
        return self.ints[row * _WIDTH + _AT[name]]

    def key(self, row: int) -> tuple[int, int, int, int, int]:
        """What a quote must repeat exactly: the ends and the flags."""
        at = row * _WIDTH
        i = self.ints
        return (i[at + 1], i[at + 3], i[at + 2], i[at + 4], i[at + 5])

    def keys(self) -> Iterator[tuple[int, int, int, int, int]]:
        return (self.key(row) for row in range(self.count))

    def printed(self, row: int) -> tuple[int, int, int, int, int]:
        """(seq, seq end, ack, win, length) as printed; -1 where not."""
        at = row * _WIDTH
        i = self.ints
        return (i[at + 6], i[at + 7], i[at + 8], i[at + 9], i[at + 11])

    def in_order(self) -> list[tuple[int, Parsed]]:
        return sorted(self.kept.items())

    def column(self, name: str) -> I64:
        if not self.count:
            return np.zeros(0, np.int64)
        out: I64 = np.frombuffer(self.ints, np.int64)[_AT[name] :: _WIDTH].copy()
        return out


@dataclass(slots=True)
class Numbers:
    """The numbers after tcpdump's relative numbering is undone, per row; -1: unknown."""

    seq: I64
    ack: I64
    rel_seq: I64
    rel_ack: I64
    length: I64
    relative: bool


@dataclass(slots=True)
class _Conversations:
    """Rows grouped by conversation, as tcpdump keeps its numbering bases (print-tcp.c):
    ``order`` holds the chosen rows, each conversation's together in row order; ``base`` is
    the row whose numbers set the bases the row at that place is read against: the first
    of its conversation, or the latest SYN."""

    order: I64
    base: I64


def _endpoints(rows: Rows) -> tuple[I64, I64]:
    """Each row's source and destination endpoint as one integer (host and port)."""
    src = rows.column("src") * ENDPOINT_PORTS + rows.column("sport") + 1
    dst = rows.column("dst") * ENDPOINT_PORTS + rows.column("dport") + 1
    return src, dst


def _conversations(src: I64, dst: I64, flags: I64, chosen: npt.NDArray[np.bool_]) -> _Conversations:
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    _, ids = np.unique(np.concatenate([lo, hi]), return_inverse=True)
    n = len(src)
    conv = ids[:n].astype(np.int64) * (len(ids) + 1) + ids[n:]
    rows = np.flatnonzero(chosen)
    order = rows[np.argsort(conv[rows], kind="stable")]
    c = conv[order]
    first = np.ones(len(order), bool)
    first[1:] = c[1:] != c[:-1]
    sets = first | (flags[order] & SYN > 0)
    at = np.maximum.accumulate(np.where(sets, np.arange(len(order)), 0))
    return _Conversations(order, np.where(sets, -1, order[at]))


def _base_of(who: I64, b_src: I64, b_dst: I64, from_src: I64, from_dst: I64) -> I64:
    """The base of endpoint ``who`` in a base dict {b_src: from_src, b_dst: from_dst} (a
    later key wins where the two ends are one endpoint); -1: none."""
    return np.where(who == b_dst, from_dst, np.where(who == b_src, from_src, -1))


def _guess_relative(rows: Rows) -> bool | None:
    """Vote per conversation: after the packet that sets tcpdump's base, are numbers small?
    (Only a value that fits one reading and not the other is a vote.)"""
    src, dst = _endpoints(rows)
    flags, seq, ack = rows.column("flags"), rows.column("seq_start"), rows.column("ack")
    convs = _conversations(src, dst, flags, (flags & ACK > 0) & (ack >= 0))
    read = convs.base >= 0
    r, b = convs.order[read], convs.base[read]
    # the bases {receiver: ack - 1, sender: seq (when printed)}, the sender's written last
    votes_rel = votes_abs = 0
    for value, who in ((ack[r], dst[r]), (seq[r], src[r])):
        as_sender = (who == src[b]) & (seq[b] >= 0)
        known = as_sender | (who == dst[b])
        base = np.where(as_sender, seq[b], ack[b] - 1)
        use = (value >= 0) & known
        v, bv = value[use], base[use]
        # Absolute numbers stay a little ahead of the base; relative ones are small.
        fits_abs = (v - bv) % SEQ_MOD < (1 << 24)
        fits_rel = (v < (1 << 24)) & (v != bv)
        votes_abs += int(np.count_nonzero(fits_abs & ~fits_rel))
        votes_rel += int(np.count_nonzero(fits_rel & ~fits_abs))
    if votes_rel == votes_abs == 0:
        return None
    return votes_rel > votes_abs


def number(rows: Rows, cmd_flags: list[str]) -> Numbers:
    """Turn printed seq/ack into absolute numbers, undoing tcpdump's relative numbering.

    tcpdump (print-tcp.c) rewrites seq/ack only on segments with ACK set, relative to a
    per-conversation base taken from the first ACK-bearing segment it saw, or from any
    segment with SYN and ACK: base(sender) = seq, base(receiver) = ack - 1.  That segment
    itself is printed with absolute values.  The kept packets get their numbers too.
    """
    if "S" in cmd_flags or "--absolute-tcp-sequence-numbers" in cmd_flags:
        relative = False
    elif cmd_flags:
        relative = True
    else:
        relative = bool(_guess_relative(rows))
    n = rows.count
    seq_start, seq_end, ack_in = (rows.column(k) for k in ("seq_start", "seq_end", "ack"))
    length = rows.column("length")
    cut = (length < 0) & (seq_start >= 0) & (seq_end >= 0)
    length[cut] = (seq_end[cut] - seq_start[cut]) % SEQ_MOD
    out = Numbers(
        seq_start,
        ack_in,
        np.full(n, -1, np.int64),
        np.full(n, -1, np.int64),
        length,
        relative,
    )
    sack_base: dict[int, int | None] = {}
    if relative:
        _relative(rows, out, sack_base)
    for row, q in rows.kept.items():
        p = q.packet
        p.length = _opt(int(length[row]))
        p.seq, p.ack = _opt(int(out.seq[row])), _opt(int(out.ack[row]))
        p.rel_seq, p.rel_ack = _opt(int(out.rel_seq[row])), _opt(int(out.rel_ack[row]))
        if row in sack_base and p.options.sack:
            # SACK blocks are printed relative to the same base as the ack (print-tcp.c).
            ab = sack_base[row]
            p.options.sack = (
                [((a + ab) % SEQ_MOD, (b + ab) % SEQ_MOD) for a, b in p.options.sack]
                if ab is not None
                else []
            )
    return out


def _relative(rows: Rows, out: Numbers, sack_base: dict[int, int | None]) -> None:
    """The relative half of ``number``, for all rows at once: a segment with ACK that sets
    no base is read against the latest one of its conversation."""
    src, dst = _endpoints(rows)
    flags, seq, ack = rows.column("flags"), rows.column("seq_start"), rows.column("ack")
    convs = _conversations(src, dst, flags, flags & ACK > 0)
    sets = convs.order[convs.base < 0]
    out.rel_seq[sets] = np.where(seq[sets] >= 0, 0, -1)
    out.rel_ack[sets] = np.where(ack[sets] >= 0, 1, -1)
    r, b = convs.order[convs.base >= 0], convs.base[convs.base >= 0]
    # the seq base is unknown when tcpdump did not print it (bare ACK)
    from_src = np.where(seq[b] >= 0, seq[b], -1)
    from_dst = np.where(ack[b] > 0, (ack[b] - 1) % SEQ_MOD, -1)
    sb = _base_of(src[r], src[b], dst[b], from_src, from_dst)
    ab = _base_of(dst[r], src[b], dst[b], from_src, from_dst)
    has_seq, has_ack = seq[r] >= 0, ack[r] >= 0
    out.rel_seq[r[has_seq]] = seq[r[has_seq]]
    out.seq[r[has_seq]] = np.where(sb >= 0, (seq[r] + sb) % SEQ_MOD, -1)[has_seq]
    out.rel_ack[r[has_ack]] = ack[r[has_ack]]
    out.ack[r[has_ack]] = np.where(ab >= 0, (ack[r] + ab) % SEQ_MOD, -1)[has_ack]
    if rows.kept:
        at = {row: k for k, row in enumerate(r.tolist()) if row in rows.kept}
        for row, k in at.items():
            base = int(ab[k])
            sack_base[row] = None if base < 0 else base


def time_text(rows: Rows, row: int) -> str:
    q = rows.kept.get(row)
    if q is not None:
        return q.packet.time_text or ""
    text = rows.texts[row]
    return text.split(" ", 1)[0] if text else ""


def times(rows: Rows, cmd_flags: list[str], warnings: list[Notice]) -> F64:
    """Every row's time in seconds (NaN: none): ``-ttt`` deltas made a running clock, days
    added where times of day wrap past midnight, a warning where time goes backwards."""
    t = np.frombuffer(rows.time, np.float64).copy() if rows.count else np.zeros(0)
    timed = np.flatnonzero(~np.isnan(t))
    if not _deltas_to_times(rows, t, timed, cmd_flags):
        vals = t[timed]
        if len(vals) > 1 and not np.all(vals[:-1] <= vals[1:]):
            _check_time_order(rows, t, timed, warnings)
    for row, q in rows.kept.items():
        v = float(t[row])
        q.packet.time = None if v != v else v
    return t


def _deltas_to_times(rows: Rows, t: F64, timed: I64, cmd_flags: list[str]) -> bool:
    """tcpdump -ttt prints the time since the previous packet; make it a running clock.

    Recognised from the command's ``-ttt`` or, without one, from stamps that start at
    00:00:00.000000 and go backwards (a delta smaller than the one before)."""
    if len(timed) < 2:
        return False
    if "".join(f for f in cmd_flags if f == "t") != "ttt":
        if not time_text(rows, int(timed[0])).startswith(("00:00:00.0000000", "00:00:00.000000")):
            return False
        stamps = t[timed]
        if np.all(stamps[:-1] <= stamps[1:]):
            return False  # -ttttt: time since the first packet, already a clock
    t[timed] = list(itertools.accumulate(t[timed].tolist()))
    return True


def _check_time_order(rows: Rows, t: F64, timed: I64, warnings: list[Notice]) -> None:
    last = -1
    day = 0.0
    lines = rows.column("line").tolist()
    for row in timed.tolist():
        now = float(t[row]) + day
        t[row] = now
        if last >= 0 and now < t[last]:
            back = float(t[last]) - now
            if back > 12 * 3600:
                # Past midnight: times of day wrapped.
                day += 86400
                t[row] = now + 86400
                last = row
                continue
            warnings.append(
                Notice(
                    lines[row],
                    f"time goes backwards by {back * 1e6:.0f} µs after packet {last + 1} "
                    f"(line {lines[last]}); kept in the order printed",
                )
            )
        last = row


@dataclass(slots=True)
class Remake:
    """A plain row's ``Packet``, made again from its line with the numbers worked out at
    the end of the parse (``PacketTable.remake``)."""

    texts: list[str | None]
    lines: I64
    seq: I64
    ack: I64
    rel_seq: I64
    rel_ack: I64
    time: F64

    def __call__(self, row: int) -> Packet:
        text = self.texts[row]
        q = plain_parsed(text, int(self.lines[row])) if text is not None else None
        if q is None:
            raise AssertionError(f"row {row} is not a plain line")
        p = q.packet
        p.n = row + 1
        p.seq, p.ack = _opt(int(self.seq[row])), _opt(int(self.ack[row]))
        p.rel_seq, p.rel_ack = _opt(int(self.rel_seq[row])), _opt(int(self.rel_ack[row]))
        t = float(self.time[row])
        p.time = None if t != t else t
        return p


def _host_order(rows: Rows) -> tuple[list[str], I64]:
    """Host names in the order the table numbers them (every source in row order, then the
    destinations not seen as one), and each parse-time id's place in it."""
    src, dst = rows.column("src"), rows.column("dst")
    us, first_s = np.unique(src, return_index=True)
    ud, first_d = np.unique(dst, return_index=True)
    new = ~np.isin(ud, us)
    order = np.concatenate([us[np.argsort(first_s)], ud[new][np.argsort(first_d[new])]])
    names = list(rows.host_ids)
    remap = np.zeros(len(names), np.int64)
    remap[order] = np.arange(len(order))
    return [names[k] for k in order.tolist()], remap


def table(rows: Rows, numbers: Numbers, t: F64) -> PacketTable:
    """The packet table: the rows' columns, the kept packets' own where kept."""
    n = rows.count
    hosts, remap = _host_order(rows)
    cols = empty_columns(n)
    flags = rows.column("flags")
    cols["time"][:] = t
    cols["src"][:] = remap[rows.column("src")]
    cols["dst"][:] = remap[rows.column("dst")]
    for name in ("ipv", "sport", "dport", "win", "urg", "mss", "wscale", "ts_val", "ts_ecr"):
        cols[name][:] = rows.column(name)
    cols["flags"][:] = flags
    cols["sackok"][:] = rows.column("sackok") > 0
    cols["seq"][:] = numbers.seq
    cols["ack"][:] = np.where(flags & ACK, numbers.ack, -1)
    cols["length"][:] = numbers.length
    cols["opt_start"][:] = 0
    cols["opt_len"][:] = 0
    kept = rows.in_order()
    book = HostBook()
    for h in hosts:
        book.id(h)
    if kept:
        at = np.array([row for row, _ in kept], np.int64)
        own = packet_columns([q.packet for _, q in kept], book)
        for name, values in own.items():
            cols[name][at] = values
    names = {p.src_port: p.src_port_name for p in (q.packet for _, q in kept) if p.src_port_name}
    names.update(
        {q.packet.dst_port: q.packet.dst_port_name for _, q in kept if q.packet.dst_port_name}
    )
    port_names = {
        port: name
        for port, name in names.items()
        if port is not None and port >= NAMED_PORTS and name is not None
    }
    remake = Remake(
        rows.texts,
        rows.column("line"),
        numbers.seq,
        numbers.ack,
        numbers.rel_seq,
        numbers.rel_ack,
        t,
    )
    return PacketTable(
        "text",
        cols,
        book.hosts,
        objects={row: q.packet for row, q in kept},
        port_names=port_names,
        remake=remake if len(kept) < n else None,
    )
