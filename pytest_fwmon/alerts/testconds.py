"""Conditions on a run's tests: a new flaky test, an expiring quarantine, a red branch.

* ``flaky = "new"``: one alert per test (label ``test`` = its node id) that
  :func:`pytest_fwmon.flaky.classify.classify` finds flaky among the branch's newest
  ``recent_runs`` runs up to this one (flip-rate ``threshold``), and that
  ``fwmon-quarantine.toml`` does not quarantine. Its identity is the test, so it fires once and
  stays firing (repeated only after ``repeat_interval``) while the test is flaky and not
  quarantined; it resolves once the test is quarantined or its evidence leaves the window.
  A run whose report has no ``test_results`` gives no data.
* ``quarantine = "expiring"``: one alert per entry of ``fwmon-quarantine.toml`` (label
  ``test``) whose ``expires`` date is at most ``threshold`` days after the run's day (UTC);
  an expired entry stays active until it is removed or extended.
* ``culprit = "red"``: one alert for the branch, active while its run is red (an ordinary test
  failed; :func:`pytest_fwmon.flaky.culprit.is_red`). Its annotations name what
  ``fwmon culprit`` would: the first red run and its commit, the last green run and its commit,
  and the tests that turned red.

A malformed quarantine file gives no data (the alerts keep their state; the gate reports it).
Node ids come from file names: the ``test`` label carries one as it is (the alert's identity),
the annotations carry it on one line (:func:`pytest_fwmon.core.textsafe.plain`), so that no
channel shows a node id as several lines; each channel then escapes the text for its medium.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..core.errors import ConfigError
from ..core.textsafe import plain
from ..flaky import classify, culprit
from .instances import Instance, RunContext
from .rules import Condition

if TYPE_CHECKING:
    from ..history.store import Store

#: Node ids named in one annotation; the rest are counted.
SHOWN: Final = 5
#: Runs read per query while looking for the branch's last green run.
PAGE: Final = 50

#: Markers in a stored (canonical) report's text: the keys around its test results, and the
#: outcomes that are failures.
_RESULTS_KEY: Final = '"test_results":['
_TESTS_KEY: Final = ',"tests":{'
_FAILED: Final = '"outcome":"failed"'
_ERROR: Final = '"outcome":"error"'
_XFAILED: Final = '"outcome":"xfailed"'
_DECODER: Final = json.JSONDecoder()


def listing(nodeids: list[str]) -> str:
    """Return up to :data:`SHOWN` node ids joined by commas, and how many more there are."""
    text = ", ".join(map(plain, nodeids[:SHOWN])) or "none"
    more = len(nodeids) - SHOWN
    return f"{text} and {more} more" if more > 0 else text


def _older_reports(
    store: Store, run: RunContext, limit: int, offset: int = 0
) -> list[tuple[float, dict[str, Any]]]:
    """Return ``(ts, report)`` of the branch's runs before this one, newest first."""
    rows = store.query(
        "SELECT ts, report FROM fwmon_runs WHERE branch = ? AND ts <= ? AND run_id <> ? "
        "ORDER BY ts DESC, run_id DESC LIMIT ? OFFSET ?",
        (run.branch, run.ts, run.run_id, limit, offset),
    )
    return [(float(ts), json.loads(str(text))) for ts, text in rows]


def _quarantine_entries(run: RunContext) -> list[Any] | None:
    """Return the entries of ``fwmon-quarantine.toml`` (None: no root or a malformed file)."""
    from ..gate import quarantine

    if run.root is None:
        return None
    try:
        return quarantine.load(run.root)
    except ConfigError:
        return None


def _flaky_context(found: classify.Flaky) -> dict[str, Any]:
    """Return a flaky alert's template values."""
    return {
        "test": plain(found.nodeid),
        "flip_rate": found.flip_rate,
        "runs": len(found.runs),
        "commits": len(found.commits),
        "evidence": "; ".join(found.reasons),
    }


def _may_have_failed(record: Mapping[str, Any]) -> bool:
    """Return True when a ``test_results`` record holds a failure (passed at once: no)."""
    if record.get("outcome") == "passed" and len(record.get("attempts") or ()) <= 1:
        return False
    return classify.ever_failed(record)


def _tests_of(reports: list[tuple[float, Mapping[str, Any]]]) -> dict[str, list[classify.TestRun]]:
    """Return the tests of ``reports`` (newest first) that failed in one, each oldest run first.

    A test that never failed in the window cannot be flaky there, so only the others are
    judged: on a suite of thousands of tests that is the difference between milliseconds and
    seconds per evaluation.
    """
    candidates = {
        str(r.get("nodeid"))
        for _ts, report in reports
        for r in report.get("test_results") or []
        if _may_have_failed(r)
    }
    tests: dict[str, list[classify.TestRun]] = {}
    for ts, report in reversed(reports):
        records = [r for r in report.get("test_results") or [] if r.get("nodeid") in candidates]
        for nodeid, test_run in classify.runs_of({**report, "test_results": records}, ts):
            tests.setdefault(nodeid, []).append(test_run)
    return tests


def _results_span(text: str) -> tuple[int, int] | None:
    """Return where the ``test_results`` array of a stored report's text starts and ends.

    The store keeps canonical JSON (sorted keys, no spaces), where ``"test_results":[...]`` is
    followed by ``"tests":{...}``, the last key. None when the text is not shaped so.
    """
    end = text.rfind(_TESTS_KEY)
    start = text.rfind(_RESULTS_KEY, 0, end) if end > 0 else -1
    return None if start < 0 else (start + len(_RESULTS_KEY) - 1, end)


def _stored_results(text: str) -> list[Any] | None:
    """Return the ``test_results`` of a stored report's text, parsing only that array.

    None when the text is not shaped as :func:`_results_span` expects, or the array does not
    end exactly where ``"tests"`` begins (the caller then parses all of it).
    """
    span = _results_span(text)
    if span is None:
        return None
    try:
        value, stop = _DECODER.raw_decode(text, span[0])
    except ValueError:
        return None
    return value if stop == span[1] and isinstance(value, list) else None


def _has_failure(text: str) -> bool:
    """Tell whether a stored report's test results may hold a failed attempt (True: unsure)."""
    span = _results_span(text)
    if span is None:
        return True
    start, end = span
    return any(text.find(marker, start, end) >= 0 for marker in (_FAILED, _ERROR, _XFAILED))


def _window(
    store: Store, run: RunContext, limit: int, failed_now: bool
) -> list[tuple[float, Mapping[str, Any]]] | None:
    """Return ``(ts, report)`` of the branch's runs before this one, newest first, for flakiness.

    A report here holds only what :func:`pytest_fwmon.flaky.classify.runs_of` reads (run id,
    branch, commit, ``test_results``). None when neither this run (``failed_now``) nor any run
    of the window has a failed, errored or quarantined-failed attempt: no test can be flaky,
    and nothing is parsed.
    """
    rows = store.query(
        "SELECT run_id, ts, sha, report FROM fwmon_runs WHERE branch = ? AND ts <= ? "
        "AND run_id <> ? ORDER BY ts DESC, run_id DESC LIMIT ?",
        (run.branch, run.ts, run.run_id, limit),
    )
    texts = [str(r[3]) for r in rows]
    if not failed_now and not any(_has_failure(t) for t in texts):
        return None
    out: list[tuple[float, Mapping[str, Any]]] = []
    for (run_id, ts, sha, _report), text in zip(rows, texts, strict=True):
        results = _stored_results(text)
        if results is None:
            out.append((float(ts), json.loads(text)))
            continue
        head = {"id": run_id, "git": {"branch": run.branch, "sha": sha}}
        out.append((float(ts), {"run": head, "test_results": results}))
    return out


def flaky_instances(
    condition: Condition, run: RunContext, store: Store | None
) -> list[Instance] | None:
    """Return an active instance per flaky test that is not quarantined (None: no data).

    A report without ``test_results`` (an older fwmon) gives no data and reads nothing.
    """
    entries = _quarantine_entries(run)
    if store is None or run.branch is None or entries is None or "test_results" not in run.report:
        return None
    failed_now = any(_may_have_failed(r) for r in run.report["test_results"])
    older = _window(store, run, condition.recent_runs - 1, failed_now)
    if older is None:
        return []
    tests = _tests_of([(run.ts, run.report), *older])
    threshold = classify.THRESHOLD if condition.threshold is None else condition.threshold
    found = classify.classify(tests, condition.recent_runs, threshold)
    return _unquarantined(found, {e.nodeid for e in entries})


def _unquarantined(found: list[classify.Flaky], quarantined: set[str]) -> list[Instance]:
    """Return an active instance per flaky test that is not quarantined."""
    return [
        Instance({"test": f.nodeid}, True, f.flip_rate, _flaky_context(f))
        for f in found
        if f.nodeid not in quarantined
    ]


def _expiry(days: int) -> str:
    """Return how far an expiry date is, in words."""
    if days > 0:
        return f"expires in {days} day{'s' if days != 1 else ''}"
    if days == 0:
        return "expires today"
    return f"expired {-days} day{'s' if days != -1 else ''} ago"


def quarantine_instances(condition: Condition, run: RunContext) -> list[Instance] | None:
    """Return an instance per quarantine entry, active when it expires within the threshold."""
    entries = _quarantine_entries(run)
    if entries is None:
        return None
    today = dt.datetime.fromtimestamp(run.ts, dt.UTC).date()
    within = 7.0 if condition.threshold is None else condition.threshold
    instances = []
    for entry in entries:
        days = (dt.date.fromisoformat(entry.expires) - today).days
        context = {
            "test": plain(entry.nodeid),
            "owner": plain(entry.owner),
            "expires": entry.expires,
            "days_left": days,
            "expiry": _expiry(days),
            "threshold": within,
        }
        instances.append(Instance({"test": entry.nodeid}, days <= within, float(days), context))
    return instances


def _red_streak(store: Store | None, run: RunContext) -> Iterator[Mapping[str, Any]]:
    """Yield the branch's reports before this run, newest first, up to the last green one."""
    if store is None or run.branch is None:
        return
    offset = 0
    while True:
        page = _older_reports(store, run, PAGE, offset)
        for _ts, report in page:
            yield report
            if not culprit.is_red(report):
                return
        if len(page) < PAGE:
            return
        offset += PAGE


def _culprit_context(found: culprit.Culprit) -> dict[str, Any]:
    """Return a red-branch alert's template values from what ``fwmon culprit`` finds."""
    first = found.first_red or {}
    green = found.last_green or {}
    sha = str(first.get("sha") or "")
    return {
        "first_red": first.get("run_id"),
        "culprit": sha[:12] if sha and found.last_green else "unknown",
        "last_green": green.get("run_id"),
        "last_green_sha": str(green.get("sha") or "")[:12] or None,
        "failing": listing(found.failing),
    }


def _failures(report: Mapping[str, Any]) -> float:
    """Return how many ordinary tests failed or errored in ``report``."""
    if "test_results" in report:
        return float(len(culprit.failing_tests(report)))
    tests = report.get("tests") or {}
    return float((tests.get("failed") or 0) + (tests.get("errors") or 0))


def red_instances(run: RunContext, store: Store | None) -> list[Instance] | None:
    """Return the branch's one red-run instance, its culprit in the context (None: no data)."""
    report = run.report
    if not report or ("test_results" not in report and "tests" not in report):
        return None
    if not culprit.is_red(report):
        return [Instance({}, False, 0.0)]
    streak = [*_red_streak(store, run)]
    found = culprit.find([*reversed(streak), report], run.branch)
    return [Instance({}, True, _failures(report), _culprit_context(found))]


__all__ = ["flaky_instances", "listing", "quarantine_instances", "red_instances"]
