from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.decode.model.errors import Forbidden, NoPackets, NotFound
from app.store import Store, default_url
from tests.conftest import load, reaped


def test_round_trip_survives_a_new_store_on_the_same_sqlite_file(tmp_path: Path) -> None:
    url = default_url(tmp_path / "data")
    store = Store(url)
    rec = store.create(load("seed001_pktap_long_flags.txt"), title="t", owner_token="owner")
    store.close()
    assert (tmp_path / "data" / "tcpladder.sqlite3").exists()
    again = Store(url)
    got = again.get(rec.id)
    assert got == rec and got.packet_count == 10 and got.flow_count == 1
    assert len(again.flows(rec.id)) == 1
    assert len(again.window(rec.id, 1, 0, 100).packets) == 10
    again.close()


def test_ids_are_random_and_at_least_128_bits(tmp_path: Path) -> None:
    store = Store(default_url(tmp_path))
    ids = {
        store.create(load("seed001_pktap_long_flags.txt"), title="t", owner_token="o").id
        for _ in range(5)
    }
    assert len(ids) == 5
    for sid in ids:
        assert len(sid) >= 22  # base64url: 6 bits a character → ≥ 132 bits
    store.close()


def test_only_the_owner_deletes(tmp_path: Path) -> None:
    store = Store(default_url(tmp_path))
    rec = store.create(load("seed001_pktap_long_flags.txt"), title="t", owner_token="me")
    with pytest.raises(Forbidden):
        store.delete(rec.id, "someone-else")
    with pytest.raises(Forbidden):
        store.delete(rec.id, None)
    store.delete(rec.id, "me")
    with pytest.raises(NotFound):
        store.get(rec.id)
    store.close()


def test_bad_input_stores_nothing(tmp_path: Path) -> None:
    store = Store(default_url(tmp_path))
    with pytest.raises(NoPackets):
        store.create(b"hello\n", title="t", owner_token="o")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from sessions").scalar() == 0
    store.close()


def _cli_json(path: Path, *, summary: bool = False) -> str:
    import contextlib
    import io

    from app.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["explain", str(path), "--json", *(["--summary"] if summary else [])])
    return out.getvalue().strip()


@pytest.mark.parametrize(
    "name",
    ["seed001_pktap_long_flags.txt", "seed004_glued_memcache.txt", "http-like.pcap"],
)
def test_stored_json_is_the_cli_json(tmp_path: Path, name: str) -> None:
    """What a session serves is byte for byte what ``tcpladder explain --json`` prints."""
    from tests.conftest import CAPTURES, TEXT

    path = TEXT / name if (TEXT / name).exists() else CAPTURES / name
    store = Store(default_url(tmp_path))
    rec = store.create(path.read_bytes(), title="t", owner_token="o")
    assert "".join(store.stream_json(rec.id)) == _cli_json(path)
    assert "".join(store.stream_json(rec.id, summary=True)) == _cli_json(path, summary=True)
    store.close()


def test_windows_read_only_their_chunks_and_match_the_whole(tmp_path: Path) -> None:
    """Small chunks force windows across chunk edges; every window equals the same slice
    of the whole connection's packets."""
    import app.store.columns as columns

    old = columns.PACKET_CHUNK, columns.FLOW_CHUNK
    columns.PACKET_CHUNK, columns.FLOW_CHUNK = 7, 2
    try:
        store = Store(default_url(tmp_path))
        data = load("http-like.pcap")
        rec = store.create(data, title="t", owner_token="o")
        whole = [store.packets(rec.id, f, 0, 10_000) for f in range(1, rec.flow_count + 1)]
        for f, packets in enumerate(whole, 1):
            for a in range(0, len(packets), 5):
                assert store.packets(rec.id, f, a, 9) == packets[a : a + 9]
        assert [s["id"] for s in store.flows(rec.id, 1, 3)] == [2, 3, 4][: rec.flow_count - 1]
        detail = store.detail(rec.id, 3)
        assert detail.layers
        store.close()
    finally:
        columns.PACKET_CHUNK, columns.FLOW_CHUNK = old


def test_sessions_stored_as_one_document_still_open(tmp_path: Path) -> None:
    """schema_version 1 (the analysis as one zlib'd JSON document): opened, migrated to
    chunks, and served the same as a new session."""
    import time
    import zlib

    from sqlalchemy import insert

    from app.store.records import hash_token
    from app.store.schema import sessions

    store = Store(default_url(tmp_path))
    data = load("seed001_pktap_long_flags.txt")
    with store.engine.begin() as conn:
        conn.execute(
            insert(sessions).values(
                id="old-session-id-0123456789",
                created_at=time.time(),
                owner_hash=hash_token("o"),
                title="old",
                kind="text",
                packet_count=10,
                flow_count=1,
                input=zlib.compress(data),
                result=zlib.compress(b'{"source": {}, "flows": []}'),
                schema_version=1,
            )
        )
    fresh = store.create(data, title="new", owner_token="o")
    old = "".join(store.stream_json("old-session-id-0123456789"))
    assert old == "".join(store.stream_json(fresh.id))
    with store.engine.connect() as conn:
        version = conn.exec_driver_sql(
            "select schema_version, length(result) from sessions where title = 'old'"
        ).one()
    assert tuple(version) == (2, 0)
    store.close()


def test_flow_chunks_stored_with_their_texts_still_open(tmp_path: Path) -> None:
    """Sessions stored before flow chunks held only columns keep each connection's summary
    as texts cut around the narrative, in the chunk's JSON header.  They read the same:
    every page, the streamed JSON, one connection, a window of it."""
    from sqlalchemy import update

    from app.decode.export.document import EndpointTexts
    from app.store.columns import pack, summary_halves, unpack
    from app.store.schema import chunk_table

    store = Store(default_url(tmp_path))
    rec = store.create(load("seed000_ipv6_vvv.txt"), title="t", owner_token="o")
    whole = "".join(store.stream_json(rec.id))
    flows = store.flows(rec.id, narrative=False)
    told = store.flows(rec.id)
    last = store.flow_summary(rec.id, rec.flow_count)
    window = store.window(rec.id, 1, 0, 5)
    m = store.meta(rec.id)
    c = chunk_table.c
    with store.engine.begin() as conn:
        for k, blob in conn.execute(
            select(c.chunk, c.data).where(c.session_id == rec.id, c.kind == "f")
        ).all():
            cols, extra = unpack(bytes(blob))
            n = len(cols["client_ep"])
            endpoints = EndpointTexts(m.hosts, m.port_names)
            heads, tails = summary_halves(cols, extra, k * m.flow_chunk, endpoints, 0, n)
            kept = {name: a for name, a in cols.items() if name != "run_at"}
            data = pack(kept, {"heads": heads, "tails": tails})
            conn.execute(
                update(chunk_table)
                .where(c.session_id == rec.id, c.kind == "f", c.chunk == k)
                .values(data=data)
            )
    again = Store(default_url(tmp_path))  # nothing cached
    assert "".join(again.stream_json(rec.id)) == whole
    assert again.flows(rec.id, narrative=False) == flows
    assert again.flows(rec.id) == told
    assert again.flow_summary(rec.id, rec.flow_count) == last
    assert again.window(rec.id, 1, 0, 5) == window
    again.close()
    store.close()


def test_a_decoder_failure_is_a_4xx_naming_where_it_broke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import app.store.jobs as jobs_module
    from app.decode.model.errors import Unreadable

    def broken(_data: bytes, _limits: object, **_kw: object) -> object:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(jobs_module, "read_stream", broken)
    store = Store(default_url(tmp_path))
    with pytest.raises(Unreadable) as exc:
        store.create(b"anything", title="t", owner_token="o")
    assert exc.value.status == 422 and "ZeroDivisionError" in exc.value.message
    assert "test_sessions.py" in exc.value.message  # where it broke
    assert any("sha256=" in r.getMessage() for r in caplog.records)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from sessions").scalar() == 0
    store.close()


def test_concurrent_reads_of_a_session(tmp_path: Path) -> None:
    """Pages read chunks in the threadpool: many at once must all succeed (zstandard's
    objects are not thread-safe; each thread has its own)."""
    from concurrent.futures import ThreadPoolExecutor

    store = Store(default_url(tmp_path))
    rec = store.create(load("http-like.pcap"), title="t", owner_token="o")
    expected = store.packets(rec.id, 1, 0, 100)

    def read(_: int) -> bool:
        return all(store.packets(rec.id, 1, 0, 100) == expected for _ in range(20))

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(read, range(32)))
    store.close()


def test_flows_without_narrative_are_the_same_but_for_it(tmp_path: Path) -> None:
    store = Store(default_url(tmp_path / "n"))
    rec = store.create(load("seed000_ipv6_vvv.txt"), title="", owner_token="o")
    told = store.flows(rec.id)
    plain = store.flows(rec.id, narrative=False)
    assert told[0]["narrative"] and [{**f, "narrative": None} for f in told] == plain
    store.close()


def test_connection_and_stored_size_limits_name_themselves(tmp_path: Path) -> None:
    from app.decode import Limits
    from app.decode.model.errors import InputTooLarge

    data = load("seed000_ipv6_vvv.txt")
    few = Store(default_url(tmp_path / "a"), limits=Limits(max_flows=0))
    with pytest.raises(InputTooLarge, match="TCPLADDER_MAX_FLOWS"):
        few.create(data, title="", owner_token="o")
    small = Store(default_url(tmp_path / "b"), limits=Limits(max_stored=100))
    with pytest.raises(InputTooLarge, match="TCPLADDER_MAX_STORED") as got:
        small.create(data, title="", owner_token="o")
    assert got.value.status == 413
    with small.engine.connect() as conn:  # rolled back: no session, no chunk left behind
        assert conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM chunks").scalar() == 0
    few.close()
    small.close()


def test_locate_and_find_agree_with_the_windows(tmp_path: Path) -> None:
    """Any packet's connection and position, and the next or previous packet with a
    finding, as reading every window would say (across chunk boundaries: small chunks)."""
    from app.store import columns

    data = (
        Path(__file__).parents[1] / "fixtures" / "captures" / "impaired" / "loss.pcap"
    ).read_bytes()
    old = columns.PACKET_CHUNK
    columns.PACKET_CHUNK = 64
    store = Store(default_url(tmp_path))
    try:
        rec = store.create(data, title="t", owner_token="o")
    finally:
        columns.PACKET_CHUNK = old
    try:
        sid = rec.id
        where: dict[int, tuple[int, int]] = {}
        codes: dict[int, list[list[str]]] = {}
        for fid in range(1, rec.flow_count + 1):
            flow = store.window(sid, fid, 0, 10**6)
            codes[fid] = [p.findings for p in flow.packets]
            for pos, p in enumerate(flow.packets):
                where[p.n] = (fid, pos)
        assert len(where) == rec.packet_count
        for n in (1, 2, rec.packet_count // 2, rec.packet_count):
            assert store.locate(sid, n) == where[n]
        fid = max(codes, key=lambda f: len(codes[f]))
        marks = [i for i, c in enumerate(codes[fid]) if "tcp.retransmission" in c]
        assert len(marks) >= 2
        assert store.find(sid, fid, ["tcp.retransmission"], -1) == marks[0]
        assert store.find(sid, fid, ["tcp.retransmission"], marks[0]) == marks[1]
        assert store.find(sid, fid, ["tcp.retransmission"], marks[1], forward=False) == marks[0]
        assert store.find(sid, fid, ["tcp.retransmission"], marks[0], forward=False) is None
        assert store.find(sid, fid, ["tcp.retransmission"], marks[-1]) is None
        with pytest.raises(NotFound):
            store.find(sid, fid, ["tcp.no_such_thing"], -1)
        with pytest.raises(NotFound):
            store.locate(sid, rec.packet_count + 1)
    finally:
        store.close()


def test_packet_chunks_made_by_a_second_process_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: list[int]
) -> None:
    """The packet chunks made by a forked child (``parallel.Blobs``) are those one process
    makes; a write stopped by the stored-size limit leaves no child behind."""
    from app.decode import Limits, analyse, read_path
    from app.decode.model import parallel
    from app.decode.model.errors import InputTooLarge
    from app.store import columns
    from benchmarks.gencap import generate

    busy = tmp_path / "busy.pcap"
    generate(str(busy), 3000, 40, 0, 3)
    analysis = analyse(read_path(str(busy)))
    monkeypatch.setattr(columns, "PACKET_CHUNK", 256)
    monkeypatch.setenv("TCPLADDER_PROCESSES", "1")
    one = list(columns.chunks(analysis))
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    monkeypatch.setattr(parallel, "MIN_WORK", 0)
    two = list(columns.chunks(analysis))
    assert two == one
    packet_chunks = sum(kind == "p" for kind, _, _ in two)
    # this process made the first ones, the child the others
    assert (
        packet_chunks > 5
        and 0 < columns.mine(packet_chunks, 3000, analysis.flow_count) < packet_chunks
    )
    small = Store(default_url(tmp_path / "s"), limits=Limits(max_stored=60_000))
    with pytest.raises(InputTooLarge):
        small.create(busy.read_bytes(), title="", owner_token="o")
    small.close()
    assert reaped(forked)  # no child left behind


def test_an_upload_read_in_two_parts_is_the_same_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: list[int], merged: list[int]
) -> None:
    """An uploaded pcap is copied to a temporary file and, when big, read by two processes
    (``readers.parts``): the session is the one a single process makes."""
    from app.decode.readers import parts
    from benchmarks.gencap import generate

    busy = tmp_path / "busy.pcap"
    generate(str(busy), 3000, 40, 0, 5)
    monkeypatch.setattr(parts, "MIN_BYTES", 0)
    documents = []
    for n in ("1", "2"):
        monkeypatch.setenv("TCPLADDER_PROCESSES", n)
        store = Store(default_url(tmp_path / f"s{n}"))
        try:
            rec = store.create(busy.read_bytes(), title="", owner_token="o")
            documents.append("".join(store.stream_json(rec.id)).replace(rec.id, "ID"))
        finally:
            store.close()
    assert documents[0] == documents[1]
    assert merged and reaped(forked)
