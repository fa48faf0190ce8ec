"""The document's shapes (app/decode/export/shapes.py) are what the code writes: every
fixture's document validates against them, unknown and missing keys both fail; the field
reference in docs/json.md is written from them and current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from app.decode import analyse, read_input
from app.decode.export import shapes
from app.decode.export.reference import rewrite
from tests.conftest import CAPTURES, TEXT, to_json

ROOT = Path(__file__).resolve().parents[2]
INPUTS = sorted(
    [*TEXT.glob("*.txt"), *CAPTURES.glob("*.pcap"), *(CAPTURES / "impaired").glob("*.pcap")]
)
DOCUMENT = TypeAdapter(shapes.Document)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_documents_fit_the_shapes(path: Path) -> None:
    analysis = analyse(read_input(path.read_bytes()))
    DOCUMENT.validate_python(to_json(analysis))
    DOCUMENT.validate_python(to_json(analysis, summary=True))


def test_an_unknown_or_missing_key_does_not_fit() -> None:
    doc = to_json(analyse(read_input((CAPTURES / "http-like.pcap").read_bytes())))
    doc["flows"][0]["packets"][0]["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        DOCUMENT.validate_python(doc)
    del doc["flows"][0]["packets"][0]["surprise"]
    del doc["flows"][0]["sides"]["server"]["isn"]
    with pytest.raises(ValidationError, match="isn"):
        DOCUMENT.validate_python(doc)


def test_docs_field_reference_is_current() -> None:
    text = (ROOT / "docs" / "json.md").read_text()
    assert rewrite(text) == text, "run scripts/json-docs"


def test_shapes_name_every_finding_code() -> None:
    from app.decode.model.codes import FINDING_CODES

    doc = to_json(analyse(read_input((CAPTURES / "impaired" / "loss-rx.pcap").read_bytes())))
    seen = {c for f in doc["flows"] for p in f["packets"] for c in p["findings"]}
    assert seen <= set(FINDING_CODES)
    assert json.dumps(DOCUMENT.json_schema())  # a schema can be made of them


def test_summaries_block_by_block_equal_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.decode.export.document import Summaries

    ft = analyse(read_input((CAPTURES / "impaired" / "reset.pcap").read_bytes())).table
    whole = list(Summaries(ft))
    assert len(whole) == 2
    monkeypatch.setattr(Summaries, "BLOCK", 1)
    assert list(Summaries(ft)) == whole
    assert Summaries(ft).texts(1, 2) == whole[1:2]


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_packet_texts_from_columns_equal_the_object_path(path: Path) -> None:
    """The columnar packet serialiser writes the same bytes as ``packets_json``."""
    from app.decode.export.document import packet_texts, packets_json

    ft = analyse(read_input(path.read_bytes())).table
    for f in range(ft.count):
        lo, hi = int(ft.bounds[f]), int(ft.bounds[f + 1])
        objects = [
            json.dumps(p, ensure_ascii=False, separators=(",", ":"))
            for p in packets_json(ft.flow(f))
        ]
        assert packet_texts(ft.positions(lo, hi)) == objects


def test_negotiations_made_once_per_distinct_options_equal_each_alone(tmp_path: Path) -> None:
    """``negotiations_json`` (one text per distinct set of SYN options, by a packed key)
    equals ``negotiation_json`` of each connection, also where a value does not fit the key
    (then each is made alone)."""
    import numpy as np

    from app.decode.analysis.facts import connection_facts
    from app.decode.export.document import (
        negotiation_columns,
        negotiation_json,
        negotiations_json,
    )
    from benchmarks.gencap import generate

    busy = tmp_path / "busy.pcap"
    generate(str(busy), 3000, 60, 0, 7)
    for path in (busy, *sorted(CAPTURES.glob("*.pcap"))):
        ft = analyse(read_input(path.read_bytes())).table
        cols = negotiation_columns(ft, connection_facts(ft), 0, ft.count)
        alone = [negotiation_json(cols, i) for i in range(ft.count)]
        assert negotiations_json(cols) == alone
        cols["wscale"] = np.where(cols["wscale"] >= 0, 40, cols["wscale"])  # past the key
        assert negotiations_json(cols) == [negotiation_json(cols, i) for i in range(ft.count)]


def test_typeset_rows_keep_non_ascii_quotes_and_escapes_as_the_object_path() -> None:
    """Rows whose payload message or capture comments hold non-ASCII text, quotes,
    backslashes or control characters, and times or round trips that only Python can
    write (``repr`` with an exponent), come out as ``packets_json`` writes them."""

    from app.decode.analysis.flows import Flow, Side, row_objects
    from app.decode.export.document import packet_texts, packets_json

    ft = analyse(read_input((CAPTURES / "http-like.pcap").read_bytes())).table
    part = ft.positions(0, len(ft.order))
    n = len(part)
    apps = dict(part.apps)
    apps[0] = 'GET /é"\\ 中文\x01'
    part.apps = apps
    part.comments = {1: ['ünï "q"\n', "\t"], n - 1: ["x"]}
    part.cols["time"] = part.cols["time"].copy()
    part.cols["time"][2] = 1e-05
    part.cols["ack_rtt"] = part.cols["ack_rtt"].copy()
    part.cols["ack_rtt"][3] = 5e-08  # 5e-05 ms: below 1e-4, written by Python
    got = packet_texts(part)
    for i in range(n):
        p, info = row_objects(part, i)
        want = packets_json(Flow(0, Side(""), Side(""), [p], [info]))[0]
        assert got[i] == json.dumps(want, ensure_ascii=False, separators=(",", ":")), i
