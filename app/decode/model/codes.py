"""Coded values: what the small integers in the analysis columns mean.

A column such as ``FlowTable.phase`` holds ``Phase`` values; ``.text`` is the word the JSON
contract (docs/json.md) uses for each.  Finding codes are declared here once, in bit order:
bit ``i`` of a packet's ``findings`` column is ``list(Finding)[i]``; the catalogue
(``explain.catalogue``) gives each its title, explanation and RFC section.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Coded(IntEnum):
    """An integer code whose JSON word is its lower-cased name."""

    @property
    def text(self) -> str:
        return self.name.lower()

    @classmethod
    def texts(cls) -> tuple[str, ...]:
        """The words indexed by code, for turning whole columns into text."""
        return tuple(m.text for m in cls)


class Direction(Coded):
    C2S = 0
    S2C = 1


class RolesFrom(Coded):
    """How the client was told from the server."""

    SYN = 0  # it sent the SYN
    SYN_ACK = 1  # it received the SYN-ACK
    HEURISTIC = 2  # ports

    @property
    def text(self) -> str:
        return self.name.lower().replace("_", "-")


class Handshake(Coded):
    NONE = 0
    PARTIAL = 1
    COMPLETE = 2


class Scaling(Coded):
    """Window scaling of a connection (RFC 7323 §2.2)."""

    UNKNOWN = 0  # not both SYNs seen
    BOTH = 1  # both SYNs carried wscale: in effect
    NONE = 2  # off


class Phase(Coded):
    HANDSHAKE = 0
    DATA = 1
    TEARDOWN = 2
    HALF_CLOSE = 3  # one side has sent FIN; the other still sends data (RFC 9293 §3.6)


class Scale(Coded):
    """How one packet's window field is to be read."""

    UNKNOWN = 0
    SYN = 1  # never scaled in a SYN
    SCALED = 2
    NONE = 3


class EndedBy(Coded):
    OPEN = 0
    FOUR_WAY_CLOSE = 1
    THREE_WAY_CLOSE = 2
    SIMULTANEOUS_CLOSE = 3
    HALF_CLOSE = 4
    RESET = 5
    REFUSED = 6


class ConnState(Coded):
    """Zeek's conn_state (base/protocols/conn/main.zeek)."""

    OTH = 0
    S0 = 1
    S1 = 2
    SF = 3
    REJ = 4
    S2 = 5
    S3 = 6
    RSTO = 7
    RSTR = 8
    RSTOS0 = 9
    RSTRH = 10
    SH = 11
    SHR = 12

    @property
    def text(self) -> str:
        return self.name


class Finding(StrEnum):
    """Finding codes, in bit order.  Part of the JSON contract: never rename or reorder one."""

    RETRANSMISSION = "tcp.retransmission"
    FAST_RETRANSMISSION = "tcp.fast_retransmission"
    SPURIOUS_RETRANSMISSION = "tcp.spurious_retransmission"
    DUPLICATE_ACK = "tcp.duplicate_ack"
    OUT_OF_ORDER = "tcp.out_of_order"
    LOST_SEGMENT = "tcp.lost_segment"
    ACK_UNSEEN = "tcp.ack_unseen"
    ZERO_WINDOW = "tcp.zero_window"
    ZERO_WINDOW_PROBE = "tcp.zero_window_probe"
    WINDOW_FULL = "tcp.window_full"
    WINDOW_UPDATE = "tcp.window_update"
    KEEP_ALIVE = "tcp.keep_alive"
    KEEP_ALIVE_ACK = "tcp.keep_alive_ack"
    RESET = "tcp.reset"
    PORT_REUSE = "tcp.port_reuse"
    CHECKSUM_OFFLOAD = "tcp.checksum_offload"
    BAD_OPTION = "tcp.bad_option"
    MALFORMED = "tcp.malformed"
    REASSEMBLY_INCOMPLETE = "ip.reassembly_incomplete"
    DUPLICATE_SEGMENT = "tcp.duplicate_segment"
    ECN_CE = "ip.ecn_ce"
    BAD_CHECKSUM = "tcp.bad_checksum"
    IP_BAD_CHECKSUM = "ip.bad_checksum"

    @property
    def bit(self) -> int:
        return FINDING_CODES.index(self.value)


FINDING_CODES: tuple[str, ...] = tuple(f.value for f in Finding)
# A checksum's status column: 0, 1, 2 (app/decode/readers/checksum.py computes them).
CHECKSUM_STATUS = ("unverified", "good", "bad")
