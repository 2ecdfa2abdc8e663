"""A throwaway PostgreSQL cluster for tests: Debian's binaries, a temp dir, a loopback port.

Use the fixtures in a test module by importing them (pytest finds fixtures by name)::

    from tests.pgserver import postgres_server, postgres_url  # noqa: F401

``postgres_server`` (session scope)
    a :class:`PgServer` running for the whole session (one per xdist worker);
    ``server.create_database(name) -> url``, ``server.url(dbname) -> url``.
``postgres_url`` (function scope)
    the ``postgresql://`` URL of a fresh, empty database for one test (dropped afterwards).

Outside pytest (benchmarks), ``with start_cluster() as server: ...`` does the same.

Binaries: ``$PG_BINDIR`` if set, else the newest ``/usr/lib/postgresql/*/bin`` (Debian's
``postgresql`` package), else ``initdb`` on ``PATH``. ``initdb`` refuses to run as root, so as
root the cluster runs as the system user ``$FWMON_PG_USER`` (default ``postgres``, created by
the Debian package) through ``runuser``. The cluster listens on 127.0.0.1 only, on a free port,
with its socket in its temp dir, trust authentication for the ``fwmon`` superuser, and
``fsync=off`` (a test cluster need not survive a power cut).

When the binaries, ``runuser``/the user, or psycopg are missing the fixtures skip with the
reason, unless ``FWMON_REQUIRE_POSTGRES=1`` is set (CI sets it): then they fail with the
reason and how to fix it, so a CI machine without PostgreSQL can never pass by skipping.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Superuser created by initdb; trust authentication on loopback.
SUPERUSER = "fwmon"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why and how to fix it."""


def require_postgres() -> bool:
    """True when a missing PostgreSQL must fail the tests instead of skipping them."""
    return os.environ.get("FWMON_REQUIRE_POSTGRES", "") in ("1", "true", "yes")


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``; raises PostgresUnavailable if none."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))

    def version(path: str) -> tuple[int, ...]:
        found = re.search(r"postgresql/([\d.]+)/bin", path)
        return tuple(int(p) for p in found.group(1).split(".")) if found else (0,)

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)[::-1]
    ]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under $PG_BINDIR, "
        "/usr/lib/postgresql/*/bin or PATH; install them with `apt-get install postgresql` "
        "or set PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PgServer:
    """One running cluster; stop it with :meth:`stop` (or use it as a context manager)."""

    def __init__(self, bindir: Path, base: Path, port: int, run_as: str | None) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.port = port
        self.run_as = run_as
        self.host = "127.0.0.1"
        self._stopped = False

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as is None:
            return list(args)
        return ["runuser", "-u", self.run_as, "--", *args]

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            self._cmd(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-1500:]}\n{tail}"
            )

    def url(self, dbname: str = "postgres") -> str:
        """The ``postgresql://`` URL of a database of this cluster."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        name = name or "t_" + uuid.uuid4().hex[:16]
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database (closing other connections to it)."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and remove its files (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            subprocess.run(
                self._cmd(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_as_user() -> str | None:
    if os.geteuid() != 0:
        return None
    user = os.environ.get("FWMON_PG_USER", "postgres")
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root, and initdb refuses root; the user {user!r} to run PostgreSQL as "
            "does not exist (create it, e.g. `useradd --system postgres`, or set FWMON_PG_USER)"
        ) from None
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root, and `runuser` (util-linux) is not installed")
    return user


def start_cluster() -> PgServer:
    """initdb + pg_ctl start on a temp dir and a free loopback port; raises PostgresUnavailable."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PostgresUnavailable(
            "psycopg is not installed; pip install 'pytest-fwmon[postgres]'"
        ) from None
    bindir = find_bindir()
    run_as = _run_as_user()
    base = Path(tempfile.mkdtemp(prefix="fwmon-pg-"))
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    server = PgServer(bindir, base, 0, run_as)
    try:
        server._run(
            str(bindir / "initdb"),
            "-D",
            str(server.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        last: Exception | None = None
        for _attempt in range(3):
            server.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {server.port} "
                f"-c unix_socket_directories={base} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=60"
            )
            try:
                server._run(
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(server.data),
                    "-l",
                    str(base / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                )
            except PostgresUnavailable as exc:
                last = exc
                continue
            atexit.register(server.stop)
            _wait_ready(server)
            return server
        raise PostgresUnavailable(f"PostgreSQL did not start: {last}")
    except BaseException:
        server.stop()
        raise


def _wait_ready(server: PgServer) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(server.url(), connect_timeout=5):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"PostgreSQL does not accept connections: {exc}"
                ) from None
            time.sleep(0.2)


def _unavailable(exc: PostgresUnavailable) -> Any:
    if require_postgres():
        pytest.fail(f"FWMON_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {exc}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """A PostgreSQL cluster running for the whole test session."""
    try:
        server = start_cluster()
    except PostgresUnavailable as exc:
        _unavailable(exc)
        raise AssertionError("unreachable") from exc
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> Iterator[str]:
    """URL of a fresh empty database, dropped after the test."""
    name = "t_" + uuid.uuid4().hex[:16]
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            postgres_server.drop_database(name)
