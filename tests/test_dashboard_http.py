"""The live server speaks HTTP/1.1 correctly, checked byte by byte over raw sockets on 127.0.0.1.

Each case is one the standard library's ``http.server`` gets wrong when left to itself: a body
left unread becomes the next request (smuggling), protocol errors without the security headers,
a ``304`` with a ``Content-Length: 0``, a traceback per client reset, idle connections kept open.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.dashboard.data import Dashboard, Options
from pytest_fwmon.dashboard.server import App, DashboardServer
from pytest_fwmon.dashboard.sources import open_source
from tests.test_dashboard_support import fixture_history

#: Headers every answer carries, pages and protocol errors alike.
SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options")

INNER = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


class _Watched(DashboardServer):
    """A server that tells when it has finished with a connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.done = threading.Semaphore(0)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.done.release()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Watched]:
    root: Path = tmp_path_factory.mktemp("http")
    fixture_history(root)
    app = App(Dashboard(open_source(root), Options(refresh=5)))
    srv = _Watched(("127.0.0.1", 0), app, idle_timeout=0.5)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()


def exchange(srv: DashboardServer, data: bytes) -> bytes:
    """Send ``data`` on one connection and read until the server closes it or goes quiet.

    The server closes a quiet connection after its idle timeout (0.5 s here), so everything it
    answered is read; the 30 s limit only stops a broken server from hanging the test.
    """
    with socket.create_connection(srv.socket.getsockname()[:2], timeout=30) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def answers(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a byte stream into (status, headers, body) answers, framed by Content-Length."""
    found = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"unterminated header block: {raw[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        match = re.fullmatch(r"HTTP/1\.[01] (\d{3}) .*", lines[0])
        assert match, f"not a status line: {lines[0]!r}"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"header sent twice: {name}"
            headers[name.lower()] = value.strip()
        status = int(match.group(1))
        length = 0 if status == 304 else int(headers["content-length"])
        found.append((status, headers, rest[:length]))
        raw = rest[length:]
    return found


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "GET"])
def test_a_body_is_never_read_as_the_next_request(server: DashboardServer, method: str) -> None:
    data = f"{method} /nope HTTP/1.1\r\nHost: x\r\nContent-Length: {len(INNER)}\r\n\r\n"
    got = answers(exchange(server, data.encode("ascii") + INNER))
    assert [status for status, _, _ in got] == [404 if method == "GET" else 405]


def test_the_body_is_dropped_and_the_connection_kept(server: DashboardServer) -> None:
    first = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    got = answers(exchange(server, first + INNER))
    assert [status for status, _, _ in got] == [405, 200]


@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(b"Transfer-Encoding: chunked\r\n", id="chunked"),
        pytest.param(b"Transfer-Encoding: gzip, chunked\r\n", id="gzip-chunked"),
        pytest.param(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", id="both"),
        pytest.param(b"Content-Length: 3\r\nContent-Length: 40\r\n", id="two-lengths"),
        pytest.param(b"Content-Length: -1\r\n", id="negative"),
        pytest.param(b"Content-Length: 99999999999\r\n", id="huge"),
    ],
)
def test_framing_it_cannot_read_closes_the_connection(
    server: DashboardServer, framing: bytes
) -> None:
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(INNER), INNER)
    raw = b"POST / HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n" + body
    got = answers(exchange(server, raw))
    assert len(got) == 1, [status for status, _, _ in got]
    status, headers, _ = got[0]
    assert status in (400, 413, 501) and headers["connection"] == "close"
    assert all(name in headers for name in SECURITY)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405, id="trace"),
        pytest.param(b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 405, id="connect"),
        pytest.param(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, id="unknown-method"),
        pytest.param(b"GET /nope.html HTTP/1.1\r\nHost: x\r\n\r\n", 404, id="404"),
        pytest.param(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, id="414"),
        pytest.param(
            b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(120)) + b"\r\n",
            431,
            id="431",
        ),
        pytest.param(b"GARBAGE\r\n\r\n", 400, id="400-syntax"),
        pytest.param(b"GET /\r\n\r\n", 400, id="400-http09"),
        pytest.param(b"GET / HTTP/9.1\r\n\r\n", 505, id="505"),
    ],
)
def test_every_error_carries_the_security_headers(
    server: DashboardServer, raw: bytes, status: int
) -> None:
    got = answers(exchange(server, raw))
    assert got[0][0] == status
    headers = got[0][1]
    missing = [name for name in SECURITY if name not in headers]
    assert not missing, headers
    assert headers["x-content-type-options"] == "nosniff"
    if status in (405, 501):
        assert headers["allow"] == "GET, HEAD"


def test_304_has_no_body_and_no_content_length(server: DashboardServer) -> None:
    first = answers(exchange(server, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"))
    etag = first[0][1]["etag"]
    again = f"GET /healthz HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n".encode("ascii")
    raw = exchange(server, again + INNER)
    got = answers(raw)
    assert [status for status, _, _ in got] == [304, 200]
    assert "content-length" not in got[0][1] and got[0][1]["etag"] == etag
    assert all(name in got[0][1] for name in SECURITY)


def test_a_client_reset_prints_nothing(server: _Watched, capfd: pytest.CaptureFixture[str]) -> None:
    while server.done.acquire(blocking=False):
        pass
    sock = socket.create_connection(server.socket.getsockname()[:2], timeout=30)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    assert server.done.acquire(timeout=30)
    _out, err = capfd.readouterr()
    assert err == ""


def test_an_idle_connection_is_closed(server: DashboardServer) -> None:
    with socket.create_connection(server.socket.getsockname()[:2], timeout=30) as sock:
        assert sock.recv(1) == b""
