"""The dashboard's one data-access layer: what every page and API answer shows.

It reads a :class:`~pytest_fwmon.dashboard.sources.Source` (a history store, a report, or
both; :func:`~pytest_fwmon.dashboard.sources.open_source` picks them).

:class:`Dashboard` turns a source into plain JSON-ready dicts: ``summary()``, ``runs()``,
``run()``, ``trend()``, ``charts()``, ``alerts()``, ``slo()``, ``kpis()``,
``improvements()``, ``flaky()``. The statistics come from :mod:`pytest_fwmon.history` (trends,
SLO, KPIs, improvement), the alert state from :mod:`pytest_fwmon.alerts` and the flaky tests
from :mod:`pytest_fwmon.flaky` (the classification of ``fwmon flaky list``).

``Dashboard.version()`` is a cheap token that changes whenever the data may have changed (a
new run, a gate verdict, an alert, a changed report or gate-result file): the live server keys
its response cache and ETags on it. It is the source's version token
(:mod:`pytest_fwmon.dashboard.sources`) plus the modification times of the gate-result file
and of ``fwmon-quarantine.toml``.

Windows of the trends page: ``7d`` (default), ``30d`` and ``all``, counted back from the newest
run (not from now, so a static site built from an old history still shows its last week);
``all`` is the newest :data:`~pytest_fwmon.history.trends.SERIES_WINDOW` runs of each metric.
Trends, SLO figures and KPIs are over the branch :mod:`pytest_fwmon.history.scope` resolves
(``--branch``, the configuration, the repository's default branch...), the same as
``fwmon trends``/``slo``/``kpis``; the runs list shows every branch unless ``--branch`` is given.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import quote

from ..core.errors import ConfigError, FwmonError, ReportError
from ..core.model import PIPELINES
from ..core.schema import first_error
from ..history.improve import opportunities
from ..history.metrics import gate_verdict
from ..history.store import RunInfo, Store
from ..history.tracking import outcomes
from ..history.trends import SERIES_WINDOW, analyse
from .alertdata import alerts_brief, firing_by_severity, response_figures, zero_severities
from .sources import Source, run_info

#: Windows of the trends page, name -> seconds (None: every run up to the series window).
WINDOWS: Final[dict[str, float | None]] = {"7d": 7 * 86400.0, "30d": 30 * 86400.0, "all": None}
DEFAULT_WINDOW: Final = "7d"

#: Runs listed on the overview and per page of the runs list.
RECENT_RUNS: Final = 10

#: Pipeline status -> overall health, worst first.
_HEALTH_ORDER: Final = ("error", "fail", "pass", "skipped", "not-run", "unknown")

#: Keys of ``[tool.fwmon.dashboard]``.
CONFIG_KEYS: Final = ("refresh", "run_pages", "source_url", "title", "window")


# -- options ------------------------------------------------------------------------------


@dataclass(slots=True)
class Options:
    """How the dashboard shows its data (``[tool.fwmon.dashboard]`` and command line)."""

    #: Page title; default "fwmon — <project>".
    title: str = ""
    #: Seconds between automatic refreshes; 0 turns it off.
    refresh: int = 30
    #: Only runs of this branch (None: every branch).
    branch: str | None = None
    #: Newest runs that get a run page in a static build (0: every run).
    run_pages: int = 0
    #: Link template of a finding: ``{path}``, ``{line}``, ``{sha}`` (URL-quoted path).
    source_url: str = ""
    #: Default trends window.
    window: str = DEFAULT_WINDOW
    #: ``gate-result.json`` of the newest run, when given.
    gate_result: dict[str, Any] | None = None
    #: Where the gate result came from (its version token is its mtime).
    gate_result_path: Path | None = None
    #: ``[tool.fwmon.slo]`` and ``[tool.fwmon.kpis]`` tables as configured.
    slo_section: dict[str, Any] = field(default_factory=dict)
    kpis_section: dict[str, Any] = field(default_factory=dict)
    #: ``[tool.fwmon.alerts]`` as configured (its response times, for the response figures).
    alerts_section: dict[str, Any] = field(default_factory=dict)
    #: Prefix from a page to the project root for finding links in a static build ("" = none).
    root_prefix: str = ""
    #: The project root, where ``fwmon-quarantine.toml`` is (None: no quarantine shown).
    root: Path | None = None
    #: Fixed "now" for relative times (tests); None: the clock.
    now: float | None = None

    @staticmethod
    def from_config(section: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``[tool.fwmon.dashboard]``; return the keys it sets."""
        where = "[tool.fwmon.dashboard]"
        out: dict[str, Any] = {}
        for key, value in section.items():
            if key not in CONFIG_KEYS:
                raise ConfigError(
                    f"unknown key {where} {key}; valid keys: {', '.join(CONFIG_KEYS)}"
                )
            if key in ("refresh", "run_pages"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"{where} {key} must be a whole number >= 0, got {value!r}")
            elif key == "window":
                if value not in WINDOWS:
                    raise ConfigError(
                        f"{where} window must be one of {', '.join(WINDOWS)}, got {value!r}"
                    )
            elif not isinstance(value, str):
                raise ConfigError(f"{where} {key} must be a string, got {value!r}")
            out[key] = value
        return out


def load_gate_result(path: Path) -> dict[str, Any]:
    """Read and validate ``gate-result.json`` (ReportError, exit 3, when it is not usable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(
            f"gate result {path} not found", hint="run `fwmon gate --result-json PATH` first"
        ) from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"gate result {path} cannot be read as JSON ({exc})") from None
    error = first_error("gate-result", data)
    if error is not None:
        raise ReportError(f"gate result {path} does not match the gate-result schema {error}")
    return cast(dict[str, Any], data)


# -- the dashboard ------------------------------------------------------------------------


def _health(statuses: Sequence[str]) -> str:
    for status in _HEALTH_ORDER:
        if status in statuses:
            return status
    return "unknown"


def window_since(window: str, latest_ts: float | None) -> float | None:
    """Start (Unix seconds) of a trends window ending at the newest run."""
    if window not in WINDOWS:
        raise ConfigError(f"window {window!r} is not one of {', '.join(WINDOWS)}")
    seconds = WINDOWS[window]
    if seconds is None or latest_ts is None:
        return None
    return latest_ts - seconds


class Dashboard:
    """Everything the pages and the API show, read from one :class:`Source`."""

    def __init__(self, source: Source, options: Options | None = None) -> None:
        """Read the dashboard data from ``source`` with ``options``."""
        self.source = source
        self.options = options or Options()

    # -- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the source (the store connection)."""
        self.source.close()

    def __enter__(self) -> Dashboard:
        """Return the dashboard itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the source."""
        self.close()

    @property
    def store(self) -> Store | None:
        """The history store behind the source, if any."""
        return cast(Store | None, getattr(self.source, "store", None))

    def now(self) -> float:
        """Return the time relative ages count from."""
        return time.time() if self.options.now is None else self.options.now

    def version(self) -> str:
        """Return a token that changes when the data may have changed (module docstring)."""
        token = self.source.version()
        path = self.options.gate_result_path
        if path is not None:
            with contextlib.suppress(OSError):
                token += f":g{path.stat().st_mtime_ns}"
        if self.options.root is not None:
            with contextlib.suppress(OSError):
                token += f":q{(self.options.root / 'fwmon-quarantine.toml').stat().st_mtime_ns}"
        return token

    def title(self, project: str | None = None) -> str:
        """Return the site's title."""
        if self.options.title:
            return self.options.title
        return f"fwmon — {project}" if project else "fwmon dashboard"

    def source_link(self, report: Mapping[str, Any], path: str, line: int) -> str | None:
        """Where a finding's file and line can be read (see :class:`Options`), or None."""
        run = report.get("run") or {}
        sha = (run.get("git") or {}).get("sha") or ""
        quoted = quote(path)
        if self.options.source_url:
            try:
                return self.options.source_url.format(path=quoted, line=line, sha=sha)
            except (KeyError, IndexError, ValueError):
                return None
        github = _github_link(run.get("ci") or {}, sha, quoted, line)
        if github is not None:
            return github
        if self.options.root_prefix:
            return f"{self.options.root_prefix}{quoted}#L{line}"
        return None

    # -- summary ----------------------------------------------------------------------

    def gate(self, report: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the gate verdict of a run.

        It comes from gate-result.json when that is the run's, else from the verdict recorded
        with the run; a run with neither has none.
        """
        result = self.options.gate_result
        run_id = ((report or {}).get("run") or {}).get("id")
        if result is not None and result["report"].get("run_id") in (None, run_id):
            return {
                "verdict": result["verdict"],
                "source": "gate-result",
                "reasons": list(result["reasons"]),
                "warnings": list(result["warnings"]),
                "policy": result["policy"]["source"],
            }
        verdict = gate_verdict(report) if report is not None else None
        if verdict is None:
            return {"verdict": None, "source": None, "reasons": [], "warnings": [], "policy": None}
        return {
            "verdict": "pass" if verdict else "blocked",
            "source": "history",
            "reasons": [],
            "warnings": [],
            "policy": None,
        }

    def pipelines(self, report: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Status and score per pipeline of a report, in the usual order.

        No measurement, no score: a skipped or not-run pipeline shows none, also for runs
        stored from version 1 reports, which gave skipped pipelines a score.
        """
        out = []
        data = report.get("pipelines") or {}
        for name in PIPELINES:
            entry = data.get(name) or {}
            status = entry.get("status", "not-run")
            out.append(
                {
                    "name": name,
                    "status": status,
                    "score": None if status in ("skipped", "not-run") else entry.get("score"),
                    "counts": dict(entry.get("counts") or {}),
                    "items": entry.get("items", 0),
                    "failed": entry.get("failed", 0),
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        """Return the overview: newest run, health, gate, alerts, SLO and KPIs in brief."""
        branch = self.options.branch
        report = self.source.latest_run(branch)
        total = self.source.count_runs(branch)
        latest = run_info(report).to_dict() if report is not None else None
        pipelines = self.pipelines(report) if report is not None else []
        gate = self.gate(report)
        health = _overall_health(report, pipelines, gate)
        alerts = self.alerts()
        slo = self.slo()
        kpis = self.kpis()
        project = latest["project"] if latest else None
        return {
            "project": project,
            "title": self.title(project),
            "source": self.source.location,
            "branch": branch,
            "runs": total,
            "latest": latest,
            "health": health,
            "pipelines": pipelines,
            "gate": gate,
            "alerts": alerts_brief(alerts),
            "slo": _slo_brief(slo),
            "kpis": kpis["kpis"],
            "refresh": self.options.refresh,
        }

    # -- runs -------------------------------------------------------------------------

    def runs(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Newest runs first: ``limit`` of them after skipping ``offset``."""
        branch = self.options.branch
        total = self.source.count_runs(branch)
        runs = self.source.list_runs(branch, limit=limit + offset) if limit else []
        runs.reverse()
        return {
            "total": total,
            "offset": offset,
            "limit": limit,
            "runs": [r.to_dict() for r in runs[offset : offset + limit]],
        }

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run: its summary, its gate verdict and the report as stored."""
        report = self.source.get_run(run_id)
        if report is None:
            return None
        return {"info": run_info(report).to_dict(), "gate": self.gate(report), "report": report}

    # -- trends -----------------------------------------------------------------------

    def chart_metrics(self) -> list[str]:
        """Metrics charted on the trends page, in page order."""
        stored = set(self.source.metrics())
        names = [f"pipeline.{p}.score" for p in PIPELINES if f"pipeline.{p}.score" in stored]
        names += [m for m in ("coverage.line_percent", "tests.duration") if m in stored]
        for bench in _benchmark_names(stored):
            names += [
                m for m in (f"benchmark.{bench}.p95", f"benchmark.{bench}.ops") if m in stored
            ]
        return names

    def trend_branch(self) -> str | None:
        """Return the branch of the trend charts, resolved as ``fwmon trends`` resolves it."""
        from ..history.scope import kpi_scope

        def produce() -> Any:
            return kpi_scope(
                cast(Store, self.source),
                self.options.kpis_section,
                self.options.slo_section,
                branch=self.options.branch,
                root=self.options.root,
            )

        return cast(str | None, self._memo("trend-scope", produce).branch)

    def trend(self, metric: str, window: str = DEFAULT_WINDOW) -> dict[str, Any]:
        """Points and trend of one metric in a window (see the module docstring)."""
        branch = self.trend_branch()
        latest = self.source.list_runs(branch, limit=1)
        since = window_since(window, latest[-1].ts if latest else None)
        points = self.source.series(metric, branch=branch, since=since, limit=SERIES_WINDOW)
        result = analyse(points, metric=metric)
        return {
            "metric": metric,
            "window": window,
            "since": since,
            "points": [{"ts": ts, "run_id": run_id, "value": v} for ts, run_id, v in points],
            "trend": result.to_dict(),
        }

    def charts(self, window: str = DEFAULT_WINDOW) -> list[dict[str, Any]]:
        """Every chart of the trends page in one window."""
        return [self.trend(metric, window) for metric in self.chart_metrics()]

    # -- alerts, SLO, KPIs, improvements ------------------------------------------------

    def alerts(self) -> dict[str, Any]:
        """Return the firing and pending alerts by severity, from the store's alert state."""
        empty: dict[str, Any] = {
            "available": False,
            "by_severity": zero_severities(),
            "alerts": [],
        }
        store = self.store
        if store is None:
            return {**empty, "reason": "no history store: alerts live in the store"}
        list_alerts = _optional("pytest_fwmon.alerts", "list_alerts")
        if list_alerts is None:
            return {**empty, "reason": "alerts are not available in this fwmon"}
        try:
            views = list_alerts(store, states=("firing", "pending"))
        except FwmonError as exc:
            return {**empty, "reason": exc.one_line()}
        alerts = [v.to_dict() for v in views]
        silenced = sum(1 for a in alerts if a.get("silenced") and a.get("state") == "firing")
        return {
            "available": True,
            "by_severity": firing_by_severity(alerts),
            "silenced": silenced,
            "counted": "firing alerts, silenced ones excluded",
            "alerts": alerts,
            "response": self._response(store),
        }

    def _response(self, store: Store) -> dict[str, Any] | None:
        """Return MTTA/MTTR per severity over the trends window (see :mod:`.alertdata`)."""
        latest = self.source.list_runs(self.options.branch, limit=1)
        return response_figures(
            store,
            self.options.alerts_section,
            window=self.options.window,
            since=window_since(self.options.window, latest[-1].ts if latest else None),
            branch=self.options.branch,
            now=self.now(),
        )

    def _memo(self, key: str, produce: Any) -> Any:
        """Return ``produce()``, computed once per data version (SLO and KPIs read every run)."""
        version = self.version()
        memo: dict[str, Any] = getattr(self, "_figures_memo", None) or {}
        if memo.get("version") != version:
            memo = {"version": version}
            self._figures_memo = memo
        if key not in memo:
            memo[key] = produce()
        return memo[key]

    def slo(self) -> dict[str, Any]:
        """SLA figures and compliance (:func:`pytest_fwmon.history.figures.slo_figures`).

        The branch is resolved as ``fwmon slo`` resolves it; ``note`` says which runs the
        figures are over when that needs saying.
        """
        from ..history.figures import slo_figures

        def produce() -> dict[str, Any]:
            result = slo_figures(
                cast(Store, self.source),
                self.options.slo_section,
                branch=self.options.branch,
                root=self.options.root,
            )
            return result.to_dict()

        return cast(dict[str, Any], self._memo("slo", produce))

    def kpis(self) -> dict[str, Any]:
        """Return the KPIs against their targets (:func:`..history.figures.kpi_figures`)."""
        from ..history.figures import kpi_figures

        def produce() -> dict[str, Any]:
            kpis, scope = kpi_figures(
                cast(Store, self.source),
                self.options.kpis_section,
                self.options.slo_section,
                branch=self.options.branch,
                root=self.options.root,
            )
            return {"kpis": [k.to_dict() for k in kpis], "note": scope.note}

        return cast(dict[str, Any], self._memo("kpis", produce))

    def improvements(self, limit: int = 50) -> dict[str, Any]:
        """Return the ranked improvement opportunities of the newest run, and the implemented.

        See :func:`pytest_fwmon.history.improve.opportunities` and
        :func:`pytest_fwmon.history.tracking.outcomes`.
        """
        report = self.source.latest_run(self.options.branch)
        done = outcomes(self.store, self.options.branch, limit)
        if report is None:
            return {"available": False, "reason": "no runs yet", "opportunities": [], **done}
        found = opportunities(report, store=self.source, branch=self.options.branch)
        return {
            "available": True,
            "run_id": run_info(report).run_id,
            "opportunities": [o.to_dict() for o in found[:limit]],
            **done,
        }

    def flaky(self, tests: Mapping[str, list[Any]] | None = None) -> dict[str, Any]:
        """Return the flaky tests and the quarantine (:func:`pytest_fwmon.flaky.view.page_data`).

        ``tests``: the runs' tests by node id when the caller gathered them already (the
        static build, while it streams the reports); else they are read here.
        """
        from ..flaky import view

        if tests is None:
            tests = view.gather((info.ts, report) for info, report in self.iter_runs())
        today = datetime.fromtimestamp(self.now(), UTC).date()
        return view.page_data(tests, self.options.root, today)

    # -- the static build's input ------------------------------------------------------

    def iter_runs(self) -> Iterator[tuple[RunInfo, dict[str, Any]]]:
        """Every run with its report (the branch filter applied), oldest first."""
        branch = self.options.branch
        for info, report in self.source.iter_reports():
            if branch is None or info.branch == branch:
                yield info, report


def _optional(module: str, name: str) -> Any:
    """``module.name``, or None when this fwmon does not have it yet."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _github_link(ci: Mapping[str, Any], sha: str, quoted: str, line: int) -> str | None:
    """Return the GitHub link of a file's line for a GitHub Actions run, else None."""
    repo = ci.get("repository")
    if ci.get("provider") == "github-actions" and repo and sha:
        return f"https://github.com/{quote(repo)}/blob/{sha}/{quoted}#L{line}"
    return None


def _overall_health(
    report: Mapping[str, Any] | None,
    pipelines: Sequence[Mapping[str, Any]],
    gate: Mapping[str, Any],
) -> str:
    """Return the worst status of the run's selected pipelines; a blocked gate fails a pass."""
    if report is None:
        return "unknown"
    selected = set((report.get("run") or {}).get("selected_pipelines") or PIPELINES)
    health = _health([p["status"] for p in pipelines if p["name"] in selected])
    if gate["verdict"] == "blocked" and health == "pass":
        return "fail"
    return health


def _benchmark_names(stored: set[str]) -> list[str]:
    """Return the names of the benchmarks with a stored P95, sorted."""
    return sorted(
        m[len("benchmark.") : -len(".p95")]
        for m in stored
        if m.startswith("benchmark.") and m.endswith(".p95")
    )


def _slo_brief(slo: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "branch": slo.get("branch"),
        "runs": slo.get("runs", 0),
        "target": slo.get("target"),
        "availability": slo.get("availability_runs"),
        "budget_used": slo.get("budget_used"),
        "budget_remaining": slo.get("budget_remaining"),
        "compliant": slo.get("compliant"),
        "verdict": slo.get("verdict"),
        "insufficient": slo.get("insufficient"),
        "incident_open": slo.get("incident_open"),
        "note": slo.get("note"),
    }


__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_WINDOW",
    "WINDOWS",
    "Dashboard",
    "Options",
    "load_gate_result",
    "window_since",
]
