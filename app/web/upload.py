"""Read a submission (form field ``text`` or multipart ``file``, or a raw body) within the
size limit, into a spool file (memory up to 1 MiB, then disk): never held whole in memory.
The fields beside it (``expires_in``, ``anonymise``, ``keep_input``) come from the form or,
for a raw body, the query string."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from app.decode.model.errors import EmptyInput, InputTooLarge, TraceError
from app.decode.model.i18n import N_

# The title a session gets when its owner gives none (stored in English, shown translated).
PASTED, UPLOADED = N_("pasted text"), N_("uploaded capture")
DEFAULT_TITLES = frozenset({PASTED, UPLOADED})

CHUNK = 1 << 20


def _too_large(size: float, limit: int) -> InputTooLarge:
    return InputTooLarge(
        f"the input is {size / 1e6:.1f} MB; tcpladder accepts up to {limit / 1e6:.1f} MB "
        "(setting TCPLADDER_MAX_INPUT)",
        hint="Cut the paste down to the connection you care about, or filter the capture "
        "with tcpdump -r in.pcap -w out.pcap 'tcp port N'.",
    )


SPOOL = 1 << 20  # bytes of an upload kept in memory before it goes to a temporary file


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL)


@dataclass(frozen=True, slots=True)
class Submission:
    data: IO[bytes]  # at its start; the caller closes it
    title: str
    csrf: str | None = None  # the form's CSRF token field, when it came from a form
    fields: dict[str, str] = field(default_factory=dict)  # expires_in, anonymise, keep_input


FIELDS = ("expires_in", "anonymise", "keep_input")


BODY_TIMEOUT = 120.0  # seconds for a whole upload to arrive


class SlowUpload(TraceError):
    status = 408
    code = "trace.too_slow"


async def read_submission(
    request: Request, limit: int, timeout: float = BODY_TIMEOUT
) -> Submission:
    """The submission, read within ``timeout`` seconds and ``limit`` bytes: a client that
    trickles its body holds a connection that long at most, and no more is held in memory
    than the limit, declared length or not (chunked)."""
    try:
        return await asyncio.wait_for(_read_submission(request, limit), timeout)
    except TimeoutError as exc:
        raise SlowUpload(
            f"the upload did not arrive within {timeout:.0f} s (TCPLADDER_BODY_TIMEOUT)",
            hint="Try again on a faster connection, or send a smaller capture.",
        ) from exc


async def _read_submission(request: Request, limit: int) -> Submission:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise _too_large(int(declared), limit)
    ctype = request.headers.get("content-type", "")
    if not (ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form")):
        spool = await _spooled(
            request.stream(),
            limit,
            "the request has no body: send a form field 'text' or a file 'file'",
        )
        query = request.query_params
        fields = {k: query[k] for k in FIELDS if k in query}
        default = PASTED if ctype.startswith("text/") else UPLOADED
        return Submission(spool, query.get("title") or default, fields=fields)
    form = await _form(request, limit)
    try:
        data, title = await _from_form(form, limit)
        token = form.get("csrf")
        fields = {k: v for k in FIELDS if isinstance(v := form.get(k), str)}
        given = form.get("title")
        if isinstance(given, str) and given.strip():
            title = given.strip()[:200]
        return Submission(data, title, token if isinstance(token, str) else None, fields)
    finally:
        await form.close()


async def _form(request: Request, limit: int) -> FormData:
    """The request's form. A multipart body that ends inside a file part (the client gave
    up, or the body was cut) is refused as such: starlette returns the form without that
    part and leaves its spool file to the garbage collector, so it is closed here."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            return await request.form(max_files=1, max_fields=16, max_part_size=limit)
        except HTTPException as exc:
            if "maximum size" in str(exc.detail).lower():
                raise _too_large(limit + 1, limit) from exc
            raise TraceError(f"the form could not be read: {exc.detail}") from exc
    parser = MultiPartParser(
        request.headers, request.stream(), max_files=1, max_fields=16, max_part_size=limit
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if "maximum size" in exc.message.lower():
            raise _too_large(limit + 1, limit) from exc
        raise TraceError(f"the form could not be read: {exc.message}") from exc
    kept = {id(v.file) for v in form.values() if isinstance(v, UploadFile)}
    cut = [f for f in parser._files_to_close_on_error if id(f) not in kept]
    for f in cut:
        f.close()
    if cut:
        await form.close()
        raise TraceError(
            "the form ends inside its file part, before the closing boundary: the upload "
            "was cut short",
            hint="Send the file again.",
        )
    return form


async def _pieces(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


async def _spooled(parts: AsyncIterator[bytes], limit: int, empty: str) -> IO[bytes]:
    """``parts`` written to a spool file, at its start; past ``limit`` bytes a 413, with no
    bytes at all ``EmptyInput(empty)``."""
    spool = _spool()
    size = 0
    try:
        async for part in parts:
            size += len(part)
            if size > limit:
                raise _too_large(size, limit)
            spool.write(part)
        if not size:
            raise EmptyInput(empty)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


async def _from_form(form: FormData, limit: int) -> tuple[IO[bytes], str]:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        spool = await _spooled(
            _pieces(upload), limit, f"the file {upload.filename!r} is empty (0 bytes)"
        )
        return spool, upload.filename
    text = form.get("text")
    if isinstance(text, str) and text.strip():
        data = text.encode("utf-8")
        if len(data) > limit:
            raise _too_large(len(data), limit)
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), PASTED)
        spool = _spool()
        spool.write(data)
        spool.seek(0)
        return spool, first[:80]
    raise EmptyInput(
        "nothing to explain: the text box is empty and no file was chosen",
        hint="Paste tcpdump output, or choose a .pcap/.pcapng file.",
    )


class BadField(TraceError):
    status = 422
    code = "request.bad_field"


def expiry(fields: dict[str, str], default: int, maximum: int, now: float) -> float | None:
    """``expires_at`` from the field ``expires_in`` (seconds; ``0``: never), within the
    server's maximum (``TCPLADDER_MAX_EXPIRY``; ``0``: no maximum)."""
    raw = fields.get("expires_in", "").strip()
    try:
        seconds = int(raw) if raw else default
    except ValueError:
        raise BadField(f"expires_in must be a number of seconds, not {raw[:40]!r}") from None
    if seconds < 0 or seconds > 100 * 365 * 86400:
        raise BadField(f"expires_in {seconds} is out of range (0 for never, up to 100 years)")
    if maximum and (seconds == 0 or seconds > maximum):
        raise BadField(
            f"this server keeps sessions at most {maximum:,} seconds (TCPLADDER_MAX_EXPIRY); "
            f"expires_in {seconds} asks for {'ever' if seconds == 0 else 'longer'}"
        )
    return None if seconds == 0 else now + seconds


def flag(fields: dict[str, str], name: str, default: bool) -> bool:
    raw = fields.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise BadField(f"{name} must be 1 or 0, not {raw[:40]!r}")
