"""Upkeep of the gettext catalogue (``app/locale/<locale>/LC_MESSAGES/messages.po``).

Babel extracts every message: in ``app/`` the calls ``tr``, ``ntr``, ``N_``, ``NN_``,
``gettext(lang, …)`` and ``ngettext(lang, …)`` (``app.decode.model.i18n``); in ``templates/``
``_``, ``gettext`` and ``ngettext`` (``jinja2.ext.i18n``, new style: ``%(name)s`` fields).

    python -m app.messages check    # list what lacks a translation; exit 1 if anything does
    python -m app.messages update   # add new messages (untranslated), drop the ones gone

``tests/test_messages.py`` runs ``check``: a message without its translation fails the tests.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from app import __version__
from app.decode.model.i18n import DOMAIN, LOCALES, catalogue_path, fields_of

ROOT = Path(__file__).resolve().parents[1]
PY_KEYWORDS = {
    "tr": None,
    "N_": None,
    "ntr": (1, 2),
    "NN_": (1, 2),
    "gettext": (2,),
    "ngettext": (2, 3),
}
SOURCES = (
    # (directory, method map, keywords)
    (ROOT / "app", [("**.py", "python")], PY_KEYWORDS),
    (ROOT / "templates", [("**.html", "jinja2")], DEFAULT_KEYWORDS),
)
HEADER = """\
# Chinese (Simplified) messages of tcpladder: `python -m app.messages update` adds new ones.
# Copyright (C) the tcpladder developers. GPL-2.0-or-later, like the rest of tcpladder.
#"""
_PERCENT = re.compile(r"%\((\w+)\)[sd]")


@dataclass(frozen=True, slots=True)
class Message:
    id: str | tuple[str, str]  # a plural message: (singular, plural)
    where: str  # file, relative to the repository
    template: bool  # from a template: %(name)s fields, else {name}


def extract() -> Iterator[Message]:
    for directory, methods, keywords in SOURCES:
        for filename, _line, message, _comments, _context in extract_from_dir(
            str(directory), methods, keywords=keywords
        ):
            mid = message if isinstance(message, str) else (message[0], message[1])
            where = str((directory / filename).relative_to(ROOT))
            yield Message(mid, where, directory.name == "templates")


def fields(text: str, template: bool) -> set[str]:
    return set(_PERCENT.findall(text)) if template else fields_of(text)


def read(lang: str) -> Catalog:
    with catalogue_path(lang).open("rb") as f:
        return read_po(f, locale=LOCALES[lang], domain=DOMAIN)


def _forms(string: object) -> list[str]:
    """A translation's forms (one, or one per plural), or none while any is empty."""
    forms = [string] if isinstance(string, str) else list(string or ())  # type: ignore[call-overload]
    return forms if forms and all(isinstance(f, str) and f for f in forms) else []


def problems(lang: str) -> list[str]:
    """What keeps the catalogue of ``lang`` from covering every message, correctly."""
    catalog = read(lang)
    out: list[str] = []
    seen: set[str] = set()
    for m in extract():
        key = m.id if isinstance(m.id, str) else m.id[0]
        if key in seen:
            continue
        seen.add(key)
        entry = catalog.get(key)
        forms = _forms(entry.string) if entry else []
        if entry is None or not forms or entry.fuzzy:
            out.append(f"{m.where}: no {lang} translation of {m.id!r}")
            continue
        want = fields(key, m.template) | (
            fields(m.id[1], m.template) if isinstance(m.id, tuple) else set()
        )
        for form in forms:
            extra = fields(form, m.template) - want
            if extra:
                out.append(f"{m.where}: the {lang} translation of {key!r} uses {sorted(extra)}")
    stale = [
        e.id for e in catalog if e.id and (e.id if isinstance(e.id, str) else e.id[0]) not in seen
    ]
    out += [f"{catalogue_path(lang).name}: {s!r} is no longer in the code" for s in stale]
    return out


def update(lang: str) -> int:
    """Bring the catalogue in line with the code: new messages untranslated, gone ones out.
    Returns how many messages lack a translation."""
    old = read(lang) if catalogue_path(lang).exists() else Catalog(locale=LOCALES[lang])
    new = Catalog(
        locale=LOCALES[lang],
        domain=DOMAIN,
        project="tcpladder",
        version=__version__,
        copyright_holder="the tcpladder developers",
        msgid_bugs_address="the tcpladder issue tracker",
        last_translator="the tcpladder developers",
        language_team="the tcpladder developers",
        header_comment=HEADER,
        creation_date=old.creation_date,  # (kept, so an update changes only what changed)
        revision_date=old.revision_date,
        fuzzy=False,
    )
    for m in extract():
        key = m.id if isinstance(m.id, str) else m.id[0]
        if key in new:
            continue
        before = old.get(key)
        blank: str | tuple[str, ...] = ("",) * new.num_plurals if isinstance(m.id, tuple) else ""
        new.add(m.id, before.string if before else blank)
    path = catalogue_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, new, width=100, omit_header=False, include_lineno=False)
    return sum(1 for e in new if e.id and not _forms(e.string))


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        for lang in LOCALES:
            left = update(lang)
            print(f"{catalogue_path(lang).relative_to(ROOT)}: {left} messages to translate")
        return 0
    found = [p for lang in LOCALES for p in problems(lang)]
    print("\n".join(found) or "every message has its translation")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
