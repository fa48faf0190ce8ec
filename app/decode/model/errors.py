"""The one error family every layer reports bad input with.

The web layer turns any ``TraceError`` into a readable 4xx page, htmx fragment or JSON
error; the CLI prints it and exits 2.  Nothing else about bad input should escape.
"""

from __future__ import annotations

from typing import Any


class TraceError(Exception):
    """Input that cannot be explained, with where and why."""

    status = 400
    code = "trace.invalid"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        offset: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.offset = offset
        self.hint = hint

    def where(self) -> str:
        if self.line is not None:
            return f"line {self.line}"
        if self.offset is not None:
            return f"byte {self.offset}"
        return ""

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    @classmethod
    def from_dict(cls, err: dict[str, Any], status: int | None = None) -> TraceError:
        """``as_dict`` undone (a failure stored with a session): the class with that code
        and status when there is one, else a TraceError carrying both."""
        code, status = str(err.get("code", cls.code)), status or int(err.get("status", 400))
        kinds, found = [TraceError], None
        while kinds:
            kind = kinds.pop()
            if kind.code == code and kind.status == status and found is None:
                found = kind
            kinds.extend(kind.__subclasses__())
        try:
            exc = (found or TraceError)(
                str(err.get("message", "")),
                line=err.get("line"),
                offset=err.get("offset"),
                hint=err.get("hint"),
            )
        except TypeError:  # a subclass with its own constructor
            exc = TraceError(str(err.get("message", "")), hint=err.get("hint"))
        exc.code, exc.status = code, status
        return exc

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        if self.offset is not None:
            out["offset"] = self.offset
        if self.hint:
            out["hint"] = self.hint
        return out


class EmptyInput(TraceError):
    code = "trace.empty"


class NoPackets(TraceError):
    code = "trace.no_packets"


class UnsupportedInput(TraceError):
    code = "trace.unsupported"


class Unreadable(TraceError):
    """Input that made the decoder fail in a way no rule foresaw: still the client's input
    and a 4xx, with where it broke; the server logs it with the input's hash."""

    status = 422
    code = "trace.unreadable"


class InputTooLarge(TraceError):
    status = 413
    code = "trace.too_large"


class NotFound(TraceError):
    status = 404
    code = "trace.not_found"


class Forbidden(TraceError):
    status = 403
    code = "trace.forbidden"
