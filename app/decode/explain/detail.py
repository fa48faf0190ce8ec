"""One packet in full: Scapy's layer tree, a hex dump, and what the payload looks like.

The fast reader keeps only TCP header fields; when someone opens a packet, its bytes are
dissected here by Scapy, every layer and field, and the TCP payload is recognised when it
is HTTP/1.x, TLS records, Redis (RESP) or memcached's text protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.decode.model.i18n import Text, tr
from app.decode.model.table import MALFORMED_TCP, PacketTable
from app.decode.readers.appdata import recognise
from app.decode.readers.payloads import scapy_dissect, tcp_payload

MAX_FIELD = 300  # characters of one field's value shown


@dataclass(slots=True)
class Layer:
    name: str
    fields: list[tuple[str, str]]


@dataclass(slots=True)
class Detail:
    frame: int | None
    size: int
    layers: list[Layer] = field(default_factory=list)
    hex: list[tuple[str, str, str]] = field(default_factory=list)  # offset, hex, ascii
    payload: dict[str, Any] | None = None
    note: str | None = None  # English, as the API gives it
    said: Text | None = None  # the note in both languages, for the page

    def say(self, text: Text) -> None:
        self.note, self.said = text.en, text

    def note_in(self, lang: str) -> str | None:
        return self.said.get(lang) if self.said else self.note

    def as_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "size": self.size,
            "layers": [{"name": la.name, "fields": dict(la.fields)} for la in self.layers],
            "hex": [" ".join(row) for row in self.hex],
            "payload": self.payload,
            "note": self.note,
        }


def hexdump(data: bytes, width: int = 16, start: int = 0) -> list[tuple[str, str, str]]:
    """Rows of (offset, hex, ASCII with dots); offsets counted from ``start``."""
    rows = []
    for off in range(0, len(data), width):
        chunk = data[off : off + width]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = chunk.decode("latin-1").translate(_DOTS)
        rows.append((f"{start + off:04x}", hexpart, text))
    return rows


_DOTS = {i: "." for i in (*range(32), *range(127, 256))}


def printable(data: bytes) -> str:
    """Bytes as text to read: UTF-8 when they are UTF-8, else ASCII with a dot for every
    other byte (as Wireshark's ASCII view); control characters other than tab and newline
    shown as dots, CR LF as a newline."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1").replace("\r\n", "\n").translate(_DOTS_KEEP_LINES)
    return text.replace("\r\n", "\n").translate(_CONTROLS)


_CONTROLS = {i: "." for i in (*range(9), *range(11, 32), 127)}
_DOTS_KEEP_LINES = {i: d for i, d in _DOTS.items() if i not in (9, 10)}


def _value(layer: Any, f: Any) -> str:
    try:
        text = str(f.i2repr(layer, layer.getfieldval(f.name)))
    except Exception:  # a field Scapy cannot render is shown raw
        text = repr(layer.getfieldval(f.name))
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD] + "…"


def describe(raw: bytes, linktype: int, frame: int | None = None) -> Detail:
    """Scapy's full dissection of one frame's bytes."""
    from scapy.layers.inet import TCP

    d = Detail(frame=frame, size=len(raw), hex=hexdump(raw))
    try:
        pkt = scapy_dissect(raw, linktype)
    except Exception as exc:  # malformed bytes: show the hex and say why
        d.say(tr("Scapy could not dissect these bytes: {error}", error=str(exc)))
        return d
    layer = pkt
    while layer is not None and layer.name != "NoPayload" and len(d.layers) < 16:
        d.layers.append(Layer(layer.name, [(f.name, _value(layer, f)) for f in layer.fields_desc]))
        layer = layer.payload
    tcp = pkt.getlayer(TCP)
    if tcp is not None:
        d.payload = recognise(tcp_payload(pkt) or b"", (int(tcp.sport), int(tcp.dport)))
    return d


def packet_detail(part: PacketTable, i: int, source: bytes) -> Detail:
    """Row ``i`` of ``part`` (a slice of positions, ``FlowTable.positions``), dissected in
    full.

    ``source`` is the input as received: a capture's frame is found again at its offset
    (after undoing compression); pasted text has bytes only where it had a hex dump.
    """
    import io

    from app.decode.readers.container import open_stream

    p = part.object(i)
    if part.kind == "text":
        if p is None or p.frame_bytes is None:
            d = Detail(frame=p.frame if p else None, size=0)
            d.say(
                tr(
                    "Pasted text carries no packet bytes. Paste tcpdump's output with -X or -XX "
                    "(hex dump) to see every layer."
                )
            )
            return d
        return describe(p.frame_bytes, p.frame_link or 1, p.frame)
    offset = int(part.cols["offset"][i])
    size = int(part.cols["caplen"][i])
    iface = int(part.cols["iface"][i])
    stream, _ = open_stream(io.BytesIO(source), max_input=offset + size + (1 << 20))
    data = stream.read(offset + size)[offset:]
    frame = int(part.cols["frame"][i])
    d = describe(data, part.linktypes[iface] if part.linktypes else 1, frame)
    bad = int(part.cols["malformed"][i]) if "malformed" in part.cols else 0
    if bad:
        d.say(
            tr(
                "Malformed TCP header (tcp.malformed): {what}. A receiver drops "
                "such a segment; it is left out of the sequence analysis.",
                what=tr(MALFORMED_TCP[bad]),
            )
        )
    return d
