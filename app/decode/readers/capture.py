"""The capture reader: container chunks, vectorised dissection, Scapy for the rest.

Frames go through ``dissect`` a chunk at a time; those it leaves alone go through Scapy one
by one (``capture.scapy_frame``).  The result is a ``PacketTable`` in frame order plus the
non-TCP frames (the first ``keep_other`` described, all counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from app.decode.model.errors import UnsupportedInput
from app.decode.model.memory import trim_heap
from app.decode.model.packet import Notice, Packet
from app.decode.model.table import (
    Columns,
    HostBook,
    PacketTable,
    RowTexts,
    concat,
    packet_columns,
)
from app.decode.model.trace import Trace
from app.decode.readers.appdata import Found
from app.decode.readers.container import CHUNK, CaptureFile, Chunk, linktype_name
from app.decode.readers.dissect import FAST_LINKTYPES, PROTOCOL_NAMES, RAW, Dissected, dissect
from app.decode.readers.fragments import Reassembler, parse
from app.decode.readers.scapy_fallback import scapy_frame, scapy_knows

KEEP_OTHER = 1000
# Frames that go through Scapy one by one (tunnels, link types the fast path does not read)
# cost ~20 µs each: past this many in one input they are counted, not decoded, so a file of
# millions of odd frames cannot hold a worker for minutes.
SCAPY_BUDGET = 100_000
# No frame shorter than an Ethernet header holds a TCP segment (even with no link header,
# IP and TCP take 40 bytes): such frames are not worth a Scapy dissection.
MIN_TCP_FRAME = 14


class _ScapyBudget:
    def __init__(self) -> None:
        self.left = SCAPY_BUDGET
        self.skipped = 0

    def frames(
        self, chunk: Chunk, rows: npt.NDArray[np.int64], cf: CaptureFile, keep: int
    ) -> tuple[list[Packet], list[dict[str, object]], int]:
        """The chunk's frames ``rows`` through Scapy: (TCP packets, the first ``keep`` other
        frames described, how many other frames in all)."""
        kept: list[Packet] = []
        others: list[dict[str, object]] = []
        count = 0

        def other(frame: int, text: str) -> None:
            nonlocal count
            count += 1
            if len(others) < keep:
                others.append({"n": frame, "frame": frame, "text": text})

        sizes = chunk.caplen[rows]
        tiny = sizes < MIN_TCP_FRAME
        for i in rows[tiny][: max(keep, 0)].tolist():
            other(chunk.first_frame + i, f"frame of {int(chunk.caplen[i])} bytes")
        count += max(int(tiny.sum()) - max(keep, 0), 0)
        for i in rows[~tiny].tolist():
            frame = chunk.first_frame + i
            size = int(chunk.caplen[i])
            if self.left <= 0:
                self.skipped += 1
                other(frame, "not decoded")
                continue
            self.left -= 1
            start = int(chunk.data[i])
            raw = chunk.buf[start : start + size]
            link = cf.interfaces[int(chunk.iface[i])].linktype
            got = scapy_frame(raw, link, frame, float(chunk.time[i]), int(chunk.wirelen[i]))
            if isinstance(got, Packet):
                kept.append(got)
            else:
                other(frame, got)
        return kept, others, count


class _Fragments:
    """The capture's IP fragments through a ``Reassembler``: whole TCP datagrams become
    segments at the frame that completed them; the fragments are listed as not TCP."""

    def __init__(self) -> None:
        self.reasm = Reassembler()
        self.listed: dict[int, dict[str, object]] = {}  # frame -> its entry in ``others``
        self.seen = 0  # fragments met so far

    def frames(
        self,
        chunk: Chunk,
        d: Dissected,
        cf: CaptureFile,
        others: list[dict[str, object]],
        keep: int,
    ) -> tuple[list[Packet], int]:
        kept: list[Packet] = []
        count = 0
        self.seen += len(d.frags)
        for i, l3, v in zip(d.frags.tolist(), d.frag_l3.tolist(), d.frag_ipv.tolist(), strict=True):
            frame = chunk.first_frame + i
            start, size = int(chunk.data[i]), int(chunk.caplen[i])
            raw = chunk.buf[start : start + size]
            time = float(chunk.time[i])
            f = parse(raw, l3 - start, v)
            what = f if isinstance(f, str) else self._text(f.version, f.key[-1], f.offset, f.more)
            got = None
            if not isinstance(f, str) and f.key[-1] == 6:
                got = self.reasm.add(f, frame, time)
                if f.offset == 0 and got is None and f.key in self.reasm.pending:
                    iface = int(chunk.iface[i])
                    self.reasm.pending[f.key].first = (
                        bytes(raw),
                        cf.interfaces[iface].linktype,
                        frame,
                        time,
                        int(chunk.wirelen[i]),
                        (chunk.base + start, size, iface),
                    )
            if got is not None:
                datagram, parts = got
                p = scapy_frame(datagram, RAW, frame, time, len(datagram))
                if isinstance(p, Packet):
                    p.fragments = parts
                    kept.append(p)
                    for n in parts:
                        entry = self.listed.get(n)
                        if entry is not None:
                            entry["text"] = f"{entry['text']}; reassembled in frame {frame}"
                    continue
                what = p
            count += 1
            if len(others) < keep:
                entry = {"n": frame, "frame": frame, "text": what}
                others.append(entry)
                self.listed[frame] = entry
        return kept, count

    @staticmethod
    def _text(version: int, proto: object, offset: int, more: bool) -> str:
        name = PROTOCOL_NAMES.get(int(proto), "TCP" if proto == 6 else f"protocol {proto}")  # type: ignore[call-overload]
        last = "" if more else ", the last"
        return f"IPv{version} fragment of {name}, bytes from {offset}{last}"

    def incomplete(self) -> list[Packet]:
        """The first fragments of datagrams never completed: truncated segments."""
        out: list[Packet] = []
        for p in self.reasm.finish():
            if not isinstance(p.first, tuple):
                continue
            raw, link, frame, time, wirelen, place = p.first
            first = scapy_frame(raw, link, frame, time, wirelen)
            if isinstance(first, Packet):
                first.ip["place"] = place
                entry = self.listed.get(frame)
                if entry is not None:
                    entry["text"] = f"{entry['text']}; never completed (shown cut short)"
                first.truncated, first.incomplete = True, True
                first.cksum_status, first.cksum_expected = 0, None  # the segment is not all here
                first.length = None
                first.fragments = p.frames
                out.append(first)
        return out


def _merge_kept(
    cols: Columns, kept: list[Packet], chunk: Chunk, book: HostBook
) -> tuple[Columns, dict[int, Packet]]:
    """A chunk's fast-path rows and the packets Scapy made, in frame order; the packets'
    positions among them."""
    extra: dict[int, Packet] = {}
    if not kept:
        return cols, extra
    fast = len(cols["frame"])
    slow = packet_columns(kept, book)
    at = np.array([p.n - chunk.first_frame for p in kept], dtype=np.int64)
    slow["offset"][:] = chunk.base + chunk.data[at]
    slow["caplen"][:] = chunk.caplen[at]
    slow["iface"][:] = chunk.iface[at]
    merged = concat([cols, slow])
    order = np.argsort(merged["frame"], kind="stable")
    cols = {k: v[order] for k, v in merged.items()}
    where = np.flatnonzero(order >= fast)
    for pos, src in zip(where.tolist(), (order[where] - fast).tolist(), strict=True):
        extra[pos] = kept[src]
    return cols, extra


def _insert(
    cols: Columns,
    late: list[Packet],
    book: HostBook,
    objects: dict[int, Packet],
    comments: dict[int, list[str]],
    apps: _Apps,
) -> Columns:
    """Rows for ``late`` packets put in frame order among ``cols``; the kept objects,
    comments and payload summaries follow their rows."""
    slow = packet_columns(late, book)
    for k, p in enumerate(late):
        place: tuple[int, int, int] = p.ip.pop("place")  # type: ignore[assignment]
        offset, caplen, iface = place
        slow["offset"][k], slow["caplen"][k], slow["iface"][k] = offset, caplen, iface
    n = len(cols["frame"])
    merged = concat([cols, slow])
    order = np.argsort(merged["frame"], kind="stable")
    out = {k: v[order] for k, v in merged.items()}
    new_pos = np.empty(len(order), np.int64)
    new_pos[order] = np.arange(len(order))
    moved = {int(new_pos[k]): p for k, p in objects.items()}
    moved.update({int(new_pos[n + j]): p for j, p in enumerate(late)})
    objects.clear()
    objects.update(moved)
    for pos, p in objects.items():
        p.n = pos + 1
    texts = {int(new_pos[k]): t for k, t in comments.items()}
    comments.clear()
    comments.update(texts)
    apps.codes = [np.concatenate([*apps.codes, np.full(len(late), -1, np.int32)])[order]]
    return out


class _Apps:
    """Payload summaries as they are read: each chunk's rows' indexes into the distinct
    texts (-1: none)."""

    def __init__(self) -> None:
        self.codes: list[npt.NDArray[np.int32]] = []
        self._number: dict[str, int] = {}  # text -> its index, in order

    def add(
        self, frames: npt.NDArray[np.int64], found: Found, at_frames: npt.NDArray[np.int64]
    ) -> None:
        """A chunk's rows (``frames``: their frame numbers); ``found`` is what the fast
        reader recognised, at frames ``at_frames``."""
        number = self._number
        ids = np.array([number.setdefault(t, len(number)) for t in found.texts], np.int32)
        codes = np.full(len(frames), -1, np.int32)
        codes[np.searchsorted(frames, at_frames)] = ids[found.which]
        self.codes.append(codes)

    def merge(self, codes: npt.NDArray[np.int32], texts: list[str]) -> None:
        """Rows whose codes index ``texts`` (another process's numbering), after these."""
        number = self._number
        ids = np.array([number.setdefault(t, len(number)) for t in texts] or [0], np.int32)
        self.codes.append(np.where(codes >= 0, ids[np.maximum(codes, 0)], -1).astype(np.int32))

    def column(self) -> RowTexts:
        codes = np.concatenate(self.codes) if self.codes else np.zeros(0, np.int32)
        return RowTexts(codes, list(self._number))


def _texts(
    frames: npt.NDArray[np.int64],
    rows: int,
    frame_comments: dict[int, list[str]],
    comments: dict[int, list[str]],
    file_comments: list[str],
) -> None:
    """A chunk's capture comments, keyed by frame number, put on their rows (``frames``:
    the chunk's rows, which start at row ``rows``); a comment on a frame that is not TCP
    joins the file's comments."""
    for frame_no, texts in frame_comments.items():
        pos = int(np.searchsorted(frames, frame_no))
        if pos < len(frames) and frames[pos] == frame_no:
            comments[rows + pos] = texts
        else:
            file_comments.append(f"frame {frame_no} (not TCP): " + " / ".join(texts))


@dataclass(slots=True)
class Parcel:
    """A part of a capture read by another process (``Reading.parcel``), numbered as if it
    were the whole file: frames and rows from 1, hosts in its own book."""

    cols: Columns
    opt_bytes: bytes
    hosts: list[str]
    objects: dict[int, Packet]
    app_codes: npt.NDArray[np.int32]
    app_texts: list[str]
    others: list[dict[str, object]]
    other_count: int
    scapy: int  # frames that went through Scapy
    records: int
    rows: int
    alone: bool  # it cannot be merged (see ``Reading.can_merge``)


class Reading:
    """One capture being read: ``consume`` takes a container's chunks (one file, or its
    parts one after another), ``trace`` makes the result.  Everything that depends on
    what came before (host ids, payload summaries, the Scapy budget, fragments waiting for
    the rest of their datagram, rows and frames) lives here."""

    def __init__(self, keep_other: int = KEEP_OTHER) -> None:
        self.keep_other = keep_other
        self.book = HostBook()
        self.parts: list[Columns] = []
        self.blobs: list[bytes] = []
        self.blob_size = 0
        self.objects: dict[int, Packet] = {}
        self.comments: dict[int, list[str]] = {}
        self.apps = _Apps()
        self.others: list[dict[str, object]] = []
        self.other_count = 0
        self.rows = 0
        self.budget = _ScapyBudget()
        self.fragments = _Fragments()
        self.files: list[CaptureFile] = []

    def consume(self, cf: CaptureFile) -> None:
        self.files.append(cf)
        for chunk in cf.chunks():
            self._chunk(chunk, cf)

    def _chunk(self, chunk: Chunk, cf: CaptureFile) -> None:
        keep_other, others = self.keep_other, self.others
        d = dissect(chunk, cf.interfaces, self.book, max(0, keep_other - len(others)))
        d.cols["opt_start"] += self.blob_size
        self.blobs.append(d.opt_bytes)
        self.blob_size += len(d.opt_bytes)
        cols = d.cols
        kept, not_tcp, count = self.budget.frames(chunk, d.scapy, cf, keep_other - len(others))
        self.other_count += count
        others.extend(not_tcp)
        if len(d.frags):
            whole, count = self.fragments.frames(chunk, d, cf, others, keep_other)
            kept = sorted(kept + whole, key=lambda p: p.n)
            self.other_count += count
        for i, what in zip(d.other.tolist(), d.other_what, strict=False):
            frame = chunk.first_frame + i
            others.append({"n": frame, "frame": frame, "text": what})
        self.other_count += len(d.other)
        app_frames = cols["frame"][d.apps.rows]
        cols, extra = _merge_kept(cols, kept, chunk, self.book)
        for pos, p in extra.items():
            p.n = self.rows + pos + 1
            self.objects[self.rows + pos] = p
        self.apps.add(cols["frame"], d.apps, app_frames)
        _texts(cols["frame"], self.rows, chunk.comments, self.comments, cf.comments)
        self.parts.append(cols)
        self.rows += len(cols["frame"])

    def parcel(self) -> Parcel:
        """What was read, to hand to the process that read the part before it
        (``merge``)."""
        apps = self.apps.column()
        return Parcel(
            cols=concat(self.parts),
            opt_bytes=b"".join(self.blobs),
            hosts=self.book.hosts,
            objects=self.objects,
            app_codes=apps.codes,
            app_texts=apps.texts,
            others=self.others,
            other_count=self.other_count,
            scapy=SCAPY_BUDGET - self.budget.left,
            records=sum(f.count for f in self.files),
            rows=self.rows,
            alone=bool(
                any(f.warnings or f.comments for f in self.files)
                or self.fragments.seen
                or self.budget.skipped
                or self.comments
            ),
        )

    def can_merge(self, parcel: Parcel, max_packets: int) -> bool:
        """Whether reading on here would give what ``parcel`` holds, but for its numbering:
        nothing in it depends on what came before it (no warning, fragment or comment),
        nothing here waits for what follows (no fragment of an unfinished datagram), the
        Scapy budget left covers its frames, and the packet limit holds."""
        return (
            not parcel.alone
            and not self.fragments.reasm.pending
            and not any(f.warnings for f in self.files)
            and parcel.scapy <= self.budget.left
            and self.files[-1].count + parcel.records <= max_packets
        )

    def merge(self, parcel: Parcel) -> None:
        """The rows of the part after this one (read by another process, ``parcel``),
        renumbered: its hosts into this book, its frames after this part's records, its
        rows after these rows, its option bytes after these."""
        frames = self.files[-1].count
        cols = parcel.cols
        ids = np.array([self.book.id(h, h) for h in parcel.hosts] or [0], np.int32)
        cols["src"], cols["dst"] = ids[cols["src"]], ids[cols["dst"]]
        cols["frame"] += frames
        cols["opt_start"] += self.blob_size
        for row, p in parcel.objects.items():
            p.n += self.rows
            if p.frame is not None:
                p.frame += frames
            self.objects[self.rows + row] = p
        self.apps.merge(parcel.app_codes, parcel.app_texts)
        for o in parcel.others:
            o["n"] = o["frame"] = int(o["frame"]) + frames  # type: ignore[call-overload]
        self.others.extend(parcel.others)
        self.other_count += parcel.other_count
        self.budget.left -= parcel.scapy
        self.parts.append(cols)
        self.blobs.append(parcel.opt_bytes)
        self.blob_size += len(parcel.opt_bytes)
        self.rows += parcel.rows

    def trace(self) -> Trace:
        """The Trace of everything consumed."""
        cf = self.files[0]
        warnings = [w for f in self.files for w in f.warnings]
        self.others.sort(key=lambda o: int(o["frame"]))  # type: ignore[call-overload]
        if self.budget.skipped:
            warnings.append(
                Notice(
                    None,
                    f"{self.budget.skipped:,} frames the fast reader leaves to Scapy were not "
                    f"decoded: past the first {SCAPY_BUDGET:,} such frames, they are only "
                    "counted",
                )
            )
        links = sorted({i.linktype for i in cf.interfaces})
        unknown = [lt for lt in links if lt not in FAST_LINKTYPES and not scapy_knows(lt)]
        if unknown and self.rows == 0:
            raise UnsupportedInput(
                f"link type {', '.join(map(linktype_name, unknown))} is not one tcpladder or "
                "Scapy can decode" + (" (pcap header, bytes 20-23)" if cf.kind == "pcap" else ""),
                offset=20 if cf.kind == "pcap" else None,
            )
        for lt in unknown:
            warnings.append(Notice(None, f"frames of link type {lt} were not decoded"))
        cols = concat(self.parts)
        late = self.fragments.incomplete()
        if late:
            cols = _insert(cols, late, self.book, self.objects, self.comments, self.apps)
        warnings.extend(self._incomplete_warning(len(late)))
        trim_heap()
        table = PacketTable(
            cf.kind,
            cols,
            self.book.hosts,
            opt_bytes=b"".join(self.blobs),
            objects=self.objects,
            comments=self.comments,
            apps=self.apps.column(),
            linktypes=[i.linktype for i in cf.interfaces],
        )
        return Trace(
            kind=cf.kind,
            table=table,
            warnings=warnings,
            other_packets=self.others[: self.keep_other],
            link_type=", ".join(linktype_name(lt) for lt in links) or None,
            comments=[c for f in self.files for c in f.comments],
            other_count=self.other_count,
        )

    def _incomplete_warning(self, shown: int) -> list[Notice]:
        lost = self.fragments.reasm.incomplete
        if not lost:
            return []
        return [
            Notice(
                None,
                f"{lost:,} IP datagram{'s were' if lost != 1 else ' was'} sent in fragments "
                f"and never completed; {shown:,} first fragment{'s' if shown != 1 else ''} "
                "carrying a TCP header are shown as cut-short segments "
                "(ip.reassembly_incomplete)",
            )
        ]


def read_capture(
    stream: BinaryIO, *, max_packets: int, keep_other: int = KEEP_OTHER, chunk_size: int = CHUNK
) -> Trace:
    reading = Reading(keep_other)
    reading.consume(CaptureFile(stream, max_packets=max_packets, chunk_size=chunk_size))
    return reading.trace()
