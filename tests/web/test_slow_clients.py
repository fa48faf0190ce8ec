"""Against a real server process (the way `tcpladder serve` runs): a client too slow with
its headers or its body is cut off; normal and keep-alive requests are not."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.server import free_port, serve


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    proc = serve(
        port,
        data=tmp_path_factory.mktemp("data"),
        env={"TCPLADDER_HEADER_TIMEOUT": "1", "TCPLADDER_BODY_TIMEOUT": "1"},
        workers=0,
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
            if b"408" in data:  # the body timeout answers before closing
                return True
    except TimeoutError:
        return False


def test_slow_headers_are_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        assert _closed_within(s, 5)


def test_a_slow_body_is_refused(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 1000\r\n\r\n12:00"
        )
        assert _closed_within(s, 5)


def test_normal_and_keep_alive_requests_still_work(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(5)
        for _ in range(2):
            s.sendall(b"GET /static/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while b"})();" not in data:
                chunk = s.recv(65536)
                assert chunk, "closed early"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
            time.sleep(0.5)  # well within the header timeout of the next request
