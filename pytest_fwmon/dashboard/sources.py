"""Where the dashboard reads runs: a history store, a single report, or both.

:class:`StoreSource` reads a history store, :class:`ReportSource` a single report, and
:class:`LayeredSource` both (the report is shown as a run when the store does not hold it
yet). :func:`open_source` picks them the way ``fwmon dashboard`` does. Every source has a cheap
``version()`` token: on SQLite ``PRAGMA data_version``, on PostgreSQL an aggregate over the
runs table plus a :data:`PG_VERSION_TTL`-second clock, for a report the file's size and
modification time.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

from ..core.errors import ReportError
from ..core.report import load_report
from ..history.connect import open_store
from ..history.metrics import extract, gate_verdict, is_green
from ..history.store import DEFAULT_PATH, RunInfo, Store, iso_to_ts, parse_time

#: Seconds a PostgreSQL data version stays valid (it cannot see alert-table changes).
PG_VERSION_TTL: Final = 5.0


class Source(Protocol):
    """What the dashboard reads (a subset of :class:`~pytest_fwmon.history.store.Store`)."""

    #: Where the data comes from, for messages and the page footer.
    location: str

    def list_runs(
        self, branch: str | None = None, since: Any = None, limit: int | None = None
    ) -> list[RunInfo]:
        """Return the runs, oldest first, filtered by branch, start time and count."""

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Return the report of run ``run_id``, or None."""

    def latest_run(self, branch: str | None = None) -> dict[str, Any] | None:
        """Return the newest report (on ``branch`` when given), or None."""

    def series(
        self,
        metric: str,
        branch: str | None = None,
        since: Any = None,
        limit: int | None = None,
    ) -> list[tuple[float, str, float]]:
        """Return the values of ``metric`` over the runs."""

    def metrics(self) -> list[str]:
        """Return the metric names the source holds."""

    def count_runs(self, branch: str | None = None) -> int:
        """Return the number of runs (on ``branch`` when given)."""

    def iter_reports(self) -> Iterator[tuple[RunInfo, dict[str, Any]]]:
        """Yield every run with its report."""

    def version(self) -> str:
        """Return a token that changes when the data may have changed."""

    def close(self) -> None:
        """Release what the source holds open."""


def run_info(report: Mapping[str, Any]) -> RunInfo:
    """Return the :class:`RunInfo` of a report, as the store would record it."""
    run = report["run"]
    git = run.get("git") or {}
    ci = run.get("ci") or {}
    return RunInfo(
        run_id=str(run["id"]),
        ts=iso_to_ts(run["started"]),
        started=run["started"],
        finished=run["finished"],
        duration=float(run["duration"]),
        project=str(run["project"]),
        branch=git.get("branch"),
        sha=git.get("sha"),
        ci_url=ci.get("run_url"),
        green=is_green(report),
        gate_passed=gate_verdict(report),
        archived=False,
    )


class StoreSource:
    """A history store as a dashboard source."""

    def __init__(self, store: Store) -> None:
        """Read runs from ``store``."""
        self.store = store
        self.location = store.location
        self._pg_cache: tuple[float, str] = (-math.inf, "")

    def list_runs(
        self, branch: str | None = None, since: Any = None, limit: int | None = None
    ) -> list[RunInfo]:
        """Return the runs oldest first (see :meth:`Store.list_runs`)."""
        return self.store.list_runs(branch=branch, since=since, limit=limit)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """One report."""
        return self.store.get_run(run_id)

    def latest_run(self, branch: str | None = None) -> dict[str, Any] | None:
        """Return the newest report."""
        return self.store.latest_run(branch)

    def series(
        self,
        metric: str,
        branch: str | None = None,
        since: Any = None,
        limit: int | None = None,
    ) -> list[tuple[float, str, float]]:
        """One metric's points."""
        return self.store.series(metric, branch=branch, since=since, limit=limit)

    def metrics(self) -> list[str]:
        """Return the stored metric names."""
        return self.store.metrics()

    def count_runs(self, branch: str | None = None) -> int:
        """Return the number of runs."""
        return self.store.count_runs(branch)

    def iter_reports(self) -> Iterator[tuple[RunInfo, dict[str, Any]]]:
        """Every run with its report, oldest first, streamed."""
        for _run_id, _ts, text in self.store.iter_reports_text():
            report = json.loads(text)
            yield run_info(report), report

    def version(self) -> str:
        """Return a token that changes whenever another connection commits (module docstring)."""
        if self.store.dialect == "sqlite":
            return f"sqlite:{self.store.query('PRAGMA data_version')[0][0]}"
        now = time.monotonic()
        if now - self._pg_cache[0] < PG_VERSION_TTL:
            return self._pg_cache[1]
        row = self.store.query(
            "SELECT COUNT(*), MAX(ts), COALESCE(SUM(gate_passed), 0) FROM fwmon_runs"
        )[0]
        token = f"pg:{row[0]}:{row[1]}:{row[2]}:{int(time.time() // PG_VERSION_TTL)}"
        self._pg_cache = (now, token)
        return token

    def close(self) -> None:
        """Close the store."""
        self.store.close()


class ReportSource:
    """One report as a dashboard source (a history of one run)."""

    def __init__(self, report: Mapping[str, Any], location: str, path: Path | None = None) -> None:
        """Serve the one ``report``, read from ``path`` when given."""
        self.report = dict(report)
        self.location = location
        self.path = path
        self.info = run_info(report)
        self.values = extract(report)

    @classmethod
    def load(cls, path: Path) -> ReportSource:
        """Read and validate a report file (ReportError, exit 3, when it is not usable)."""
        return cls(load_report(path), str(path), path)

    def _match(self, branch: str | None, since: Any) -> bool:
        if branch is not None and self.info.branch != branch:
            return False
        start = parse_time(since)
        return start is None or self.info.ts >= start

    def list_runs(
        self, branch: str | None = None, since: Any = None, limit: int | None = None
    ) -> list[RunInfo]:
        """Return the one run, when it matches."""
        return [self.info] if self._match(branch, since) and limit != 0 else []

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Return the report when the id is its run's."""
        return self.report if run_id == self.info.run_id else None

    def latest_run(self, branch: str | None = None) -> dict[str, Any] | None:
        """Return the report (on ``branch`` when given)."""
        return self.report if self._match(branch, None) else None

    def series(
        self,
        metric: str,
        branch: str | None = None,
        since: Any = None,
        limit: int | None = None,
    ) -> list[tuple[float, str, float]]:
        """One point, when the report has the metric."""
        if metric not in self.values or not self._match(branch, since) or limit == 0:
            return []
        return [(self.info.ts, self.info.run_id, self.values[metric])]

    def metrics(self) -> list[str]:
        """Return the report's metric names."""
        return sorted(self.values)

    def count_runs(self, branch: str | None = None) -> int:
        """1, or 0 when the branch differs."""
        return int(self._match(branch, None))

    def iter_reports(self) -> Iterator[tuple[RunInfo, dict[str, Any]]]:
        """Return the one run."""
        yield self.info, self.report

    def version(self) -> str:
        """Return the report file's size and modification time."""
        if self.path is None:
            return "report"
        try:
            stat = self.path.stat()
        except OSError:
            return "report:gone"
        return f"report:{stat.st_size}:{stat.st_mtime_ns}"

    def close(self) -> None:
        """Nothing to close."""


class LayeredSource:
    """A store plus one report it does not hold (yet): the report is the newest run."""

    def __init__(self, base: StoreSource, extra: ReportSource) -> None:
        """Serve the runs of ``base`` with the report of ``extra`` added."""
        self.base = base
        self.extra = extra
        self.store = base.store
        self.location = f"{base.location} + {extra.location}"

    def list_runs(
        self, branch: str | None = None, since: Any = None, limit: int | None = None
    ) -> list[RunInfo]:
        """Return the runs of both, oldest first."""
        runs = self.base.list_runs(branch, since, limit) + self.extra.list_runs(branch, since)
        runs.sort(key=lambda r: (r.ts, r.run_id))
        return runs[-limit:] if limit else runs if limit is None else []

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """From the report, else the store."""
        return self.extra.get_run(run_id) or self.base.get_run(run_id)

    def latest_run(self, branch: str | None = None) -> dict[str, Any] | None:
        """Return the newer of the two."""
        stored = self.base.latest_run(branch)
        mine = self.extra.latest_run(branch)
        if stored is None or mine is None:
            return mine or stored
        return mine if run_info(mine).ts >= run_info(stored).ts else stored

    def series(
        self,
        metric: str,
        branch: str | None = None,
        since: Any = None,
        limit: int | None = None,
    ) -> list[tuple[float, str, float]]:
        """Points of both, oldest first."""
        points = self.base.series(metric, branch, since, limit) + self.extra.series(
            metric, branch, since
        )
        points.sort()
        return points[-limit:] if limit else points if limit is None else []

    def metrics(self) -> list[str]:
        """Names of both."""
        return sorted(set(self.base.metrics()) | set(self.extra.metrics()))

    def count_runs(self, branch: str | None = None) -> int:
        """Return the number of runs of both."""
        return self.base.count_runs(branch) + self.extra.count_runs(branch)

    def iter_reports(self) -> Iterator[tuple[RunInfo, dict[str, Any]]]:
        """Return the store's runs, then the report."""
        yield from self.base.iter_reports()
        yield from self.extra.iter_reports()

    def version(self) -> str:
        """Both versions."""
        return f"{self.base.version()}+{self.extra.version()}"

    def close(self) -> None:
        """Close the store."""
        self.base.close()


def open_source(
    root: Path,
    *,
    history: str | None = None,
    report: str | Path | None = None,
    no_history: bool = False,
) -> Source:
    """Return the source ``fwmon dashboard`` reads.

    * ``history`` (a path or URL; default ``<root>/.fwmon/history.db``) is opened read-only;
      an explicit ``history`` that cannot be opened is an error, the default one may be absent;
    * ``report`` (default ``<root>/.fwmon/report.json`` when there is no store) is shown by
      itself without a store, and layered over the store when the store does not hold it.

    Raises ReportError (exit 3) when there is neither a store nor a report.
    """
    store = None if no_history else _open_history(root, history)
    if store is None:
        return _report_only(root, report)
    return _over_store(store, report)


def _open_history(root: Path, history: str | None) -> Store | None:
    """Open the history store read-only, or return None when the default one is absent."""
    default = history is None or history == ""
    url = None if default else history
    if default and not (root / DEFAULT_PATH).exists():
        return None
    return open_store(url, root, readonly=True)


def _report_only(root: Path, report: str | Path | None) -> Source:
    """Return the source of a report by itself (ReportError when there is none)."""
    if report is None:
        candidate = root / ".fwmon/report.json"
        if not candidate.exists():
            history_db = root / ".fwmon/history.db"
            raise ReportError(
                f"no history store at {history_db} and no report at {candidate}",
                hint="run `pytest --fwmon` first, or pass --history URL or --report PATH",
            )
        report = candidate
    return ReportSource.load(Path(report))


def _over_store(store: Store, report: str | Path | None) -> Source:
    """Return the store's source, with ``report`` layered over it when the store lacks it."""
    base = StoreSource(store)
    if report is None:
        return base
    try:
        extra = ReportSource.load(Path(report))
        if store.has_run(extra.info.run_id):
            return base
    except BaseException:
        store.close()
        raise
    return LayeredSource(base, extra)


__all__ = [
    "PG_VERSION_TTL",
    "LayeredSource",
    "ReportSource",
    "Source",
    "StoreSource",
    "open_source",
    "run_info",
]
