"""The rendered-page cache: the same bytes for every reader, never the owner's page, never
a deleted session's, bounded in bytes."""

from __future__ import annotations

import gzip

from fastapi.testclient import TestClient

from app.web.pagecache import Page, PageCache, accepts_gzip
from tests.conftest import load
from tests.web.test_api import csrf


def _create(client: TestClient, name: str) -> str:
    r = client.post("/api/sessions", data={"text": load(name).decode()})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _owned(client: TestClient) -> tuple[str, str]:
    """A session made through the form by this client (its owner): the CSRF token, and
    the session's path."""
    token = csrf(client)
    r = client.post(
        "/sessions",
        files={"text": (None, load("seed003_quoted_relative.txt")), "csrf": (None, token)},
        follow_redirects=False,
    )
    return token, str(r.headers["location"])


def test_readers_get_the_cached_page_byte_for_byte(client: TestClient) -> None:
    cache: PageCache = client.app.state.page_cache  # type: ignore[attr-defined]
    sid = _create(client, "seed000_ipv6_vvv.txt")
    first = client.get(f"/s/{sid}")
    hits = cache.hits
    again = client.get(f"/s/{sid}")
    assert cache.hits == hits + 1
    assert again.content == first.content
    assert again.headers["vary"] == first.headers["vary"]
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]
    # each language, window and fragment is its own page
    zh = client.get(f"/s/{sid}?lang=zh")
    assert zh.content != first.content and "lang=" in zh.headers["set-cookie"]
    part = client.get(f"/s/{sid}/f/1", headers={"HX-Request": "true"})
    assert "<html" not in part.text
    assert client.get(f"/s/{sid}/f/1", headers={"HX-Request": "true"}).content == part.content


def test_a_new_reader_still_gets_its_csrf_cookie_from_a_cached_page(client: TestClient) -> None:
    sid = _create(client, "seed000_ipv6_vvv.txt")
    client.get(f"/s/{sid}")
    fresh = TestClient(client.app)
    r = fresh.get(f"/s/{sid}")
    assert "tl_csrf=" in r.headers.get("set-cookie", "")


def test_the_owner_page_is_never_cached_and_delete_drops_the_pages(client: TestClient) -> None:
    token, url = _owned(client)
    sid = url.rsplit("/", 1)[1]
    reader = TestClient(client.app)
    seen = reader.get(url).text
    assert "Delete session" not in seen
    owner_page = client.get(url).text
    assert "Delete session" in owner_page and token in owner_page
    assert "Delete session" not in reader.get(url).text  # the reader's copy stays the reader's
    r = client.post(f"/s/{sid}/delete", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert reader.get(url).status_code == 404
    cache: PageCache = client.app.state.page_cache  # type: ignore[attr-defined]
    assert all(k[0] != sid for k in cache._pages)


def test_a_session_deleted_elsewhere_is_not_served_from_the_cache(client: TestClient) -> None:
    r = client.post("/api/sessions", data={"text": load("seed000_ipv6_vvv.txt").decode()})
    sid, owner = r.json()["id"], r.json()["owner_token"]
    assert client.get(f"/s/{sid}").status_code == 200
    # as another server process would: straight through the store, the cache untouched
    client.app.state.store.delete(sid, owner)  # type: ignore[attr-defined]
    assert client.get(f"/s/{sid}").status_code == 404


def test_the_cache_is_bounded_in_bytes_and_least_recently_used() -> None:
    one = len(Page(b"x" * 400))
    cache = PageCache(max_bytes=2 * one + 10, max_page=600)
    cache.put(("a", 1), b"x" * 400)
    cache.put(("b", 1), b"y" * 400)
    assert cache.get(("a", 1)) is not None  # a is now the most recent
    cache.put(("c", 1), b"z" * 400)
    got = cache.get(("a", 1))
    assert cache.get(("b", 1)) is None and got is not None and got.body == b"x" * 400
    assert gzip.decompress(got.gzipped) == got.body
    assert cache.size <= 2 * one + 10 and len(cache) == 2
    cache.put(("d", 1), b"w" * 601)  # larger than a page may be: not kept
    assert cache.get(("d", 1)) is None
    cache.drop("a")
    assert cache.get(("a", 1)) is None and cache.size == len(Page(b"z" * 400))
    off = PageCache(max_bytes=0)
    off.put(("a", 1), b"x")
    assert off.get(("a", 1)) is None


def test_accept_encoding() -> None:
    assert accepts_gzip("gzip, deflate, br") and accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert accepts_gzip("*") and not accepts_gzip("gzip;q=0") and not accepts_gzip("")
    assert not accepts_gzip("identity") and not accepts_gzip("br")


def test_a_browser_gets_the_cached_page_gzipped(client: TestClient) -> None:
    sid = _create(client, "seed000_ipv6_vvv.txt")
    plain = client.get(f"/s/{sid}", headers={"Accept-Encoding": "identity"})
    raw = client.get(f"/s/{sid}", headers={"Accept-Encoding": "gzip, br"})
    assert raw.headers["content-encoding"] == "gzip" and "Accept-Encoding" in raw.headers["vary"]
    assert raw.content == plain.content  # the client undid the gzip
    assert "content-encoding" not in plain.headers


def test_responses_are_compressed_as_the_client_prefers(client: TestClient) -> None:
    """zstd, br or gzip (starlette-compress) on what is not cached: the owner's page, the
    API, the streamed export; a cached page goes out in the gzip it is kept in."""
    import zstandard

    _, url = _owned(client)
    sid = url.rsplit("/", 1)[1]
    for path in (url, f"/api/sessions/{sid}", f"/s/{sid}/export.json"):
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        for coding in ("zstd", "br", "gzip"):
            got = client.get(path, headers={"Accept-Encoding": coding})
            assert got.headers["content-encoding"] == coding, (path, coding)
            assert "accept-encoding" in got.headers["vary"].lower()
        raw = client.stream("GET", path, headers={"Accept-Encoding": "zstd"})
        with raw as s:
            body = b"".join(s.iter_raw())
        assert zstandard.ZstdDecompressor().decompressobj().decompress(body) == plain.content
    reader = TestClient(client.app)
    reader.get(url)
    cached = reader.get(url, headers={"Accept-Encoding": "zstd, gzip"})
    assert cached.headers["content-encoding"] == "gzip"
