"""schemathesis against a running server (on SQLite, and on PostgreSQL): every operation in ``/api/openapi.json`` is called
with generated requests (valid and not), and no answer is a server error, or outside the
statuses, content types and shapes the schema declares.

Half of the generated session ids are replaced by a real session's, so the success paths
(the document, a flow, a window, a packet's detail) are checked against their shapes too.
"""

from __future__ import annotations

import itertools
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import load
from tests.server import free_port, post_raw, serve

Live = dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    env = {}
    if request.param == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("postgres").url
    port = free_port()
    proc = serve(port, data=tmp_path_factory.mktemp("schema") / "data", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        status, body = post_raw(base + "/api/sessions", load("seed000_ipv6_vvv.txt"))
        assert status == 201, body
        yield {"base": base, "sid": body["id"]}
    finally:
        proc.terminate()
        proc.wait(10)


def _call(case: Any, live: Live) -> int:
    params = case.path_parameters or {}
    if "sid" in params and len(str(params["sid"])) % 2 == 0:
        params["sid"] = live["sid"]
        if "flow_id" in params:
            params["flow_id"] = zlib.crc32(str(params["flow_id"]).encode()) % 3
        if "n" in params:
            params["n"] = zlib.crc32(str(params["n"]).encode()) % 12
    response = case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=60,
    )
    return int(response.status_code)


def test_no_operation_answers_outside_its_schema(live: Live) -> None:
    # Each operation as its own hypothesis run (schemathesis' lazy pytest loader does not
    # work with this pytest), valid and invalid requests alike.
    schema = schemathesis.openapi.from_url(live["base"] + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 8
    seen: Counter[tuple[str, int]] = Counter()
    for operation, mode in itertools.product(operations, GenerationMode):
        label = operation.label

        @hypothesis.settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        @hypothesis.given(case=operation.as_strategy(mode))
        def run(case: Any) -> None:
            seen[label, _call(case, live)] += 1  # noqa: B023 (run is called right here)

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing in it can be made invalid
    # the success paths were reached, not only the errors
    for label in ("GET /api/sessions/{sid}", "GET /api/sessions/{sid}/flows/{flow_id}/packets"):
        assert seen[label, 200], sorted(seen.items())
    assert seen["GET /api/sessions/{sid}/packets/{n}", 200], sorted(seen.items())


def test_the_session_survived(live: Live) -> None:
    """Nothing the generated requests did (wrong tokens) deleted or changed the session."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{live['base']}/api/sessions/{live['sid']}/status") as r:
        assert json.loads(r.read())["status"] == "ready"
