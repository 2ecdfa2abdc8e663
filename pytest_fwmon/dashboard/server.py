"""The live server: ``fwmon dashboard serve``, the static site's pages plus a JSON API.

Standard library only (``http.server.ThreadingHTTPServer``). It binds to ``127.0.0.1`` unless
told otherwise, answers only ``GET`` and ``HEAD`` (``405`` otherwise: it is read-only), and
renders every page from the data; it serves no files, so no request can reach a file.

Routes (the OpenAPI document at ``/api/v1/openapi.json`` describes the API)::

    /  /index.html  /trends.html  /trends-30d.html  /trends-all.html  /runs.html
    /runs/<run>.html  /improvements.html  /flaky.html         pages (text/html)
    /api/v1/summary  /api/v1/runs?limit=&offset=  /api/v1/runs/{id}
    /api/v1/trends?metric=&window=  /api/v1/alerts  /api/v1/slo  /api/v1/kpis
    /api/v1/improvements  /api/v1/flaky  /api/v1/openapi.json  /healthz       JSON

Status codes: ``200``; ``304`` when ``If-None-Match`` names the current ETag; ``400`` for a bad
query parameter and for any path with a ``.`` or ``..`` segment, a backslash, a NUL or an
empty segment once percent-decoded (path traversal: ``/../``, ``%2e%2e``, ``//etc``);
``404`` for anything else unknown; ``405`` for the other methods of RFC 9110, ``501`` for
unknown ones and for any ``Transfer-Encoding``; ``500`` with one line when the store fails
(nothing is cached then). Every answer, protocol errors included, carries the security headers.

Connections: a request body is read and dropped (never parsed as the next request) or the
connection is closed; an idle connection is closed after :data:`IDLE_TIMEOUT`; a client that
goes away prints nothing.

Caching: an answer is rendered once per data version (:meth:`Dashboard.version`; pages also per
minute, for their "3 minutes ago") and kept in a small LRU; its ETag is a hash of its body, so
a poll of an unchanged resource costs one version query and a ``304`` without a body. While one
thread renders a new version of an answer, other requests for it get the previous version
(stale-while-revalidate), so a slow render never queues every client.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs, unquote

from .. import __version__
from ..core.errors import FwmonError
from . import fmt
from .data import WINDOWS, Dashboard
from .encode import dumps
from .flakypage import flaky
from .pages import TREND_FILES, improvements, not_found, overview, runs_list, trends
from .render import CSP, Context, run_file
from .runpage import run_page

#: Answers kept per server (pages and API bodies together).
CACHE_SIZE: Final = 256

#: Largest ``limit`` of ``/api/v1/runs``.
MAX_LIMIT: Final = 1000

API: Final = "/api/v1/"
SUMMARY: Final = "/api/v1/summary"

_PAGES: Final = {"/": "overview", "/index.html": "overview", "/runs.html": "runs"}
_PAGES.update({f"/{name}": f"trends:{window}" for window, name in TREND_FILES.items()})
_PAGES["/improvements.html"] = "improvements"
_PAGES["/flaky.html"] = "flaky"


@dataclass(slots=True)
class Response:
    """One answer."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None


def openapi_document() -> bytes:
    """Return the OpenAPI 3.1 document shipped in ``pytest_fwmon/schemas/openapi.json``."""
    return resources.files("pytest_fwmon.schemas").joinpath("openapi.json").read_bytes()


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _error(status: int, message: str) -> Response:
    return Response(status, dumps({"error": message}))


class BadRequest(Exception):
    """A query parameter or path is not acceptable (400)."""


def _refused(path: str) -> bool:
    """Return True for paths that try to leave the site (see the module docstring)."""
    if "\\" in path or "\x00" in path:
        return True
    decoded = unquote(path)
    if "\\" in decoded or "\x00" in decoded or not decoded.startswith("/"):
        return True
    segments = decoded.split("/")[1:]
    return any(s in (".", "..") for s in segments) or "" in segments[:-1]


def _int(query: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {values[-1]!r}") from None
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {number}")
    return number


class App:
    """Routing, rendering and caching, independent of the socket server (tests call it)."""

    def __init__(self, dash: Dashboard) -> None:
        """Serve the pages and API of ``dash``."""
        self.dash = dash
        self.openapi = openapi_document()
        self._cache: OrderedDict[str, tuple[str, Response]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._run_files: dict[str, str] = {}

    # -- entry point -------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Response:
        """Answer one request (``target`` is the raw request target)."""
        if method not in ("GET", "HEAD"):
            response = _error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{method} is not allowed: the dashboard is read-only",
            )
            response.headers["Allow"] = "GET, HEAD"
            return response
        path, _, raw_query = target.partition("?")
        if _refused(path):
            return _error(HTTPStatus.BAD_REQUEST, "path refused: it leaves the site")
        query = parse_qs(raw_query, keep_blank_values=True)
        try:
            response = self._route(path, query)
        except BadRequest as exc:
            return _error(HTTPStatus.BAD_REQUEST, str(exc))
        except FwmonError as exc:
            return _error(HTTPStatus.INTERNAL_SERVER_ERROR, exc.one_line())
        wanted = next((v for k, v in headers.items() if k.lower() == "if-none-match"), None)
        if response.etag is not None and _matches(wanted, response.etag):
            return Response(
                HTTPStatus.NOT_MODIFIED,
                content_type=response.content_type,
                headers=dict(response.headers),
                etag=response.etag,
            )
        return response

    # -- routing -----------------------------------------------------------------------

    def _route(self, path: str, query: Mapping[str, list[str]]) -> Response:
        if path == "/healthz":
            return self._json("healthz", lambda: self._health())
        if path in _PAGES:
            return self._page(path, _PAGES[path])
        if path.startswith("/runs/") and path.endswith(".html") and path.count("/") == 2:
            return self._run_page(unquote(path[len("/runs/") :]))
        if not path.startswith(API):
            return self._not_found(f"There is no page at {unquote(path)}.")
        return self._api_route(path, path[len(API) :], query)

    def _api_route(self, path: str, name: str, query: Mapping[str, list[str]]) -> Response:
        """Answer the API path ``path`` whose name below the API prefix is ``name``."""
        plain: dict[str, Callable[[], Any]] = {
            "summary": self.dash.summary,
            "alerts": self.dash.alerts,
            "slo": self.dash.slo,
            "kpis": self.dash.kpis,
            "improvements": self.dash.improvements,
            "flaky": self.dash.flaky,
        }
        if name in plain:
            return self._json(name, plain[name])
        if name == "openapi.json":
            return self._json("openapi", lambda: json.loads(self.openapi))
        if name == "runs":
            return self._runs_api(query)
        if name.startswith("runs/") and name.count("/") == 1:
            run_id = unquote(name[len("runs/") :])
            return self._cached(f"run:{run_id}", lambda: self._run_json(run_id))
        if name == "trends":
            return self._trends_api(query)
        return _error(HTTPStatus.NOT_FOUND, f"unknown API path {unquote(path)}")

    def _runs_api(self, query: Mapping[str, list[str]]) -> Response:
        """Answer ``runs`` with the page of runs the ``limit`` and ``offset`` parameters select."""
        limit = _int(query, "limit", 50, 1, MAX_LIMIT)
        offset = _int(query, "offset", 0, 0, 10**9)
        return self._json(f"runs?{limit}&{offset}", lambda: self.dash.runs(limit, offset))

    def _trends_api(self, query: Mapping[str, list[str]]) -> Response:
        """Answer ``trends`` for the ``metric`` and ``window`` parameters (400 when invalid)."""
        metric = (query.get("metric") or [""])[-1]
        window = (query.get("window") or [self.dash.options.window])[-1]
        if not metric:
            raise BadRequest("metric is required, e.g. ?metric=pipeline.security.score")
        if window not in WINDOWS:
            raise BadRequest(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
        return self._cached(f"trend:{window}:{metric}", lambda: self._trend(metric, window))

    def _health(self) -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "runs": self.dash.source.count_runs()}

    def _run_json(self, run_id: str) -> Response:
        data = self.dash.run(run_id)
        if data is None:
            return _error(HTTPStatus.NOT_FOUND, f"no run {run_id!r}")
        return self._ok(dumps(data))

    def _trend(self, metric: str, window: str) -> Response:
        if metric not in set(self.dash.source.metrics()):
            return _error(HTTPStatus.NOT_FOUND, f"no metric {metric!r} in the history")
        return self._ok(dumps(self.dash.trend(metric, window)))

    # -- pages -------------------------------------------------------------------------

    def _context(self, base: str) -> Context:
        summary = self._json("summary", self.dash.summary)
        footer = (
            f"Rendered {fmt.date(time.time())} by fwmon {__version__} from "
            f"{self.dash.source.location}."
        )
        return Context(
            base=base,
            refresh=self.dash.options.refresh,
            api=SUMMARY,
            etag=summary.etag,
            footer=footer,
        )

    def _page(self, path: str, kind: str) -> Response:
        def render() -> Response:
            ctx = self._context("")
            if kind == "overview":
                text = overview(self.dash, ctx)
            elif kind == "runs":
                text = runs_list(self.dash, ctx)
            elif kind == "improvements":
                text = improvements(self.dash, ctx)
            elif kind == "flaky":
                text = flaky(self.dash, ctx)
            else:
                text = trends(self.dash, ctx, kind.split(":", 1)[1])
            return self._html(text)

        return self._cached(f"page:{path}", render, per_minute=True)

    def _run_page(self, name: str) -> Response:
        def render() -> Response:
            run_id = self._run_id(name)
            report = self.dash.source.get_run(run_id) if run_id is not None else None
            if report is None:
                return self._not_found(f"There is no run page {name}.", base="../")
            return self._html(run_page(self.dash, self._context("../"), report))

        return self._cached(f"page:/runs/{name}", render, per_minute=True)

    def _run_id(self, name: str) -> str | None:
        """Return the run id a page name stands for (ids with unsafe characters are hashed)."""
        candidate = name.removesuffix(".html")
        if run_file(candidate) == name and self.dash.source.get_run(candidate) is not None:
            return candidate
        if name not in self._run_files:
            self._run_files = {run_file(r.run_id): r.run_id for r in self.dash.source.list_runs()}
        return self._run_files.get(name)

    def _not_found(self, what: str, base: str = "") -> Response:
        ctx = Context(base=base, refresh=0)
        body = not_found(ctx, self.dash.title(), what).encode("utf-8")
        response = Response(HTTPStatus.NOT_FOUND, body, "text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = CSP
        return response

    # -- answers and cache --------------------------------------------------------------

    def _ok(self, body: bytes, content_type: str = "application/json") -> Response:
        return Response(HTTPStatus.OK, body, content_type, etag=_etag(body))

    def _html(self, text: str) -> Response:
        response = self._ok(text.encode("utf-8"), "text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = CSP
        return response

    def _json(self, key: str, produce: Callable[[], Any]) -> Response:
        return self._cached(key, lambda: self._ok(dumps(produce())))

    def _cached(
        self, key: str, produce: Callable[[], Response], *, per_minute: bool = False
    ) -> Response:
        version = self.dash.version()
        if per_minute:
            version += f":{int(time.time() // 60)}"
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == version:
                self._cache.move_to_end(key)
                return hit[1]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        if hit is not None and not key_lock.acquire(blocking=False):
            # Another thread renders the new version: answer with the previous one meanwhile,
            # so a slow render (a summary over 10,000 runs) never queues every poller.
            return hit[1]
        if hit is None:
            key_lock.acquire()
        try:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None and hit[0] == version:
                    return hit[1]
            response = produce()
            with self._lock:
                self._cache[key] = (version, response)
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_SIZE:
                    old, _ = self._cache.popitem(last=False)
                    self._key_locks.pop(old, None)
        finally:
            key_lock.release()
        return response


#: Seconds a connection may sit idle (or trickle a request) before the server closes it.
IDLE_TIMEOUT: Final = 30.0

#: Largest request body read and discarded to keep a connection open; a larger one closes it.
MAX_DISCARD: Final = 1 << 20

#: Seconds spent draining what a client still sends once its connection is closed.
LINGER: Final = 1.0

#: Headers on every answer, pages, API and protocol errors alike.
SECURITY_HEADERS: Final = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

#: The policy of an answer that is not a page: it may load and run nothing.
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'"

#: Errors that only mean the client went away.
_GONE: Final = (ConnectionError, TimeoutError)


def _body_framing(headers: Message) -> int | Response:
    """Return the length of the request body to drop, or the error that closes the connection."""
    if headers.get_all("Transfer-Encoding"):
        return _error(HTTPStatus.NOT_IMPLEMENTED, "Transfer-Encoding is not supported")
    lengths = headers.get_all("Content-Length") or []
    values = {v.strip() for value in lengths for v in value.split(",")}
    if not values:
        return 0
    if len(values) > 1 or not all(v.isdigit() for v in values):
        return _error(HTTPStatus.BAD_REQUEST, "Content-Length is not one whole number")
    length = int(values.pop())
    if length > MAX_DISCARD:
        return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the dashboard takes no request body")
    return length


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = f"fwmon-dashboard/{__version__}"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    #: One segment per answer is not delayed by Nagle waiting for the ACK of the headers.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def handle(self) -> None:
        try:
            super().handle()
        except _GONE:
            self.close_connection = True

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            # HTTP/0.9 answers have no headers, so no security headers: refused.
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 is not supported")
            return False
        return True

    def _framing_error(self) -> Response | None:
        """Read and drop the request body, or say why the connection must close.

        A body left unread would be parsed as the next request on this connection (request
        smuggling), so it is read per ``Content-Length`` or the connection is closed.
        """
        framing = _body_framing(self.headers)
        if isinstance(framing, Response):
            self.close_connection = True
            return framing
        self._discard(framing)
        return None

    def _discard(self, length: int) -> None:
        """Read and drop ``length`` bytes of body, closing the connection if it ends early."""
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                self.close_connection = True
                break
            length -= len(chunk)

    def _answer(self) -> None:
        response = self._framing_error()
        if response is None:
            headers = dict(self.headers.items())
            response = self.server.app.handle(self.command, self.path, headers)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        if response.status != HTTPStatus.NOT_MODIFIED:
            # A 304 has no body; a Content-Length would have to be the 200's, so none is sent.
            self.send_header("Content-Length", str(len(response.body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if "Content-Security-Policy" not in response.headers:
            self.send_header("Content-Security-Policy", API_CSP)
        if response.etag:
            self.send_header("ETag", response.etag)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer the standard library's protocol errors (400, 414, 431, 501, …) our way."""
        self.close_connection = True
        if self.request_version in ("", "HTTP/0.9"):
            self.request_version = "HTTP/1.0"
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message)
        response = _error(code, message or status.phrase)
        if code == HTTPStatus.NOT_IMPLEMENTED:
            response.headers["Allow"] = "GET, HEAD"
        self._send(response)

    # Methods with a handler are answered 405 but GET and HEAD; any other is 501 (send_error).
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer
    do_TRACE = do_CONNECT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            super().log_message(format, *args)


class DashboardServer(ThreadingHTTPServer):
    """A threading HTTP server around an :class:`App`."""

    daemon_threads = True
    allow_reuse_address = True
    #: Pending connections (20 polling clients and more fit).
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        *,
        access_log: bool = False,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        """Bind to ``address`` and serve ``app``; log requests when ``access_log``.

        A connection idle for ``idle_timeout`` seconds is closed.
        """
        self.app = app
        self.access_log = access_log
        self.idle_timeout = idle_timeout
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line on stderr for a failed request, none for a client that went away."""
        error = sys.exc_info()[1]
        if isinstance(error, _GONE):
            return
        print(
            f"fwmon dashboard: request from {client_address[0]} failed: "
            f"{type(error).__name__}: {error}",
            file=sys.stderr,
        )

    def shutdown_request(self, request: Any) -> None:
        """Close a connection without a reset that could eat the last answer.

        Closing a socket with unread input makes the kernel send a reset, and the client may
        then lose the answer it has not read yet; so the input is drained for a moment first.
        """
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER)
            drained = 0
            while drained <= MAX_DISCARD:
                chunk = request.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    @property
    def url(self) -> str:
        """The base URL (``http://host:port/``)."""
        host, port = self.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


class _Server6(DashboardServer):
    address_family = socket.AF_INET6


def is_loopback(host: str) -> bool:
    """Return True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(
    dash: Dashboard,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    access_log: bool = False,
    idle_timeout: float = IDLE_TIMEOUT,
) -> DashboardServer:
    """Return a server bound to ``host:port`` (port 0: any free port); call ``serve_forever``."""
    kind = _Server6 if ":" in host else DashboardServer
    return kind((host, port), App(dash), access_log=access_log, idle_timeout=idle_timeout)


__all__ = [
    "App",
    "DashboardServer",
    "Response",
    "is_loopback",
    "make_server",
    "openapi_document",
]
