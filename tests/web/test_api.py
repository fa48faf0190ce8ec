from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.cli import main as cli_main
from tests.conftest import FIXTURES, TEXT, load

ROOT = Path(__file__).resolve().parents[2]


def csrf(client: TestClient) -> str:
    """The CSRF token the home page gives this client (its cookie is kept by the client)."""
    page = client.get("/").text
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m is not None
    return m.group(1)


def _create(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/api/sessions", data={"text": load(name).decode()})
    assert r.status_code == 201, r.text
    out: dict[str, str] = r.json()
    return out


def test_create_read_same_json_as_cli(client: TestClient, capsys) -> None:  # type: ignore[no-untyped-def]
    body = _create(client, "seed001_pktap_long_flags.txt")
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", body["id"])
    assert body["url"].endswith(f"/s/{body['id']}")
    api = client.get(f"/api/sessions/{body['id']}").json()
    assert cli_main(["explain", str(TEXT / "seed001_pktap_long_flags.txt"), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert api == cli
    (flow,) = api["flows"]
    p = flow["packets"][2]
    assert p["flags"] == "." and p["seq"] == 860356045 and p["rel_ack"] == 1
    assert p["options"]["ts_val"] == 1113971093 and p["eff_win"] == 408256


def test_multipart_file_upload_of_a_capture(client: TestClient) -> None:
    r = client.post("/api/sessions", files={"file": ("http.pcap", load("http-like.pcap"))})
    assert r.status_code == 201
    j = client.get(f"/api/sessions/{r.json()['id']}").json()
    assert j["source"]["kind"] == "pcap" and j["flows"][0]["ended_by"] == "three_way_close"


def test_session_page_has_ladder_tooltips_and_comments(client: TestClient) -> None:
    sid = _create(client, "seed001_pktap_long_flags.txt")["id"]
    html = client.get(f"/s/{sid}").text
    assert html.count('class="row pkt') == 10
    assert "6,379 × 64 = 408,256 bytes" in html
    assert "握手开始" in html and "Three-way handshake" in html
    assert 'role="tooltip"' in html
    zh = client.get(f"/s/{sid}?lang=zh").text
    assert "6,379 × 64 = 408,256 字节" in zh


def test_htmx_gets_a_fragment_and_vary(client: TestClient) -> None:
    sid = _create(client, "seed000_ipv6_vvv.txt")["id"]
    full = client.get(f"/s/{sid}/f/1")
    part = client.get(f"/s/{sid}/f/1", headers={"HX-Request": "true"})
    assert "<html" in full.text and "<html" not in part.text
    assert 'class="ladder"' in part.text
    assert "HX-Request" in part.headers["vary"]


def test_form_post_redirects_and_owner_can_delete(client: TestClient) -> None:
    token = csrf(client)
    r = client.post(
        "/sessions",
        files={"text": (None, load("seed003_quoted_relative.txt")), "csrf": (None, token)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    sid = url.rsplit("/", 1)[1]
    page = client.get(url).text
    assert "Delete session" in page
    other = TestClient(client.app)
    other_token = csrf(other)
    r = other.post(f"/s/{sid}/delete", data={"csrf": other_token}, follow_redirects=False)
    assert r.status_code == 403  # not the owner
    assert client.post(f"/s/{sid}/delete", follow_redirects=False).status_code == 403  # no token
    r = client.post(f"/s/{sid}/delete", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(url).status_code == 404


def test_api_delete_needs_owner_token(client: TestClient) -> None:
    body = _create(client, "seed001_pktap_long_flags.txt")
    anon = TestClient(client.app)
    assert anon.delete(f"/api/sessions/{body['id']}").status_code == 403
    r = anon.delete(f"/api/sessions/{body['id']}", headers={"X-Owner-Token": body["owner_token"]})
    assert r.status_code == 204


def test_errors_are_clear_4xx(client: TestClient) -> None:
    r = client.post("/api/sessions", data={"text": "   "})
    assert r.status_code == 400 and r.json()["error"]["code"] == "trace.empty"
    r = client.post("/api/sessions", files={"file": ("x.bin", bytes(range(256)) * 10)})
    assert r.status_code == 400 and "binary" in r.json()["error"]["message"]
    assert r.json()["error"]["offset"] == 0
    r = client.post("/api/sessions", data={"text": "no packets here\n"})
    assert r.status_code == 400 and "Flags [S]" in r.json()["error"]["hint"]
    r = client.get("/api/sessions/doesnotexist")
    assert r.status_code == 404
    page = client.get("/s/doesnotexist")
    assert page.status_code == 404 and "<html" in page.text
    frag = client.post("/sessions", data={"text": ""}, headers={"HX-Request": "true"})
    assert frag.status_code == 400 and 'role="alert"' in frag.text and "<html" not in frag.text


def test_big_input_is_refused_without_reading_it_all(client: TestClient) -> None:
    line = b"12:00:00.000001 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n"
    big = line * (50 * 1024 * 1024 // len(line))
    r = client.post("/api/sessions", files={"file": ("big.txt", big)})
    assert r.status_code == 413
    assert "MB" in r.json()["error"]["message"]
    r = client.post("/api/sessions", data={"text": big.decode()})
    assert r.status_code == 413


def test_no_page_loads_from_another_origin(client: TestClient) -> None:
    sid = _create(client, "seed001_pktap_long_flags.txt")["id"]
    pattern = re.compile(r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//""", re.I)
    for path in ("/", f"/s/{sid}", f"/s/{sid}/f/1", "/?example=1"):
        assert not pattern.search(client.get(path).text), path
    for f in [*list((ROOT / "templates").glob("*.html")), ROOT / "static" / "style.css"]:
        assert not pattern.search(f.read_text()), f
        assert "@import" not in f.read_text()
    assert client.get("/static/htmx.min.js").status_code == 200


def test_example_page_prefills_the_form(client: TestClient) -> None:
    assert "Flags [SYN.ACK]" in client.get("/?example=1").text


def test_packet_detail_dissects_the_stored_capture(client: TestClient) -> None:
    gz = gzip.compress(load("http-like.pcap"))
    r = client.post("/api/sessions", files={"file": ("http.pcap.gz", gz)})
    sid = r.json()["id"]
    d = client.get(f"/api/sessions/{sid}/packets/4").json()
    assert [la["name"] for la in d["layers"]] == ["Ethernet", "IP", "TCP", "Raw"]
    assert d["layers"][2]["fields"]["flags"] == "PA"
    assert d["payload"]["protocol"] == "HTTP" and d["payload"]["summary"] == "GET / HTTP/1.0"
    assert d["hex"][0].startswith("0000 ")
    page = client.get(f"/s/{sid}/p/4")
    assert page.status_code == 200 and "GET / HTTP/1.0" in page.text and "<html" in page.text
    part = client.get(f"/s/{sid}/p/4", headers={"HX-Request": "true"})
    assert "<html" not in part.text and "Ethernet" in part.text
    ladder = client.get(f"/s/{sid}").text
    assert f'hx-get="/s/{sid}/p/4"' in ladder
    missing = client.get(f"/api/sessions/{sid}/packets/99")
    assert missing.status_code == 404 and "no packet 99" in missing.json()["error"]["message"]


def test_packet_detail_of_pasted_text(client: TestClient) -> None:
    sid = _create(client, "http-like.XX-nn.txt")["id"]
    d = client.get(f"/api/sessions/{sid}/packets/4").json()
    assert d["payload"]["protocol"] == "HTTP"
    plain = _create(client, "http-like.nn.txt")["id"]
    d = client.get(f"/api/sessions/{plain}/packets/4").json()
    assert d["layers"] == [] and "hex dump" in d["note"]


def test_capture_errors_carry_the_byte_offset(client: TestClient) -> None:
    data = load("http-like.pcap")
    bad = data[:20] + (147).to_bytes(4, "little") + data[24:]
    r = client.post("/api/sessions", files={"file": ("x.pcap", bad)})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "trace.unsupported" and err["offset"] == 20
    assert "link type 147" in err["message"]


def test_flow_page_explains_the_connection(client: TestClient) -> None:
    pcap = (ROOT / "tests/fixtures/captures/impaired/loss.pcap").read_bytes()
    r = client.post("/api/sessions", files={"file": ("loss.pcap", pcap)})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    j = client.get(f"/api/sessions/{sid}").json()
    flow = j["flows"][0]
    assert flow["state"] == "SF" and flow["narrative"]["en"] and flow["negotiation"]
    page = client.get(f"/s/{sid}/f/1").text
    assert "Zeek conn_state SF" in page and flow["history"] in page
    assert "fast retransmission" in page  # narrative
    assert "Window scaling is on" in page  # negotiation
    assert "Dup ACK" in page or "Duplicate ACK #" in page
    zh = client.get(f"/s/{sid}/f/1?lang=zh").text
    assert "快速重传" in zh


def test_window_api_and_openapi_shapes(client: TestClient) -> None:
    sid = _create(client, "seed004_glued_memcache.txt")["id"]
    flow = client.get(f"/api/sessions/{sid}/flows/1").json()
    assert flow["id"] == 1 and "negotiation" in flow and "packets" not in flow
    win = client.get(f"/api/sessions/{sid}/flows/1/packets?from=1&count=2").json()
    assert win["from"] == 1 and win["count"] == len(win["packets"]) <= 2
    assert win["total"] == flow["packet_count"]
    whole = client.get(f"/api/sessions/{sid}").json()
    assert whole["flows"][0]["packets"][1:3] == win["packets"]
    summary = client.get(f"/api/sessions/{sid}?summary=true").json()
    assert "packets" not in summary["flows"][0]
    assert client.get(f"/api/sessions/{sid}/flows/99").status_code == 404
    assert client.get(f"/api/sessions/{sid}/flows/1/packets?count=-1").status_code == 400
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert {"PacketWindow", "Packet", "Document", "Source"} <= set(schema)


def test_fragments_and_malformed_headers_through_the_web(
    client: TestClient, tmp_path: Path
) -> None:
    """A reassembled segment, an incomplete datagram and a malformed header: stored, shown
    on every page, explained in the packet detail."""
    data = (FIXTURES / "captures" / "formats" / "ip-variants.pcap").read_bytes()
    sid = client.post("/api/sessions", files={"file": ("f.pcap", data)}).json()["id"]
    doc = client.get(f"/api/sessions/{sid}").json()
    packets = [p for f in doc["flows"] for p in f["packets"]]
    incomplete = [p for p in packets if "ip.reassembly_incomplete" in p["findings"]]
    assert [(p["frame"], p["len"], p["truncated"]) for p in incomplete] == [(7, None, True)]
    assert any(o["text"].endswith("reassembled in frame 3") for o in doc["source"]["other_packets"])
    for n in range(1, len(doc["flows"]) + 1):
        assert client.get(f"/s/{sid}/f/{n}").status_code == 200
    assert "Incomplete IP datagram" in client.get(f"/s/{sid}").text

    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    bad = [
        Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=1, dport=2, flags="S"),
        Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=1, dport=2, dataofs=3),
    ]
    path = tmp_path / "malformed.pcap"
    wrpcap(str(path), bad)
    data = path.read_bytes()
    sid = client.post("/api/sessions", files={"file": ("m.pcap", data)}).json()["id"]
    flow = client.get(f"/api/sessions/{sid}").json()["flows"][0]
    assert flow["packets"][1]["findings"] == ["tcp.malformed"]
    detail = client.get(f"/api/sessions/{sid}/packets/2").json()
    assert "below the 20-byte minimum" in detail["note"]
    assert "Malformed TCP header" in client.get(f"/s/{sid}").text


def test_healthz_and_noindex(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "sqlite" and body["version"]
    sid = _create(client, "seed001_pktap_long_flags.txt")["id"]
    page = client.get(f"/s/{sid}")
    assert '<meta name="robots" content="noindex">' in page.text
    assert page.headers["X-Robots-Tag"] == "noindex"
    assert "noindex" not in client.get("/").text


def test_a_multipart_upload_cut_short_says_so(client: TestClient) -> None:
    """starlette hands back the form without a file part that never ended; the endpoint
    says the upload was cut, not that no file was chosen, and closes the part's spool."""
    head = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="x.pcap"\r\n\r\n'
        + load("http-like.pcap")[:500]
    )
    r = client.post(
        "/api/sessions", content=head, headers={"Content-Type": "multipart/form-data; boundary=B"}
    )
    assert r.status_code == 400 and "cut short" in r.json()["error"]["message"]
    whole = head + b"\r\n--B--\r\n"
    r = client.post(
        "/api/sessions", content=whole, headers={"Content-Type": "multipart/form-data; boundary=B"}
    )
    assert r.status_code == 201  # complete now (the capture's last record, cut, is reported)
