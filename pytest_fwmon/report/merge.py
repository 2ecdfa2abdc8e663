"""Merge the shard reports of one sharded run (``pytest --fwmon-shard I/N``) into one report.

Tests are summed, checks united (a duplicate item is an error), coverage recombined from
the shards' coverage data files with coverage.py's own combination, benchmarks united, and
the pipelines scored again. Shards of different commits or configurations, a missing or
duplicated shard and an interrupted shard are refused (:class:`ReportError`, exit 3).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import scoring
from ..core.errors import ReportError
from ..core.model import CheckResult
from ..core.report import load_report

#: Numeric fields of ``tests`` that are summed.
SUMMED = ("total", "passed", "failed", "errors", "skipped", "xfailed", "xpassed")


def load_shards(paths: Sequence[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Read every shard report (strictly) and check that they make one whole run."""
    shards = [(path, load_report(path)) for path in paths]
    for path, report in shards:
        _check_one(path, report)
    _check_set([r for _, r in shards])
    return sorted(shards, key=lambda pr: int(pr[1]["run"]["shard"]["index"]))


def _check_one(path: Path, report: dict[str, Any]) -> None:
    """Refuse a report that is not a shard, or whose session did not complete."""
    run = report["run"]
    if "shard" not in run:
        raise ReportError(f"{path} is not a shard report (no run.shard: run with --fwmon-shard)")
    if run.get("completed") is not True:
        raise ReportError(
            f"{path}: shard {run['shard']['index']} did not complete "
            f"({run.get('stopped') or 'interrupted'}); run it again"
        )


def _check_set(reports: list[dict[str, Any]]) -> None:
    """Refuse shards of two commits or configurations, a missing or a duplicated shard."""
    first = reports[0]["run"]
    for key, what in (("sha", "commits"), ("fingerprint", "configurations")):
        values = {_identity(r["run"], key) for r in reports}
        if len(values) > 1:
            raise ReportError(f"the shards are of different {what}: {', '.join(sorted(values))}")
    _check_indexes(reports, int(first["shard"]["count"]))


def _check_indexes(reports: list[dict[str, Any]], count: int) -> None:
    """Refuse a disagreeing shard count, a shard given twice and a missing shard."""
    indexes = [int(r["run"]["shard"]["index"]) for r in reports]
    counts = {int(r["run"]["shard"]["count"]) for r in reports}
    if len(counts) > 1:
        raise ReportError(f"the shards disagree on the shard count: {sorted(counts)}")
    twice = sorted({i for i in indexes if indexes.count(i) > 1})
    if twice:
        raise ReportError(f"shard {twice[0]}/{count} is given more than once")
    missing = sorted(set(range(1, count + 1)) - set(indexes))
    if missing:
        names = ", ".join(f"{i}/{count}" for i in missing)
        raise ReportError(f"missing shard(s) {names}: {len(indexes)} of {count} given")


def _identity(run: dict[str, Any], key: str) -> str:
    if key == "sha":
        return str(run["git"].get("sha"))
    return str(run["shard"]["config_fingerprint"])


def merge_checks(reports: list[dict[str, Any]], coverage_names: set[str]) -> list[dict[str, Any]]:
    """Unite the check items of the shards; a node id in two shards is an error."""
    seen: dict[str, dict[str, Any]] = {}
    for report in reports:
        for check in report["checks"]:
            if check["checker"] in coverage_names:
                continue  # recomputed from the combined data
            if check["nodeid"] in seen:
                raise ReportError(f"check item {check['nodeid']} is in more than one shard")
            seen[check["nodeid"]] = check
    return [seen[k] for k in sorted(seen)]


def merge_tests(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the test counts and durations; the exit status is the worst of the shards."""
    tests: dict[str, Any] = {k: sum(int(r["tests"][k]) for r in reports) for k in SUMMED}
    tests["duration"] = round(sum(float(r["tests"]["duration"]) for r in reports), 6)
    statuses = [r["tests"].get("exitstatus") for r in reports]
    tests["exitstatus"] = _exitstatus(statuses)
    notes = [
        r["tests"].get("exitstatus_note") for r in reports if r["tests"].get("exitstatus_note")
    ]
    tests["exitstatus_note"] = "; ".join(notes) if notes else None
    return tests


def _exitstatus(statuses: list[Any]) -> int | None:
    """Return the exit status of the whole: a failure wins, 5 (no tests) only if all are 5."""
    if any(s is None for s in statuses):
        return None
    failing = [int(s) for s in statuses if s not in (0, 5)]
    if failing:
        return max(failing)
    return 0 if 0 in statuses else 5


def merge_lists(reports: list[dict[str, Any]], key: str, ident: tuple[str, ...]) -> list[Any]:
    """Unite one list member of the shards by its identifying fields; a duplicate is an error."""
    seen: dict[tuple[Any, ...], Any] = {}
    for report in reports:
        for entry in report.get(key) or []:
            name = tuple(entry.get(i) for i in ident)
            if name in seen and key == "benchmarks":
                raise ReportError(f"benchmark {name[0]} is in more than one shard")
            seen.setdefault(name, entry)
    return [seen[k] for k in sorted(seen, key=repr)]


def merge_run(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the merged ``run``: the first shard's, with times, selection and merged_from."""
    run = dict(reports[0]["run"])
    run.pop("shard", None)
    run["id"] = uuid.uuid4().hex
    run["started"] = min(r["run"]["started"] for r in reports)
    run["finished"] = max(r["run"]["finished"] for r in reports)
    run["duration"] = max(float(r["run"]["duration"]) for r in reports)
    run["xdist_workers"] = max(int(r["run"]["xdist_workers"]) for r in reports)
    reasons: list[str] = []
    for report in reports:
        selection = report["run"].get("selection") or {"reasons": []}
        reasons += [x for x in selection["reasons"] if not x.startswith("shard ")]
    run["selection"] = {"partial": bool(reasons), "reasons": list(dict.fromkeys(reasons))}
    run["merged_from"] = [
        {
            "index": r["run"]["shard"]["index"],
            "count": r["run"]["shard"]["count"],
            "run_id": r["run"]["id"],
        }
        for r in reports
    ]
    return run


def merge(paths: Sequence[Path], root: Path) -> dict[str, Any]:
    """Return the merged report of the shard reports at ``paths`` (project checkout ``root``)."""
    shards = load_shards(paths)
    reports = [r for _, r in shards]
    coverage, coverage_checks, names = merged_coverage(shards, root)
    checks = merge_checks(reports, names) + coverage_checks
    checks.sort(key=lambda c: c["nodeid"])
    merged = dict(reports[0])
    merged.update(
        run=merge_run(reports),
        checks=checks,
        tests=merge_tests(reports),
        coverage=coverage,
        benchmarks=merge_lists(reports, "benchmarks", ("nodeid",)),
        resources=merge_lists(reports, "resources", ("nodeid",)),
        integration=merge_lists(reports, "integration", ("kind", "name")),
        extensions={k: v for r in reports for k, v in r.get("extensions", {}).items()},
    )
    results = [CheckResult.from_dict(c) for c in checks]
    merged["pipelines"] = scoring.summarise_pipelines(results, merged["run"]["selected_pipelines"])
    return merged


def merged_coverage(
    shards: list[tuple[Path, dict[str, Any]]], root: Path
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], set[str]]:
    """Combine the shards' coverage data; return the coverage object, its items, their names."""
    from ..checks.coverage import Thresholds, checker_names
    from ..core.config import load_config

    config = load_config(root)
    values = config.validated("quality")
    names = set(checker_names(Thresholds.from_section(values), str(values["diff_base"])))
    files = [_data_file(path, report) for path, report in shards]
    present = [f for f in files if f is not None]
    if not present:
        return None, _coverage_items_of(shards[0][1], names), names
    summary, results = _recompute(root, config, values, present, shards[0][1])
    return summary, [c.to_dict() for c in results], names


def _coverage_items_of(report: dict[str, Any], names: set[str]) -> list[dict[str, Any]]:
    """Return a shard's own coverage items (no shard measured coverage)."""
    return [c for c in report["checks"] if c["checker"] in names]


def _data_file(path: Path, report: dict[str, Any]) -> Path | None:
    """Return a shard's coverage data file (next to its report); refuse a missing one."""
    name = report["run"]["shard"].get("coverage_data")
    if name is None:
        return None
    data = path.parent / Path(str(name)).name
    if not data.is_file():
        raise ReportError(
            f"{path}: its coverage data file {data} is missing (copy it with the report)"
        )
    return data


def _recompute(
    root: Path, config: Any, values: dict[str, Any], files: list[Path], first: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[CheckResult]]:
    """Combine the data files with coverage.py and evaluate the coverage items on them."""
    import warnings

    from ..checks.coverage import (
        CoverageUnavailable,
        Thresholds,
        _new_coverage,
        changed_lines,
        diff_coverage,
        evaluate,
        json_data,
        summarise,
    )
    from ..core.errors import ConfigError
    from ..plugin.quality import _coverage_names_what_to_measure, default_source

    source = (
        None
        if _coverage_names_what_to_measure(root, config, values)
        else default_source(root, config)
    )
    thresholds = Thresholds.from_section(values)
    base = str(values["diff_base"])
    mode = str((first.get("coverage") or {}).get("source") or "fwmon")
    with tempfile.TemporaryDirectory(prefix="fwmon-merge-") as tmp:
        cov = _new_coverage(
            Path(tmp) / ".coverage",
            branch=bool(values["branch"]),
            rcfile=str(values["coverage_rcfile"]),
            suffix=False,
            source=source,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cov.combine([str(f) for f in files], keep=True)
            cov.save()
        try:
            summary = summarise(json_data(cov), root, mode)
        except CoverageUnavailable as exc:
            return None, evaluate(None, thresholds, diff_base=base, error=str(exc))
    diff_error = None
    if base:
        try:
            changed, merge_base = changed_lines(root, base)
            diff_coverage(summary, changed, base, merge_base)
        except ConfigError as exc:
            diff_error = f"diff coverage: {exc.one_line()}"
    return summary.report, evaluate(summary, thresholds, diff_base=base, diff_error=diff_error)
