"""Read a submission (form field ``text`` or multipart ``file``) within the size limit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from app.decode.model.errors import EmptyInput, InputTooLarge, TraceError

CHUNK = 1 << 20


def _too_large(size: float, limit: int) -> InputTooLarge:
    return InputTooLarge(
        f"the input is {size / 1e6:.1f} MB; tcpladder accepts up to {limit / 1e6:.1f} MB "
        "(setting TCPLADDER_MAX_INPUT)",
        hint="Cut the paste down to the connection you care about, or filter the capture "
        "with tcpdump -r in.pcap -w out.pcap 'tcp port N'.",
    )


@dataclass(frozen=True, slots=True)
class Submission:
    data: bytes
    title: str
    csrf: str | None = None  # the form's CSRF token field, when it came from a form


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
        parts: list[bytes] = []
        size = 0
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise _too_large(size, limit)
            parts.append(part)
        body = b"".join(parts)
        if not body:
            raise EmptyInput("the request has no body: send a form field 'text' or a file 'file'")
        return Submission(body, "pasted text")
    try:
        form = await request.form(max_files=1, max_fields=16, max_part_size=limit)
    except HTTPException as exc:
        if "maximum size" in str(exc.detail).lower():
            raise _too_large(limit + 1, limit) from exc
        raise TraceError(f"the form could not be read: {exc.detail}") from exc
    try:
        data, title = await _from_form(form, limit)
        token = form.get("csrf")
        return Submission(data, title, token if isinstance(token, str) else None)
    finally:
        await form.close()


async def _from_form(form: FormData, limit: int) -> tuple[bytes, str]:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        chunks: list[bytes] = []
        size = 0
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
        data = b"".join(chunks)
        if not data:
            raise EmptyInput(f"the file {upload.filename!r} is empty (0 bytes)")
        return data, upload.filename
    text = form.get("text")
    if isinstance(text, str) and text.strip():
        data = text.encode("utf-8")
        if len(data) > limit:
            raise _too_large(len(data), limit)
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "pasted text")
        return data, first[:80]
    raise EmptyInput(
        "nothing to explain: the text box is empty and no file was chosen",
        hint="Paste tcpdump output, or choose a .pcap/.pcapng file.",
    )
