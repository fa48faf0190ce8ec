"""The field reference of docs/json.md, written from the shapes (``export.shapes``)."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin, get_type_hints

from app.decode.export import shapes

BEGIN = "<!-- field reference: written by scripts/json-docs from app/decode/export/shapes.py -->"
END = "<!-- end of field reference -->"


def _type_name(t: Any) -> str:
    origin = get_origin(t)
    if origin is typing.Annotated:
        return _type_name(get_args(t)[0])
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' for a in get_args(t))
    if origin in (types.UnionType, typing.Union):
        return " \\| ".join(_type_name(a) for a in get_args(t))
    if origin is list:
        return f"list of {_type_name(get_args(t)[0])}"
    if origin is dict:
        return f"object of {_type_name(get_args(t)[1])}"
    if t is type(None):
        return "null"
    if isinstance(t, type) and t.__name__ in {s.__name__ for s in shapes.SHAPES}:
        return f"[{t.__name__}](#{t.__name__.lower()})"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(t, str(t))


def _meaning(t: Any) -> str:
    if get_origin(t) is typing.Annotated:
        text = " ".join(str(m) for m in get_args(t)[1:] if isinstance(m, str))
        return text.replace("|", "\\|")
    return ""


def render() -> str:
    """The markdown between BEGIN and END."""
    out = [BEGIN, ""]
    for shape in shapes.SHAPES:
        hints = get_type_hints(shape, include_extras=True)
        optional: frozenset[str] = getattr(shape, "__optional_keys__", frozenset())
        out += [f"### {shape.__name__}", "", "| field | type | meaning |", "|---|---|---|"]
        for name, t in hints.items():
            flag = " (optional)" if name in optional else ""
            out.append(f"| `{name}`{flag} | {_type_name(t)} | {_meaning(t)} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def rewrite(doc: str) -> str:
    """``doc`` (docs/json.md) with its field reference replaced by the current one."""
    if BEGIN in doc:
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    else:
        head, tail = doc.rstrip() + "\n\n## Field reference\n\n", "\n"
    return head + render() + tail
