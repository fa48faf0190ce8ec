"""tcpladder against tshark, packet by packet, over our peers' test captures.

``../shared/corpus/peer/captures`` holds 79 captures from the test suites of Zeek, nDPI,
Scapy, suricata-verify and PcapPlusPlus (third-party data: read from where it lies, never
copied here).  The comparison is ``scripts/compare-tshark``'s; the bar is the issue's:
nothing crashes or comes out silently empty, at most 0.1% of tshark's TCP packets are
missing, every gated finding (ACKed-unseen and port reuse included) has F1 >= 0.95, and
every other difference is one ``docs/analysis.md`` lists as deliberate.  The fast subset
(our own fixtures) always runs; the corpus runs where it and tshark are present (CI).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.compare_tshark import below_the_bar, run
from benchmarks.tshark_agreement import (
    CUT_SHORT,
    DELIBERATE,
    INCOMPLETE_DATAGRAM,
    TSHARK_UNVERIFIED,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "captures"
PEER = Path(__file__).parents[3] / "shared" / "corpus" / "peer" / "captures"
HAS_TSHARK = shutil.which("tshark") is not None


def test_recorded_fixtures_agree_with_tshark() -> None:
    """The impaired recordings carry tshark's analysis beside them: no tshark needed."""
    total, problems, count = run(sorted((FIXTURES / "impaired").glob("*.pcap")))
    assert count >= 10
    assert below_the_bar(total, problems) == []
    assert total.missing == total.extra == 0 and not total.field_diffs


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_link_type_and_fragment_fixtures_agree_with_tshark() -> None:
    total, problems, _ = run([FIXTURES / "formats"])
    assert below_the_bar(total, problems) == []
    assert total.missing == total.extra == 0 and not total.field_diffs
    assert set(total.deliberate) <= {CUT_SHORT, INCOMPLETE_DATAGRAM, TSHARK_UNVERIFIED}


@pytest.mark.skipif(not PEER.is_dir(), reason="../shared/corpus/peer is not next to the repo")
@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_peer_corpus_agrees_with_tshark() -> None:
    total, problems, count = run([PEER])
    assert count == 79
    assert below_the_bar(total, problems) == [], total.scores
    assert problems.refused == [] and total.packets > 136_000
    assert total.missing <= total.packets // 1000 and total.extra == 0
    assert not total.field_diffs, total.diff_examples
    assert set(total.deliberate) <= set(DELIBERATE)
    assert (
        total.ack_rtt_equal >= total.ack_rtt_total - 5
        and total.dup_num_equal == total.dup_num_total
    )
    for code in ("tcp.ack_unseen", "tcp.port_reuse"):
        assert total.scores[code].f1 >= 0.95, (code, total.scores[code])
