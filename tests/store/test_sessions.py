from __future__ import annotations

from pathlib import Path

import pytest

from app.decode.model.errors import Forbidden, NoPackets, NotFound
from app.store import Store, default_url
from tests.conftest import load


def test_round_trip_survives_a_new_store_on_the_same_sqlite_file(tmp_path: Path) -> None:
    url = default_url(tmp_path / "data")
    store = Store(url)
    rec = store.create(load("seed001_pktap_long_flags.txt"), title="t", owner_token="owner")
    store.close()
    assert (tmp_path / "data" / "tcpladder.sqlite3").exists()
    again = Store(url)
    got = again.get(rec.id)
    assert got.result == rec.result and got.packet_count == 10 and got.flow_count == 1
    assert len(again.analysis(rec.id).flows) == 1
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
