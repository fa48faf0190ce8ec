"""Two languages through one gettext catalogue.

The source text is English.  Simplified Chinese comes from the gettext catalogue
``app/locale/zh_Hans/LC_MESSAGES/messages.po``, read once with Babel.  Messages are
``str.format`` templates with named fields, so a translation may put them in its own order.

The core explains every packet in both languages at once (the JSON carries ``en`` and ``zh``
side by side), so it builds :class:`Text` pairs: ``tr("the {who} sends data.", who=role)``
formats the English template and its translation, each with the matching side of any field
that is itself a :class:`Text`.  Pages ask for one language with :func:`gettext`.

``scripts/messages`` extracts every message (``tr``, ``ntr``, ``N_``, ``NN_``, ``gettext``,
``ngettext``, and ``_`` in templates) into the catalogue; ``tests/test_messages.py`` fails
when one lacks its translation.
"""

from __future__ import annotations

import gettext as _gettext
import io
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

LANGS = ("en", "zh")
LOCALES = {"zh": "zh_Hans"}  # our language code → the catalogue's locale
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _catalogue(lang: str) -> Catalog:
    """The language's catalogue, read once per process (about 30 ms with Babel)."""
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as f:
        return read_po(f, locale=LOCALES[lang], domain=DOMAIN)


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The language's translations; English (the source text) needs none."""
    if lang not in LOCALES:
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo

    buf = io.BytesIO()
    write_mo(buf, _catalogue(lang))
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def gettext(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    return translations(lang).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for the catalogue where it is defined; translate it where it is used."""
    return message


@dataclass(slots=True)
class Text:
    """The same text in English and in Chinese."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __add__(self, other: Text | str) -> Text:
        if isinstance(other, str):
            return Text(self.en + other, self.zh + other)
        return Text(self.en + other.en, self.zh + other.zh)

    def join(self, parts: Iterable[Text]) -> Text:
        """``parts`` joined with this text between them (``tr("; ").join(...)``)."""
        items = list(parts)
        return Text(self.en.join(p.en for p in items), self.zh.join(p.zh for p in items))

    @staticmethod
    def same(text: str) -> Text:
        """Text that reads the same in both languages (a number, a name, a protocol token)."""
        return Text(text, text)


EMPTY = Text("", "")


@cache
def _zh() -> dict[str, str]:
    """Chinese by English message, for ``tr``: the core formats hundreds of thousands of
    them for a large capture, so the lookup is one dict access."""
    return {
        m.id: m.string
        for m in _catalogue("zh")
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
    }


def _both(en: str, zh: str, fields: dict[str, object]) -> Text:
    """The two templates, each filled with its own side of the fields that are Text."""
    if not fields:
        return Text(en, zh)
    en_fields = zh_fields = fields
    for k, v in fields.items():
        if type(v) is Text:
            if en_fields is fields:
                en_fields, zh_fields = dict(fields), dict(fields)
            en_fields[k], zh_fields[k] = v.en, v.zh
    return Text(en.format_map(en_fields), zh.format_map(zh_fields))


def tr(message: str, /, **fields: object) -> Text:
    """``message`` and its translation, each formatted with ``fields``."""
    return _both(message, _zh().get(message) or message, fields)


def ntr(singular: str, plural: str, n: int, /, **fields: object) -> Text:
    """The plural form for ``n`` in each language."""
    one, other = _plural_forms(singular, plural)
    en, zh = one if n == 1 else other
    return _both(en, zh, fields)


@cache
def _plural_forms(singular: str, plural: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """A message's (English, Chinese) for n = 1 and for any other n: English has those two
    forms, and Chinese one (its catalogue's ``plural=0``)."""
    return (
        (ngettext("en", singular, plural, 1), ngettext("zh", singular, plural, 1)),
        (ngettext("en", singular, plural, 2), ngettext("zh", singular, plural, 2)),
    )


def sentences(parts: Iterable[Text]) -> Text:
    """Sentences one after another: English puts a space between them, Chinese (whose full
    stop is a full-width character) none."""
    items = list(parts)
    return Text(" ".join(p.en for p in items), "".join(p.zh for p in items))


def fields_of(template: str) -> set[str]:
    """The named fields a template uses (the catalogue test compares a message's and its
    translation's)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# Many rows at once: ``tr_rows`` and ``ntr_rows`` give what ``tr`` and ``ntr`` give for each
# of ``count`` rows, as two lists (English, Chinese), each template turned once into a ``%``
# template (a third of ``str.format``'s cost a row, and no ``Text`` a row).  A field is a
# list of texts (one a row, the same in both languages), a ``Rows`` pair (one a row in each),
# or one ``str`` or ``Text`` for every row.
Rows = tuple[list[str], list[str]]
Field = list[str] | Rows | str | Text


def NN_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a plural message for the catalogue where it is defined (``ntr(*message, n)``)."""
    return singular, plural


def tr_rows(message: str, count: int, /, **fields: Field) -> Rows:
    """``tr(message, **fields)`` of each of ``count`` rows."""
    zh = _zh().get(message) or message
    return _filled(message, count, fields, 0), _filled(zh, count, fields, 1)


def ntr_rows(singular: str, plural: str, ns: list[int], /, **fields: Field) -> Rows:
    """``ntr(singular, plural, n, **fields)`` of each row's ``n``."""
    one, other = _plural_forms(singular, plural)
    count = len(ns)
    langs = []
    for lang in (0, 1):
        if one[lang] == other[lang]:
            langs.append(_filled(one[lang], count, fields, lang))
            continue
        ones = [_filled(one[lang], count, fields, lang), _filled(other[lang], count, fields, lang)]
        langs.append([ones[n != 1][i] for i, n in enumerate(ns)])
    return langs[0], langs[1]


def _filled(template: str, count: int, fields: dict[str, Field], lang: int) -> list[str]:
    percent, names = _percent(template)
    sides = [_side(fields[name], lang) for name in names]
    if all(isinstance(x, str) for x in sides):
        return [percent % tuple(sides)] * count
    columns = [x if isinstance(x, list) else [x] * count for x in sides]
    return [percent % values for values in zip(*columns, strict=True)]


def _side(value: Field, lang: int) -> list[str] | str:
    """A field's texts in one language: one a row, or one for every row."""
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return value[lang]
    if isinstance(value, Text):
        return value.zh if lang else value.en
    return value


@cache
def _percent(template: str) -> tuple[str, tuple[str, ...]]:
    """A ``str.format`` template of named fields as a ``%`` template, and its fields in
    order."""
    out, names = [], []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        out.append(literal.replace("%", "%%"))
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"{template!r}: only plain named fields take rows")
        out.append("%s")
        names.append(name)
    return "".join(out), tuple(names)
