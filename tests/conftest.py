from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.decode import Analysis, analyse, read_input, write_json
from app.web.app import create_app
from app.web.settings import Settings

pytest_plugins = ["tests.postgres"]  # the throwaway PostgreSQL cluster fixture

FIXTURES = Path(__file__).parent / "fixtures"
TEXT = FIXTURES / "text"
CAPTURES = FIXTURES / "captures"


def load(name: str) -> bytes:
    for base in (TEXT, CAPTURES):
        if (base / name).exists():
            return (base / name).read_bytes()
    raise FileNotFoundError(name)


def explain(name: str) -> Analysis:
    return analyse(read_input(load(name)))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", max_input=4 * 1024 * 1024, rate_limit="0", workers=0
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.store.close()


def to_json(analysis: Analysis, *, summary: bool = False) -> dict[str, Any]:
    """The JSON document ``tcpladder explain --json`` prints, as Python data."""
    buf = io.StringIO()
    write_json(analysis, buf, summary=summary)
    out: dict[str, Any] = json.loads(buf.getvalue())
    return out


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The children forked during the test (their pids, in the parent): ``app.decode.model.parallel``'s."""
    pids: list[int] = []
    fork = os.fork

    def recording() -> int:
        pid = fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording)
    return pids


@pytest.fixture
def merged(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each second part read by another process brought
    (``readers.capture.Reading.merge``) during the test."""
    from app.decode.readers import capture

    rows: list[int] = []
    merge = capture.Reading.merge

    def recording(self: capture.Reading, parcel: capture.Parcel) -> None:
        rows.append(parcel.rows)
        merge(self, parcel)

    monkeypatch.setattr(capture.Reading, "merge", recording)
    return rows


def reaped(pids: list[int]) -> bool:
    """Every child is gone and reaped (none left running or a zombie)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return bool(pids)
