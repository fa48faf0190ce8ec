"""The gettext catalogue covers every message: a message in the code or a template without
its Chinese translation (or with a field the English lacks) fails here."""

from __future__ import annotations

from app import messages
from app.decode.model.i18n import LOCALES, Text, ntr, tr


def test_every_message_has_its_translation() -> None:
    found = [p for lang in LOCALES for p in messages.problems(lang)]
    assert not found, "\n".join(found) + "\n(python -m app.messages update, then translate)"


def test_extraction_sees_code_and_templates() -> None:
    where = {m.where.split("/")[0] for m in messages.extract()}
    assert where == {"app", "templates"}
    ids = {m.id for m in messages.extract()}
    assert "Retransmission" in ids  # the findings catalogue (N_)
    assert "Export packets %(first)s–%(last)s" in ids  # a template (_)


def test_text_pairs_fill_each_side_with_its_own_language() -> None:
    who = tr("client")
    t = tr("[{letters}]: the {who} sends data.", letters="P.", who=who)
    assert t == Text("[P.]: the client sends data.", "[P.]：客户端发送数据。")
    one, many = (ntr("{count} segment", "{count} segments", k, count=k) for k in (1, 2))
    assert (one.en, many.en, many.zh) == ("1 segment", "2 segments", "2 个报文段")
