"""Real receivers for the alert tests (no tests here; imported by the test_alerts_* modules).

* :class:`HttpReceiver`: a standard-library HTTP server on 127.0.0.1 in a thread that records
  every request (path, headers, JSON body) and answers from a per-path script of responses
  (status, headers, body), 200 once the script is used up.
* :class:`SmtpReceiver`: aiosmtpd on 127.0.0.1 that records every message, optionally with
  AUTH (LOGIN/PLAIN) and STARTTLS (a throwaway self-signed certificate made with openssl).
* :func:`free_port`, :func:`closed_port`, :func:`store_dump` (every row of every table).
"""

from __future__ import annotations

import email
import email.policy
import json
import select
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pytest_fwmon.history.store import Store


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


closed_port = free_port


@dataclass
class Request:
    """One request the HTTP receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Response:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    #: Echo the request path in the body (a receiver that leaks what it was sent).
    echo_path: bool = False
    #: Echo the whole request: percent-decoded query values, request line, headers and body.
    echo_request: bool = False
    #: Never answer: hold the connection until the client closes it (recorded in
    #: ``HttpReceiver.hung_up``), the receiver stops, or ``HANG_LIMIT`` seconds pass.
    hang: bool = False


#: Seconds a hanging answer holds the connection at most.
HANG_LIMIT = 30.0


class HttpReceiver:
    """An HTTP server on 127.0.0.1 recording requests and answering from scripts."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        #: Paths of hanging answers whose client closed the connection first.
        self.hung_up: list[str] = []
        self.scripts: dict[str, list[Response]] = {}
        self._lock = threading.Lock()
        self._hang_up = threading.Condition(self._lock)
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    script = receiver.scripts.get(self.path)
                    answer = script.pop(0) if script else Response()
                if answer.hang:
                    if receiver._client_closes(self.connection):
                        with receiver._hang_up:
                            receiver.hung_up.append(self.path)
                            receiver._hang_up.notify_all()
                    return
                text = (self.path + " " + answer.body) if answer.echo_path else answer.body
                if answer.echo_request:
                    query = parse_qs(urlsplit(self.path).query)
                    values = " ".join(v for vs in query.values() for v in vs)
                    text = f"{answer.body}: {values}\n{self.requestline}\n{self.headers}\n"
                    text += body.decode("utf-8", "replace")
                data = text.encode()
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _client_closes(self, connection: socket.socket) -> bool:
        """Wait, without answering, until the client closes ``connection`` (True), or the
        receiver stops or ``HANG_LIMIT`` passes (False)."""
        end = time.monotonic() + HANG_LIMIT
        while not self._stop.is_set() and time.monotonic() < end:
            readable, _, _ = select.select([connection], [], [], 0.05)
            if readable:
                try:
                    if connection.recv(1024) == b"":
                        return True
                except OSError:  # reset by the client: closed as well
                    return True
        return False

    def wait_hung_up(self, count: int = 1) -> list[str]:
        """``hung_up`` once it holds ``count`` paths (or after ``HANG_LIMIT`` seconds)."""
        with self._hang_up:
            self._hang_up.wait_for(lambda: len(self.hung_up) >= count, HANG_LIMIT)
            return list(self.hung_up)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Response) -> None:
        with self._lock:
            self.scripts[path] = list(answers)

    def at(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@dataclass
class Mail:
    """One message the SMTP receiver got."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content().replace("\r\n", "\n")
        return content


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl); returns (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 recording messages; optional AUTH and STARTTLS."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        certificate: tuple[Path, Path] | None = None,
        refuse: int | None = None,
    ) -> None:
        self.mails: list[Mail] = []
        self.logins: list[tuple[str, str]] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if refuse is not None:
                    return f"{refuse} refused by the test receiver"
                data = session.auth_data
                login = data.decode() if isinstance(data, bytes) else None
                receiver.mails.append(
                    Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
                )
                return "250 OK"

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            if not isinstance(data, LoginPassword) or credentials is None:
                return AuthResult(success=False, handled=False)
            user, password = data.login.decode(), data.password.decode()
            receiver.logins.append((user, password))
            ok = (user, password) == credentials
            return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

        options: dict[str, Any] = {}
        if credentials is not None:
            options["authenticator"] = authenticate
            options["auth_require_tls"] = certificate is not None
        if certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(certificate[0]), str(certificate[1]))
            options["tls_context"] = context
            options["require_starttls"] = True
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def store_dump(store: Store) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(table, row) for every row of every fwmon table of the store."""
    if store.dialect == "sqlite":
        names = [r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        names = [
            r[0]
            for r in store.query(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        ]
    for name in sorted(names):
        for row in store.query(f"SELECT * FROM {name}"):
            yield name, row


def channels_config(
    http: HttpReceiver | None = None,
    smtp: SmtpReceiver | None = None,
    digest: Path | None = None,
    *,
    webhook_env: str = "FWMON_TEST_PAGER_URL",
    slack_env: str = "FWMON_TEST_SLACK_URL",
) -> dict[str, Any]:
    """A channels table: pager (webhook), slack, email, digest (file) as available."""
    channels: dict[str, Any] = {}
    if http is not None:
        channels["pager"] = {"type": "webhook", "url_env": webhook_env, "timeout": 5}
        channels["slack"] = {"type": "slack", "url_env": slack_env, "timeout": 5}
    if smtp is not None:
        channels["email"] = {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "fwmon@example.test",
            "to": ["team@example.test"],
            "timeout": 5,
        }
    if digest is not None:
        channels["digest"] = {"type": "file", "path": str(digest)}
    return channels


def count_by(requests: Sequence[Request], key: str) -> Mapping[str, int]:
    """Requests per path."""
    out: dict[str, int] = {}
    for request in requests:
        value = getattr(request, key)
        out[value] = out.get(value, 0) + 1
    return out
