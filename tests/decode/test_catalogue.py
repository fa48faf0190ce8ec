from __future__ import annotations

import ast
from pathlib import Path

from app.decode.explain.catalogue import CATALOGUE

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


def _fields(text: str) -> dict[str, object]:
    from app.decode import analyse, read_input
    from app.decode.explain.fields import explain_packet

    a = analyse(read_input(text.encode()))
    flow = a.flows[0]
    out: dict[str, object] = {}
    for p, info in zip(flow.packets, flow.info, strict=True):
        out[p.letters] = {f.key: f for f in explain_packet(p, flow, info)}
    return out


SEED_001_LIKE = """\
10:00:00.000000 IP 127.0.0.1.52000 > 127.0.0.1.8080: Flags [S], seq 100, win 65535, options [mss 16344,nop,wscale 6,nop,nop,TS val 1 ecr 0,sackOK,eol], length 0
10:00:00.000100 IP 127.0.0.1.8080 > 127.0.0.1.52000: Flags [S.], seq 500, ack 101, win 65535, options [mss 16344,nop,wscale 6,nop,nop,TS val 2 ecr 1,sackOK,eol], length 0
10:00:00.000200 IP 127.0.0.1.52000 > 127.0.0.1.8080: Flags [.], ack 501, win 6379, length 0
10:00:00.000300 IP 127.0.0.1.52000 > 127.0.0.1.8080: Flags [R.], seq 101, ack 501, win 6379, length 0
"""


def test_seed_001_wscale_arithmetic_is_corrected() -> None:
    """Seed 001 reads `wscale 6` with `win 65535` as 64k*4; the SYN window is never scaled
    and shift 6 multiplies later windows by 2^6 = 64 (RFC 7323 §2.2-2.3)."""
    f = _fields(SEED_001_LIKE)
    ws = f["S"]["wscale"]  # type: ignore[index]
    assert "2^6 = 64" in ws.en and "×64" in ws.en and "64k" not in ws.en
    assert "×64" in ws.zh
    win = f["S"]["win"]  # type: ignore[index]
    assert "never scaled" in win.en and "65,535 bytes" in win.en
    later = f["."]["win"]  # type: ignore[index]
    assert "6,379 × 64 = 408,256" in later.en


def test_seed_003_ack_is_not_act() -> None:
    """Seed 003 calls the ACK flag "ACT"; the bit is ACK, printed "." by tcpdump (RFC 9293 §3.1)."""
    f = _fields(SEED_001_LIKE)
    flags = f["."]["flags"]  # type: ignore[index]
    assert "ACK" in flags.en and "not 'ACT'" in flags.en
    assert "不是“ACT”" in flags.zh


def test_seed_004_rst_is_not_fin() -> None:
    """Seed 004 says RST is the same as FIN; RST aborts, FIN closes one direction in order."""
    f = _fields(SEED_001_LIKE)
    rst = f["R."]["flags"]  # type: ignore[index]
    assert "Unlike FIN" in rst.en and "与 FIN 不同" in rst.zh
    fin_text = CATALOGUE["tcp.reset"]
    assert "never acknowledged" in fin_text.en


def test_every_finding_code_has_exactly_one_catalogue_entry() -> None:
    from app.decode.explain.catalogue import FRAME_CODES
    from app.decode.model.codes import Finding

    assert set(CATALOGUE) == {f.value for f in Finding} | FRAME_CODES
