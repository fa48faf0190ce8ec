from __future__ import annotations

import ast
from pathlib import Path

from app.decode.catalogue import CATALOGUE

DECODE = Path(__file__).resolve().parents[2] / "app" / "decode"
ISSUE_CODES = {
    "tcp.retransmission",
    "tcp.fast_retransmission",
    "tcp.spurious_retransmission",
    "tcp.duplicate_ack",
    "tcp.out_of_order",
    "tcp.lost_segment",
    "tcp.ack_unseen",
    "tcp.zero_window",
    "tcp.zero_window_probe",
    "tcp.window_full",
    "tcp.window_update",
    "tcp.keep_alive",
    "tcp.keep_alive_ack",
    "tcp.reset",
    "tcp.port_reuse",
    "tcp.checksum_offload",
    "tcp.bad_option",
}


def _emitted_codes() -> set[str]:
    codes: set[str] = set()
    for path in DECODE.glob("*.py"):
        if path.name == "catalogue.py" or path.name.startswith("wireshark"):  # tshark names
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and value.startswith("tcp.") and " " not in value:
                codes.add(value)
    return codes


def test_every_emitted_code_has_an_entry() -> None:
    assert _emitted_codes() <= set(CATALOGUE)


def test_catalogue_covers_the_documented_codes_completely() -> None:
    assert set(CATALOGUE) >= ISSUE_CODES
    for e in CATALOGUE.values():
        assert e.title_en and e.title_zh and e.en and e.zh
        assert e.rfc.startswith("RFC ")


def test_reset_is_explained_as_not_the_same_as_fin() -> None:
    e = CATALOGUE["tcp.reset"]
    assert "not the same as FIN" in e.en and "与 FIN 不同" in e.zh
