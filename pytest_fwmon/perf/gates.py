"""From a measurement to a verdict: gate rows, conclusiveness, baseline status, payloads.

Standard library only. The verdict of a perf test (docs/reference/performance.md):

1. **failed** when a gate is breached on a figure that is conclusive (throughput, memory, the
   mean, or a quantile with at least 10 samples beyond it), or the baseline comparison says
   "regression", or "stale" with ``fail_on_stale``;
2. else **inconclusive** when a gated quantile, or the compared quantile, lacks samples;
3. else **passed**.

Gates compare the point estimate with the limit; the interval is shown next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from ..core.model import CheckResult, Finding, fingerprint
from . import stats
from .baseline import Comparison
from .measure import Measurement
from .settings import LIMITS, PerfSettings, settings_to_dict

#: Rule ids of the findings a perf test can produce, with severity and meaning.
RULES: Final = {
    "PERF001": ("high", "gate breached"),
    "PERF002": ("medium", "inconclusive: too few samples for the asked quantile"),
    "PERF003": ("high", "regression against the baseline"),
    "PERF004": ("low", "baseline stale: the code got faster"),
    "PERF005": ("info", "baseline comparison refused: baseline of another machine"),
    "PERF006": ("info", "not run: perf tests cannot run here (xdist without loadgroup)"),
}

VERDICTS: Final = ("passed", "failed", "inconclusive", "not-run")
#: Outcome of the "check" payload for each verdict (inconclusive is an error, never a pass).
CHECK_OUTCOME: Final = {
    "passed": "passed",
    "failed": "failed",
    "inconclusive": "error",
    "not-run": "not-run",
}


@dataclass(slots=True)
class Gate:
    """One limit checked against one measured figure."""

    metric: str
    limit: float
    unit: str
    measured: float | None
    ci: list[float] | None
    passed: bool
    conclusive: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "metric": self.metric,
            "limit": self.limit,
            "unit": self.unit,
            "measured": _finite(self.measured),
            "ci": None if self.ci is None else [_finite(v) for v in self.ci],
            "passed": self.passed,
            "conclusive": self.conclusive,
            "reason": self.reason,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(slots=True)
class PerfResult:
    """Everything decided about one perf test."""

    nodeid: str
    name: str
    verdict: str
    reason: str | None
    summary: stats.Summary | None
    p95_ci: list[float] | None
    gates: list[Gate]
    comparison: Comparison
    measurement: Measurement | None
    settings: PerfSettings
    fingerprint: str
    findings: list[Finding] = field(default_factory=list)


def _ci_for(
    key: str, m: Measurement, s: stats.Summary, settings: PerfSettings
) -> list[float] | None:
    stat = LIMITS[key].statistic
    if stat in stats.REPORTED_QUANTILES:
        lo, hi = stats.bootstrap_quantile_ci(
            m.samples,
            stats.REPORTED_QUANTILES[stat],
            confidence=settings.confidence,
            seed=settings.seed,
        )
        return [lo, hi]
    if stat == "mean" and s.n > 1:
        z = stats_z(settings.confidence)
        half = z * s.stddev / math.sqrt(s.n)
        return [s.mean - half, s.mean + half]
    if stat == "ops" and m.ops_ci is not None:
        return list(m.ops_ci)
    return None


def stats_z(confidence: float) -> float:
    """Two-sided normal quantile for ``confidence``."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def evaluate_gates(m: Measurement, s: stats.Summary, settings: PerfSettings) -> list[Gate]:
    """Return one :class:`Gate` per limit in ``settings``."""
    return [_gate(key, limit, m, s, settings) for key, limit in sorted(settings.limits.items())]


def _gate(key: str, limit: float, m: Measurement, s: stats.Summary, settings: PerfSettings) -> Gate:
    """Check one limit: the figure and its interval in the limit's unit, and the verdict."""
    spec = LIMITS[key]
    measured_raw, conclusive, reason = _figure(spec.statistic, m, s)
    ci_raw = _ci_for(key, m, s, settings)
    measured = None if measured_raw is None else measured_raw / spec.scale
    ci = None if ci_raw is None else [v / spec.scale for v in ci_raw]
    if measured is None:
        passed = False
    elif spec.minimum:
        passed = measured >= limit
    else:
        passed = measured <= limit
    return Gate(key, limit, spec.unit, measured, ci, passed, conclusive, reason)


def _figure(stat: str, m: Measurement, s: stats.Summary) -> tuple[float | None, bool, str | None]:
    """Return the raw figure a statistic gates, whether it is conclusive, and why not."""
    if stat in stats.REPORTED_QUANTILES:
        q = stats.REPORTED_QUANTILES[stat]
        if not stats.is_conclusive(s.n, q):
            return (
                getattr(s, stat),
                False,
                f"{stat} needs {stats.samples_needed(q)} samples, got {s.n}",
            )
        return getattr(s, stat), True, None
    if stat == "mean":
        return s.mean, True, None
    if stat == "ops":
        if m.ops is None:
            return None, False, "throughput was not measured (throughput_time = 0)"
        return m.ops, True, None
    if m.mem_peak_bytes is None:
        return None, False, "memory was not measured (memory = false)"
    return float(m.mem_peak_bytes), True, None


def decide(
    gates: list[Gate], s: stats.Summary, comparison: Comparison, settings: PerfSettings
) -> tuple[str, str | None]:
    """(verdict, reason) from gates and comparison (see the module doc)."""
    breached = [g for g in gates if g.conclusive and not g.passed]
    if breached:
        return "failed", "; ".join(_breach_text(g) for g in breached)
    if comparison.status == "regression":
        return "failed", f"regression: {comparison.reason}"
    if comparison.status == "stale" and settings.fail_on_stale:
        return "failed", f"baseline stale: {comparison.reason}"
    missing = _missing_samples(gates, comparison)
    if missing:
        return "inconclusive", (
            "; ".join(missing)
            + f" (n < 10/(1-q); {s.n} samples fit in time_budget={settings.time_budget:g}s:"
            " raise time_budget or max_rounds, or gate a lower quantile)"
        )
    return "passed", None


def _breach_text(g: Gate) -> str:
    """Say how a breached gate's figure passes its limit."""
    if LIMITS[g.metric].minimum:
        return f"{g.metric} {_fmt(g.measured)} {g.unit} is below the limit {_fmt(g.limit)} {g.unit}"
    return f"{g.metric} {_fmt(g.measured)} {g.unit} exceeds the limit {_fmt(g.limit)} {g.unit}"


def _missing_samples(gates: list[Gate], comparison: Comparison) -> list[str]:
    """Return why each inconclusive gate, and the baseline comparison, lacks samples."""
    missing = [g.reason for g in gates if not g.conclusive and g.reason]
    if comparison.status == "inconclusive" and comparison.reason:
        missing.append(f"baseline comparison: {comparison.reason}")
    return missing


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3e}"


def table(result: PerfResult) -> str:
    """Return the failure text: the verdict line, then metric | limit | measured | CI rows."""
    lines = [f"perf {result.verdict}: {result.reason}" if result.reason else result.verdict]
    rows = [("metric", "limit", "measured", f"{result.settings.confidence:.0%} CI", "")]
    rows.extend(_gate_row(g) for g in result.gates)
    c = result.comparison
    if c.status not in ("no-baseline",) and c.metric:
        rows.append(_comparison_row(c))
    if len(rows) > 1:
        lines.extend(_aligned(rows))
    if result.summary is not None:
        s = result.summary
        lines.append(
            f"n={s.n} p50={_fmt(s.p50 * 1e3)}ms p95={_fmt(s.p95 * 1e3)}ms "
            f"p99={_fmt(s.p99 * 1e3)}ms max={_fmt(s.max * 1e3)}ms"
        )
    if c.status == "refused" and c.reason:
        lines.append(c.reason)
    return "\n".join(line.rstrip() for line in lines)


_Row = tuple[str, str, str, str, str]


def _gate_row(g: Gate) -> _Row:
    ci = "-" if g.ci is None else f"[{_fmt(g.ci[0])}, {_fmt(g.ci[1])}]"
    status = "ok" if g.passed and g.conclusive else "BREACH" if g.conclusive else "n/a"
    return (g.metric, f"{_fmt(g.limit)} {g.unit}", _fmt(g.measured), ci, status)


def _comparison_row(c: Comparison) -> _Row:
    ci = "-" if not c.ci else f"[{_fmt(c.ci[0])}, {_fmt(c.ci[1])}]"
    limit = "-" if c.threshold is None else f"<= {1 + c.threshold:.3g}x"
    measured = "-" if c.ratio is None else f"{c.ratio:.3f}x"
    return (f"{c.metric} vs baseline", limit, measured, ci, c.status)


def _aligned(rows: list[_Row]) -> list[str]:
    """Return the rows as lines with every column left-aligned to its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


def _finding(result: PerfResult, rule: str, message: str, key: str) -> Finding:
    severity, name = RULES[rule]
    path = result.nodeid.split("::", 1)[0]
    return Finding(
        fingerprint=fingerprint("perf", rule, path, f"{result.nodeid}\0{key}", 0),
        pipeline="performance",
        checker="perf",
        rule=rule,
        severity=severity,
        confidence="high" if rule in ("PERF001", "PERF003") else "medium",
        path=path,
        line=0,
        message=f"{result.nodeid}: {message}",
        rule_name=name,
    )


def build_findings(result: PerfResult) -> list[Finding]:
    """Return the findings for breaches, inconclusive figures and the baseline status."""
    out = []
    for g in result.gates:
        if g.conclusive and not g.passed:
            out.append(
                _finding(
                    result,
                    "PERF001",
                    f"{g.metric} measured {_fmt(g.measured)} {g.unit}, limit {_fmt(g.limit)}",
                    g.metric,
                )
            )
    if result.verdict == "inconclusive":
        out.append(_finding(result, "PERF002", result.reason or "inconclusive", "inconclusive"))
    c = result.comparison
    rule = {"regression": "PERF003", "stale": "PERF004", "refused": "PERF005"}.get(c.status)
    if rule is not None:
        out.append(_finding(result, rule, c.reason or c.status, c.status))
    if result.verdict == "not-run":
        out.append(_finding(result, "PERF006", result.reason or "not run", "not-run"))
    return out


def benchmark_payload(result: PerfResult) -> dict[str, Any]:
    """Return the ``benchmarks[]`` entry of the report (schema: ``$defs/benchmark``)."""
    s = result.summary
    settings = result.settings
    return {
        "nodeid": result.nodeid,
        "name": result.name,
        "verdict": result.verdict,
        "reason": result.reason,
        "n": 0 if s is None else s.n,
        "stats": None if s is None else s.to_dict(),
        "p95_ci": result.p95_ci,
        **_measurement_fields(result.measurement, settings.sample_cap),
        "gates": [g.to_dict() for g in result.gates],
        "baseline": result.comparison.to_dict(),
        "machine": result.fingerprint,
        "settings": {
            "time_budget": settings.time_budget,
            "seed": settings.seed,
            "confidence": settings.confidence,
            "max_regression": str(settings.max_regression),
            "alpha": settings.alpha,
        },
    }


def _measurement_fields(m: Measurement | None, sample_cap: int) -> dict[str, Any]:
    """Return the ``benchmarks[]`` fields taken from the measurement (empty without one)."""
    if m is None:
        return {
            "engine": None,
            "ops": None,
            "ops_ci": None,
            "mem_peak_bytes": None,
            "rounds": None,
            "warmup_rounds": None,
            "samples": [],
            "samples_capped": False,
        }
    return {
        "engine": m.engine,
        "ops": _finite(m.ops),
        "ops_ci": None if m.ops_ci is None else [_finite(v) for v in m.ops_ci],
        "mem_peak_bytes": m.mem_peak_bytes,
        "rounds": m.plan.rounds,
        "warmup_rounds": m.plan.warmup,
        "samples": stats.capped(m.samples, sample_cap),
        "samples_capped": len(m.samples) > sample_cap,
    }


def shard_data(
    result: PerfResult, baseline: list[float] | None, status: str, why: str | None
) -> dict[str, Any]:
    """Return what ``fwmon report merge`` needs to evaluate this test on the shards' samples.

    Every latency sample (uncapped), the throughput batches, the effective settings and the
    baseline compared with (its samples, or the status and reason of having none).
    """
    m = result.measurement
    if m is None:
        raise ValueError(f"{result.nodeid} was not measured: no samples to unite")
    return {
        "samples": [float(v) for v in m.samples],
        "batches": {"calls": list(m.batches[0]), "seconds": list(m.batches[1])},
        "estimate": m.plan.estimate,
        "settings": settings_to_dict(result.settings),
        "baseline_samples": baseline,
        "baseline_status": status,
        "baseline_reason": why,
    }


def check_payload(result: PerfResult, duration: float) -> dict[str, Any]:
    """Return the ``checks[]`` entry (a :class:`CheckResult`) that puts the test in its pipeline."""
    check = CheckResult(
        nodeid=result.nodeid,
        pipeline="performance",
        checker="perf",
        outcome=CHECK_OUTCOME[result.verdict],
        path=result.nodeid.split("::", 1)[0],
        duration=round(max(duration, 0.0), 6),
        findings=result.findings,
        reason=result.reason,
        metrics={}
        if result.summary is None
        else {
            "p50": result.summary.p50,
            "p95": result.summary.p95,
            "p99": result.summary.p99,
            "n": result.summary.n,
            "verdict": result.verdict,
        },
    )
    return check.to_dict()


def evaluate(
    *,
    nodeid: str,
    name: str,
    measurement: Measurement,
    settings: PerfSettings,
    comparison: Comparison,
    machine: str,
) -> PerfResult:
    """Summarise, gate, decide and build findings for one measured test."""
    s = stats.summarise(measurement.samples)
    lo, hi = stats.bootstrap_quantile_ci(
        measurement.samples, 0.95, confidence=settings.confidence, seed=settings.seed
    )
    gates = evaluate_gates(measurement, s, settings)
    verdict, reason = decide(gates, s, comparison, settings)
    result = PerfResult(
        nodeid=nodeid,
        name=name,
        verdict=verdict,
        reason=reason,
        summary=s,
        p95_ci=[lo, hi],
        gates=gates,
        comparison=comparison,
        measurement=measurement,
        settings=settings,
        fingerprint=machine,
    )
    result.findings = build_findings(result)
    return result


def not_run(
    nodeid: str, name: str, reason: str, settings: PerfSettings, machine: str
) -> PerfResult:
    """Return a perf test that could not be measured here."""
    result = PerfResult(
        nodeid=nodeid,
        name=name,
        verdict="not-run",
        reason=reason,
        summary=None,
        p95_ci=None,
        gates=[],
        comparison=Comparison(status="no-baseline"),
        measurement=None,
        settings=settings,
        fingerprint=machine,
    )
    result.findings = build_findings(result)
    return result
