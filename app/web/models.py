"""The API's own shapes: a session's status, the owner's edit and the one error shape.

The analysis document's shapes live with the decoder (``app.decode.export.shapes``); these
are about sessions, which only the web and the store know.  They are the response models
of ``/api`` (so ``/docs`` and ``/openapi.json`` describe every answer, errors included) and
the schema schemathesis checks the server against (tests/web/test_schema.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

_STRICT = ConfigDict(extra="forbid")


@with_config(_STRICT)
class Progress(TypedDict):
    stage: Annotated[str, "queued, reading (bytes), analysing (packets) or storing"]
    done: Annotated[int, "how much of the stage is done, in its unit"]
    total: Annotated[int | None, "the stage's size in its unit, when known"]


@with_config(_STRICT)
class SessionOptions(TypedDict):
    keep_input: Annotated[bool, "the raw input is kept (packet detail, exports)"]
    anonymise: Annotated[bool, "addresses were replaced by pseudonyms, payloads dropped"]


@with_config(_STRICT)
class ErrorDetail(TypedDict):
    code: Annotated[str, "stable dotted code, e.g. trace.too_large"]
    message: Annotated[str, "what went wrong, in words"]
    line: NotRequired[Annotated[int, "the input line it concerns (pasted text)"]]
    offset: NotRequired[Annotated[int, "the byte offset it concerns (captures)"]]
    hint: NotRequired[Annotated[str, "what to do about it"]]


@with_config(_STRICT)
class ErrorBody(TypedDict):
    """Every error of the API, whatever its status."""

    error: ErrorDetail


@with_config(_STRICT)
class SessionStatus(TypedDict):
    id: str
    url: Annotated[str, "the session's page (absolute when TCPLADDER_BASE_URL is set)"]
    status: Literal["processing", "ready", "failed"]
    title: str
    note: str
    created_at: Annotated[float, "Unix time"]
    expires_at: Annotated[float | None, "Unix time it is deleted; null: never"]
    kind: Annotated[str, "capture or text (empty until read)"]
    packet_count: int
    flow_count: int
    options: SessionOptions
    progress: NotRequired[Progress]
    error: NotRequired[Annotated[ErrorDetail, "why it failed (status failed)"]]


@with_config(_STRICT)
class Created(SessionStatus):
    owner_token: Annotated[str, "send as X-Owner-Token to edit or delete; shown only now"]


class Edit(BaseModel):
    """What the owner may change: either field, or both."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=10_000)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses, all in the one error shape."""
    words = {
        400: "the request is malformed",
        403: "the owner token is missing or wrong",
        404: "no such session, connection or packet",
        408: "the upload did not arrive within TCPLADDER_BODY_TIMEOUT",
        409: "the session's analysis is still running",
        413: "the input is larger than a limit allows",
        415: "the body is neither a form nor a capture or text",
        422: "the input cannot be explained (where and why in the message)",
        429: "too many sessions created from this client; see Retry-After",
        503: "the database is unavailable; see Retry-After",
    }
    return {s: {"model": ErrorBody, "description": words[s]} for s in statuses}


_FIELDS: dict[str, dict[str, Any]] = {
    "title": {"type": "string", "maxLength": 200, "description": "a title for the session"},
    "expires_in": {
        "type": "integer",
        "minimum": 0,
        "description": "seconds until it is deleted; 0: never (within TCPLADDER_MAX_EXPIRY)",
    },
    "anonymise": {
        "type": "string",
        "enum": ["0", "1"],
        "description": "1: addresses replaced by prefix-preserving pseudonyms, no payloads",
    },
    "keep_input": {
        "type": "string",
        "enum": ["0", "1"],
        "description": "0: keep only the analysis, not the raw input",
    },
}

UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "a form (a capture as ``file`` or tcpdump text as ``text``), or the "
        "capture or text itself as the body (its options then in the query)",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "text": {"type": "string"},
                        **_FIELDS,
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in _FIELDS.items()
    ],
}


@with_config(_STRICT)
class StreamSide(TypedDict):
    size: Annotated[int, "bytes from the first to the last known, holes included"]
    captured: Annotated[int, "bytes present in the capture"]
    holes: Annotated[int, "gaps in the stream"]
    hole_bytes: int
    retransmitted: Annotated[int, "bytes carried again after their first copy (kept once)"]
    conflicts: Annotated[int, "of those, bytes whose later copy differed from the first"]
    conflict_packets: Annotated[list[int | None], "the packets that carried such copies"]
    clipped: Annotated[int, "bytes numbered before the stream's first (at the SYN)"]


@with_config(_STRICT)
class StreamBlock(TypedDict):
    direction: Literal["c2s", "s2c"]
    offset: Annotated[int, "where in that direction's stream (0: the byte after the SYN)"]
    size: int
    first_packet: Annotated[int | None, "packet number that first carried these bytes"]
    last_packet: int | None
    time: Annotated[float | None, "when the first packet was captured"]
    data: NotRequired[Annotated[str, "the bytes, base64"]]
    missing: NotRequired[
        Annotated[
            Literal["not captured", "cut"],
            "a hole: no segment carrying them was captured, or their segment was captured "
            "without them (snaplen, IP fragments)",
        ]
    ]


@with_config(_STRICT)
class StreamBody(TypedDict):
    """A connection's two byte streams, reassembled (Follow TCP Stream)."""

    flow: int
    directions: dict[Literal["c2s", "s2c"], StreamSide]
    unknown_segments: Annotated[int, "data segments whose bytes could not be read"]
    blocks: Annotated[
        list[StreamBlock], "both directions by time of arrival, each in sequence order"
    ]
