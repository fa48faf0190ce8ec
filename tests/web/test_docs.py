"""The API documentation at /docs: Swagger UI from this site only, the API's routes in the
schema and the pages not."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_load_nothing_from_another_origin(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs and all(ref.startswith("/") for ref in refs), refs
    assert "<script>" not in r.text  # no inline script: the CSP would refuse it
    for ref in refs:
        if ref.startswith("/static/"):
            assert client.get(ref).status_code == 200, ref


def test_the_schema_holds_the_api_and_not_the_pages(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "/api/sessions" in paths and "/api/sessions/{sid}/status" in paths
    assert set(paths["/api/sessions/{sid}"]) == {"get", "patch", "delete"}
    assert not [p for p in paths if not p.startswith("/api/")]
