"""The exports in a real Chromium: each link on a connection's page downloads, and what
comes down is checked — the SVG parses and the browser draws it, the PNG decodes, Mermaid
renders the same arrows (Mermaid itself, from npm, in the browser), PlantUML lists them,
and tshark reads the capture file back."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import upload
from tests.conftest import load

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
MERMAID = next(iter(sorted((ROOT / ".cache" / "npm").glob("mermaid@*/mermaid.min.js"))), None)


def _downloads(server: str, browser: Any, sid: str, tmp_path: Path) -> dict[str, Path]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{server}/s/{sid}/f/1")
    got: dict[str, Path] = {}
    for name in ("SVG", "PNG", "Mermaid", "PlantUML", "pcap"):
        with page.expect_download() as d:
            page.locator(".exports").get_by_role("link", name=name, exact=True).click()
        path = tmp_path / d.value.suggested_filename
        d.value.save_as(path)
        got[name] = path
    ctx.close()
    return got


def test_each_export_downloads_and_holds_the_connection(
    server: str, browser: Any, tmp_path: Path
) -> None:
    sid = upload(server, load("http-like.pcap"))
    with urllib.request.urlopen(f"{server}/api/sessions/{sid}") as r:
        packets = json.loads(r.read())["flows"][0]["packets"]
    got = _downloads(server, browser, sid, tmp_path)
    assert got["SVG"].name == f"tcpladder-{sid}-1.svg"
    root = ET.parse(got["SVG"]).getroot()
    ids = [g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id")]
    assert ids == [f"p{p['n']}" for p in packets]
    png = got["PNG"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") >= 960
    mmd = got["Mermaid"].read_text()
    arrows = [line.strip() for line in mmd.splitlines() if "->>" in line]
    assert [a.split()[1] for a in arrows] == [f"#35;{p['n']}" for p in packets]
    assert [a.startswith("C->>S") for a in arrows] == [p["direction"] == "c2s" for p in packets]
    puml = got["PlantUML"].read_text()
    assert sum(1 for line in puml.splitlines() if " -> " in line) == len(packets)
    if shutil.which("tshark"):
        out = subprocess.run(
            ["tshark", "-r", str(got["pcap"]), "-T", "fields", "-e", "tcp.seq_raw"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert [int(s) for s in out] == [p["seq"] for p in packets]


def test_the_svg_is_drawn_by_the_browser(server: str, browser: Any, tmp_path: Path) -> None:
    sid = upload(server, load("http-like.pcap"))
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(f"{server}/s/{sid}/f/1/ladder.svg")
    arrows = page.locator("g.pkt line.shaft")
    assert arrows.count() == 10
    box = arrows.first.bounding_box()
    assert box is not None and box["width"] > 500  # styled and laid out, not collapsed
    colour = arrows.first.evaluate("e => getComputedStyle(e).stroke")
    assert colour == "rgb(29, 78, 216)"  # its own <style> applied under its CSP
    page.screenshot(path=str(tmp_path / "ladder-svg.png"))
    page.close()


@pytest.mark.skipif(MERMAID is None, reason="Mermaid not fetched (scripts/test fetches it)")
def test_mermaid_renders_the_same_arrows(server: str, browser: Any) -> None:
    sid = upload(server, load("http-like.pcap"))
    with urllib.request.urlopen(f"{server}/s/{sid}/f/1/ladder.mmd") as r:
        text = r.read().decode()
    page = browser.new_page()
    page.set_content("<!doctype html><html><body><div id=out></div></body></html>")
    assert MERMAID is not None
    page.add_script_tag(path=str(MERMAID))
    svg = page.evaluate(
        """async (text) => {
            mermaid.initialize({startOnLoad: false});
            const {svg} = await mermaid.render("ladder", text);
            document.getElementById("out").innerHTML = svg;
            return svg;
        }""",
        text,
    )
    assert "Syntax error" not in svg
    messages = page.locator("#out .messageText").all_text_contents()
    assert len(messages) == 10
    assert messages[0].startswith("#1 +0.000000 · [S] seq 0 win 65495")
    assert messages[3].endswith("GET / HTTP/1.0")
    notes = page.locator("#out .noteText").all_text_contents()
    assert notes == ["Three-way handshake", "Data transfer", "Connection teardown"]
    page.close()
