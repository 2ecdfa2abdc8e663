"""Perf baselines (per machine fingerprint) and the regression / stale-baseline decision.

Standard library only. A baseline is read from one of:

- a perf baseline file (``.fwmon/perf-baseline.json`` by default; :data:`FORMAT`), written by
  ``fwmon perf baseline write`` from a report and committed by the user;
- a fwmon report (``.fwmon/report.json`` of an earlier run): its ``benchmarks[]`` with their
  capped samples, under the report's ``run.machine.fingerprint``;
- the history store (``history`` for the configured store, ``history:URL`` for another): the
  newest stored run, read as a report.

Decision (docs/reference/performance.md): with ``max_regression = "p95:10%"`` and ``alpha``,

- **regression** when ``ratio = p95(current) / p95(baseline) > 1.10`` *and* the one-sided
  Mann-Whitney U test (current greater than baseline) gives ``p < alpha``;
- **stale** when ``ratio < 1 - 0.10`` (``max_improvement``) *and* the one-sided test the other
  way gives ``p < alpha``;
- **inconclusive** when either sample is too small for the quantile (fewer than 10 samples
  beyond it); **ok** otherwise. The bootstrap interval of the ratio is reported with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ..core.errors import ConfigError
from ..core.report import write_json_atomic
from . import stats
from .settings import HISTORY, PerfSettings, Shift, default_path, is_history

#: ``format`` field of a perf baseline file.
FORMAT: Final = "fwmon-perf-baseline"
#: Version of the perf baseline file. History: 1. first release.
FORMAT_VERSION: Final = 1

#: Statuses of a comparison, as written to ``benchmarks[].baseline.status``.
STATUSES: Final = ("regression", "stale", "ok", "no-baseline", "refused", "inconclusive")


@dataclass(slots=True)
class Comparison:
    """Result of comparing one benchmark with its baseline."""

    #: One of :data:`STATUSES`.
    status: str
    #: Quantile compared ("p95").
    metric: str | None = None
    #: current / baseline of that quantile.
    ratio: float | None = None
    #: Bootstrap interval of ``ratio``.
    ci: list[float] | None = None
    #: One-sided Mann-Whitney p-value in the direction of the status (greater for regressions).
    p_value: float | None = None
    #: Relative slowdown that counts as a regression (0.10).
    threshold: float | None = None
    #: Baseline value of the quantile, seconds.
    baseline_value: float | None = None
    #: Samples of the baseline.
    baseline_n: int | None = None
    #: Where the baseline came from (path, and the machine used).
    source: str | None = None
    #: One line for a human.
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN and infinities become None)."""
        data = asdict(self)
        for key in ("ratio", "p_value"):
            if isinstance(data[key], float) and not math.isfinite(data[key]):
                data[key] = None
        if data["ci"] is not None:
            data["ci"] = [v if math.isfinite(v) else None for v in data["ci"]]
        return data


def compare(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    regression: Shift,
    improvement: Shift,
    alpha: float,
    confidence: float = 0.95,
    seed: int = stats.DEFAULT_SEED,
    effect: float | None = None,
) -> Comparison:
    """Compare two latency samples (see the module doc for the rule).

    ``effect`` replaces the ratio of the pooled quantiles as the effect size (``fwmon perf-ab``
    passes the median of its pairwise ratios).
    """
    q = regression.q
    needed = stats.samples_needed(q)
    out = Comparison(
        status="ok",
        metric=regression.metric,
        threshold=regression.fraction,
        baseline_n=len(baseline),
    )
    if not baseline or not current:
        out.status = "inconclusive"
        out.reason = "an empty sample cannot be compared"
        return out
    out.baseline_value = stats.quantile(baseline, q)
    out.ratio = _ratio(baseline, current, q) if effect is None else effect
    lo, hi = stats.bootstrap_ratio_ci(baseline, current, q, confidence=confidence, seed=seed)
    out.ci = [lo, hi]
    if len(baseline) < needed or len(current) < needed:
        out.status = "inconclusive"
        out.reason = (
            f"{regression.metric} needs {needed} samples on both sides, "
            f"baseline has {len(baseline)}, current has {len(current)}"
        )
        return out
    slower = stats.mann_whitney_u(current, baseline, alternative="greater").pvalue
    out.p_value = slower
    if out.ratio > 1.0 + regression.fraction and slower < alpha:
        out.status = "regression"
        out.reason = (
            f"{regression.metric} is {out.ratio:.3f}x the baseline "
            f"(limit {1 + regression.fraction:.3f}x, Mann-Whitney p={slower:.2g} < {alpha:g})"
        )
        return out
    ratio_imp = _improvement_ratio(baseline, current, out.ratio, q, improvement.q, effect)
    faster = stats.mann_whitney_u(current, baseline, alternative="less").pvalue
    if ratio_imp < 1.0 - improvement.fraction and faster < alpha:
        out.status = "stale"
        out.p_value = faster
        out.reason = (
            f"{improvement.metric} is {ratio_imp:.3f}x the baseline, faster than "
            f"{1 - improvement.fraction:.3f}x (Mann-Whitney p={faster:.2g}): write a new baseline"
        )
        return out
    out.reason = f"{regression.metric} is {out.ratio:.3f}x the baseline"
    return out


def compare_entry(
    entry: Sequence[float] | None,
    status: str,
    why: str | None,
    samples: Sequence[float],
    settings: PerfSettings,
) -> Comparison:
    """Compare ``samples`` with a baseline's samples ``entry``; without one, say why.

    The perf fixture compares a test's samples with this, and ``fwmon report merge`` the
    samples of a benchmark the shards measured together.
    """
    if entry is None:
        return Comparison(status=status, reason=why)
    comparison = compare(
        entry,
        stats.capped(samples, settings.sample_cap),
        regression=settings.max_regression,
        improvement=settings.max_improvement,
        alpha=settings.alpha,
        confidence=settings.confidence,
        seed=settings.seed,
    )
    comparison.source = why
    return comparison


def _ratio(baseline: Sequence[float], current: Sequence[float], q: float) -> float:
    """Return current / baseline of quantile ``q`` (infinite over a zero baseline)."""
    base = stats.quantile(baseline, q)
    return stats.quantile(current, q) / base if base > 0 else math.inf


def _improvement_ratio(
    baseline: Sequence[float],
    current: Sequence[float],
    ratio: float,
    q: float,
    q_imp: float,
    effect: float | None,
) -> float:
    """Return the ratio the stale test uses: ``ratio`` unless it is of another quantile."""
    if q_imp == q or effect is not None:
        return ratio
    return _ratio(baseline, current, q_imp)


@dataclass(slots=True)
class Entry:
    """Baseline figures of one benchmark."""

    #: Latency samples (capped), seconds.
    samples: list[float]
    #: Stats as stored (p50 ... in seconds).
    stats: dict[str, Any]


class Baseline:
    """Baseline entries per machine fingerprint, loaded from a file."""

    def __init__(self, path: Path, machines: dict[str, dict[str, Entry]], kind: str) -> None:
        """Hold the entries of ``machines`` read from ``path`` (a file of ``kind``)."""
        #: File it was read from.
        self.path = path
        #: fingerprint -> nodeid -> entry.
        self.machines = machines
        #: "baseline" or "report".
        self.kind = kind

    def select(self, fingerprint: str, *, force: bool) -> tuple[dict[str, Entry] | None, str]:
        """Entries for this machine, or with ``force`` those of another; else None and why."""
        if fingerprint in self.machines:
            return self.machines[fingerprint], f"{self.path} (machine {fingerprint})"
        if not self.machines:
            return {}, str(self.path)
        others = ", ".join(sorted(self.machines))
        if force:
            chosen = sorted(self.machines)[-1]
            return self.machines[chosen], f"{self.path} (machine {chosen}, forced)"
        return None, (
            f"baseline {self.path} was recorded on machine {others}, this machine is "
            f"{fingerprint}; comparison refused (write a baseline on this machine with "
            f"`fwmon perf baseline write`, or pass --fwmon-perf-force)"
        )


def _bad(path: Path, what: str) -> ConfigError:
    return ConfigError(
        f"{path} is not a usable perf baseline: {what}",
        hint="rewrite it with `fwmon perf baseline write` or delete it",
    )


def _entry(path: Path, nodeid: str, data: Any) -> Entry:
    if not isinstance(data, dict):
        raise _bad(path, f"entry {nodeid!r} is not an object")
    samples = data.get("samples")
    if not isinstance(samples, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        for v in samples
    ):
        raise _bad(path, f"entry {nodeid!r} has no list of non-negative 'samples'")
    st = data.get("stats", {})
    if not isinstance(st, dict):
        raise _bad(path, f"entry {nodeid!r} has 'stats' that is not an object")
    return Entry(samples=[float(v) for v in samples], stats=st)


def parse(path: Path, doc: Any) -> Baseline:
    """Return a :class:`Baseline` from a parsed baseline file or fwmon report."""
    if not isinstance(doc, dict):
        raise _bad(path, "the top level is not an object")
    if doc.get("format") == FORMAT:
        return _parse_baseline_file(path, doc)
    if "schema_version" in doc and "benchmarks" in doc:
        return _parse_report(path, doc)
    raise _bad(path, f"it is neither a {FORMAT} file nor a fwmon report")


def _parse_baseline_file(path: Path, doc: dict[str, Any]) -> Baseline:
    """Read the entries of every machine of a :data:`FORMAT` file."""
    if doc.get("version") != FORMAT_VERSION:
        raise _bad(path, f"version {doc.get('version')!r} is not supported ({FORMAT_VERSION})")
    machines_doc = doc.get("machines")
    if not isinstance(machines_doc, dict):
        raise _bad(path, "'machines' is not an object")
    machines: dict[str, dict[str, Entry]] = {}
    for fp, machine in machines_doc.items():
        benches = machine.get("benchmarks") if isinstance(machine, dict) else None
        if not isinstance(benches, dict):
            raise _bad(path, f"machine {fp!r} has no 'benchmarks' object")
        machines[fp] = {nodeid: _entry(path, nodeid, e) for nodeid, e in benches.items()}
    return Baseline(path, machines, "baseline")


def _parse_report(path: Path, doc: dict[str, Any]) -> Baseline:
    """Read a report's benchmarks that have samples, under its machine's fingerprint."""
    try:
        fp = doc["run"]["machine"]["fingerprint"]
    except (KeyError, TypeError):
        raise _bad(path, "the report has no run.machine.fingerprint") from None
    benches = doc["benchmarks"]
    if not isinstance(benches, list) or not isinstance(fp, str):
        raise _bad(path, "'benchmarks' is not a list")
    entries: dict[str, Entry] = {}
    for bench in benches:
        if isinstance(bench, dict) and bench.get("samples") and "nodeid" in bench:
            entries[str(bench["nodeid"])] = _entry(path, str(bench["nodeid"]), bench)
    return Baseline(path, {fp: entries}, "report")


def load(path: Path) -> Baseline:
    """Read a baseline file or report; :class:`ConfigError` with the fix when it is unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"perf baseline {path} does not exist",
            hint="write one with `fwmon perf baseline write` or fix the path",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(path, f"invalid JSON at line {exc.lineno} column {exc.colno}") from None
    return parse(path, doc)


def load_history(spec: str, root: Path, default_url: str | None) -> Baseline:
    """Return the newest run of the history store as a baseline (``history`` or ``history:URL``)."""
    from ..history.connect import open_store

    url = spec[len(HISTORY) + 1 :] if spec.startswith(HISTORY + ":") else default_url
    with open_store(url or None, root, readonly=True, create=False) as store:
        report = store.latest_run()
        location = store.location
    if report is None:
        raise ConfigError(
            f"history store {location} has no run to use as a perf baseline",
            hint="run `pytest --fwmon` once first",
        )
    return parse(Path(f"history:{location}"), report)


def load_spec(spec: str, root: Path, history_url: str | None = None) -> Baseline:
    """Return a baseline from a file path (relative to ``root``) or a history spec."""
    if is_history(spec):
        return load_history(spec, root, history_url)
    return load(default_path(root, spec))


def write_from_report(
    report: Mapping[str, Any], output: Path, *, replace_machine: bool = True
) -> tuple[str, int]:
    """Write (or merge into) a baseline file from a report; return (fingerprint, entries).

    Entries of other machines already in ``output`` are kept. For the report's machine, the
    benchmarks of the report replace the old ones (``replace_machine``) or are merged over them.
    """
    try:
        fingerprint = str(report["run"]["machine"]["fingerprint"])
    except (KeyError, TypeError):
        raise ConfigError("the report has no run.machine.fingerprint") from None
    entries = _report_entries(report)
    if not entries:
        raise ConfigError(
            "the report has no benchmark with samples to write",
            hint="run the perf tests with `pytest --fwmon` first",
        )
    doc = _existing_baseline(output)
    machines: dict[str, Any] = doc["machines"]
    old_entries = machines.get(fingerprint, {}).get("benchmarks", {})
    merged = entries if replace_machine else {**old_entries, **entries}
    machines[fingerprint] = {
        "written": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": report.get("run", {}).get("id"),
        "machine": dict(report.get("run", {}).get("machine", {})),
        "benchmarks": dict(sorted(merged.items())),
    }
    doc["machines"] = dict(sorted(machines.items()))
    output.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output, doc)
    return fingerprint, len(merged)


def _report_entries(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the baseline entries of a report's benchmarks that have samples."""
    return {
        str(b["nodeid"]): {"samples": list(b["samples"]), "stats": dict(b.get("stats") or {})}
        for b in report.get("benchmarks", [])
        if isinstance(b, dict) and b.get("samples") and b.get("nodeid")
    }


def _existing_baseline(output: Path) -> dict[str, Any]:
    """Return the baseline file at ``output`` to merge into (a new one when there is none)."""
    if not output.exists():
        return {"format": FORMAT, "version": FORMAT_VERSION, "machines": {}}
    if load(output).kind != "baseline":
        raise ConfigError(f"{output} is a report, not a perf baseline file; choose --output")
    doc: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return doc
