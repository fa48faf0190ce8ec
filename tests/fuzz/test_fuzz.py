"""A short fuzz run of every target in each test run, and the regressions found so far.

Long, coverage-guided runs: ``scripts/fuzz capture|text|upload -runs=N``."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import REGRESSIONS, decode, mutate, seeds, upload

RUNS = 300


@pytest.mark.parametrize("kind", ["capture", "text"])
def test_mutated_inputs_never_crash(kind: str) -> None:
    rnd = random.Random(f"tcpladder-{kind}")
    starts = seeds(kind)
    for _ in range(RUNS):
        decode(mutate(rnd.choice(starts), rnd))


def test_mutated_requests_to_the_upload_endpoint_never_crash() -> None:
    """The upload target: the endpoint's reading of forms, raw bodies and fields."""
    rnd = random.Random("tcpladder-upload-request")
    starts = seeds("upload")
    for _ in range(RUNS * 3):
        upload(mutate(rnd.choice(starts), rnd))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    decode(data)


_LINE = st.builds(
    lambda t, a, b, flags, rest: f"{t} IP {a} > {b}: Flags [{flags}], {rest}",
    st.sampled_from(["12:00:00.000001", "1700000000.5", "99:99:99.9", ""]),
    st.sampled_from(["10.0.0.1.80", "10.0.0.1.99999", "::1.80", "host.http", "a"]),
    st.sampled_from(["10.0.0.2.5000", "10.0.0.2.0", "x.y.z"]),
    st.text(alphabet="FSRP.UEWe", max_size=4),
    st.text(max_size=80),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINE | st.text(max_size=60), min_size=1, max_size=8))
def test_packet_like_lines_never_crash(lines: list[str]) -> None:
    decode("\n".join(lines).encode())


def test_regression_inputs_are_refused_or_read(client: TestClient) -> None:
    for path in sorted(REGRESSIONS.glob("*")):
        data = path.read_bytes()
        decode(data)
        r = client.post("/api/sessions", files={"file": (path.name, data)})
        assert r.status_code < 500, (path.name, r.text)


def test_upload_endpoint_answers_mutated_uploads_without_5xx(client: TestClient) -> None:
    rnd = random.Random("tcpladder-upload")
    starts = seeds("capture") + seeds("text")
    for _ in range(60):
        data = mutate(rnd.choice(starts), rnd)
        r = client.post("/api/sessions", files={"file": ("x", data)})
        assert r.status_code < 500, r.text
