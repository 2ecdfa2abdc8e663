"""A run as the history store keeps it: its row, its summary and its canonical JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..core.errors import ReportError, StoreError
from .metrics import gate_verdict, is_green
from .times import iso_to_ts


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One stored run, without its report."""

    #: ``run.id`` of the report.
    run_id: str
    #: ``run.started`` as Unix seconds (UTC).
    ts: float
    #: ``run.started`` as written in the report (ISO 8601, UTC, ``Z``).
    started: str
    #: ``run.finished`` as written in the report.
    finished: str
    #: ``run.duration`` in seconds.
    duration: float
    #: ``run.project``.
    project: str
    #: ``run.git.branch`` (None when detached or unknown).
    branch: str | None
    #: ``run.git.sha``.
    sha: str | None
    #: ``run.ci.run_url``.
    ci_url: str | None
    #: Green for SLO purposes (see :func:`~pytest_fwmon.history.metrics.is_green`).
    green: bool
    #: The recorded gate verdict, None when none was recorded.
    gate_passed: bool | None
    #: True once ``fwmon history archive`` wrote it to a daily archive.
    archived: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def canonical_json(report: Mapping[str, Any]) -> str:
    """Return the one text a report is stored and exported as: sorted keys, no spaces, UTF-8."""
    try:
        text = json.dumps(
            report, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise ReportError(f"report holds a value JSON cannot carry ({exc})") from None
    if not _encodable(text):
        where = _bad_text(report, "$") or "$"
        raise ReportError(
            f"report holds text that is not valid Unicode (a lone surrogate) at {where}"
        )
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_text(value: Any, where: str) -> str | None:
    """Return the JSON path of the first key or string that UTF-8 cannot encode, or None."""
    if isinstance(value, str):
        return None if _encodable(value) else where
    if isinstance(value, list):
        children = [(f"{where}[{i}]", item) for i, item in enumerate(value)]
    elif isinstance(value, Mapping):
        children = []
        for key, item in value.items():
            if not _encodable(str(key)):
                return f"{where} (a key)"
            children.append((f"{where}.{key}", item))
    else:
        return None
    for path, item in children:
        found = _bad_text(item, path)
        if found is not None:
            return found
    return None


def run_row(report: Mapping[str, Any], text: str) -> tuple[Any, ...]:
    """Return the ``fwmon_runs`` row of ``report`` (``text``: its canonical JSON)."""
    run = report["run"]
    git = run.get("git") or {}
    ci = run.get("ci") or {}
    verdict = gate_verdict(report)
    return (
        run["id"],
        iso_to_ts(run["started"]),
        run["started"],
        run["finished"],
        float(run["duration"]),
        run["project"],
        git.get("branch"),
        git.get("sha"),
        ci.get("run_url"),
        1 if is_green(report) else 0,
        None if verdict is None else int(verdict),
        text,
    )


def _check_run_times(run: Mapping[str, Any]) -> None:
    """Raise ReportError unless ``run.started`` and ``run.finished`` are ISO 8601 times."""
    for key in ("started", "finished"):
        try:
            iso_to_ts(run[key])
        except ValueError:
            raise ReportError(f"report run.{key} {run[key]!r} is not an ISO 8601 time") from None


def _check_run_object(run: Mapping[str, Any]) -> None:
    """Raise ReportError naming the first missing or mistyped field of the run object."""
    for key, kind in (("id", str), ("started", str), ("finished", str), ("project", str)):
        if not isinstance(run.get(key), kind):
            raise ReportError(f"report run.{key} is missing or not a string")
    _check_run_times(run)
    duration = run.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise ReportError("report run.duration is missing or not a number")
    for key in ("git", "ci"):
        if not isinstance(run.get(key, {}), dict):
            raise ReportError(f"report run.{key} is not an object")


def check_run(report: Mapping[str, Any]) -> None:
    """Return the fields the store relies on; ReportError naming the first bad one."""
    run = report.get("run") if isinstance(report, Mapping) else None
    if not isinstance(run, dict):
        raise ReportError("report has no run object; it is not a fwmon report")
    _check_run_object(run)
    for key in ("tests", "pipelines"):
        if not isinstance(report.get(key, {}), dict):
            raise ReportError(f"report {key} is not an object")


def filters(branch: str | None, since: float | None) -> tuple[str, tuple[Any, ...]]:
    """Return a WHERE clause and its parameters for a branch and a start time."""
    clauses: list[str] = []
    params: list[Any] = []
    if branch is not None:
        clauses.append("branch = ?")
        params.append(branch)
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else "", tuple(params))


def run_info(row: Sequence[Any]) -> RunInfo:
    """Return a RunInfo from a ``fwmon_runs`` row (the list columns, in order)."""
    return RunInfo(
        run_id=str(row[0]),
        ts=float(row[1]),
        started=str(row[2]),
        finished=str(row[3]),
        duration=float(row[4]),
        project=str(row[5]),
        branch=row[6],
        sha=row[7],
        ci_url=row[8],
        green=bool(row[9]),
        gate_passed=None if row[10] is None else bool(row[10]),
        archived=bool(row[11]),
    )


def loads(text: str, location: str) -> dict[str, Any]:
    """Return a stored report's JSON; StoreError naming the store when it is corrupt."""
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError:
        raise StoreError(f"history store {location} holds a report that is not JSON") from None
    return data


# -- errors -------------------------------------------------------------------------------
