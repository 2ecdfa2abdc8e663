"""One gate evaluation: report + policy + baseline (+ diff) -> :class:`GateResult`.

Standard library only. The order of checks, and the exit code each problem gives:

1. the policy loads and validates (else exit 2);
2. the report exists, is JSON, is schema version 2 (version 1 is upgraded) and matches the
   schema, its run completed and it is the checked-out commit's (provenance.py; else exit 3);
3. every required pipeline is in the report and ran: "not-run" or "skipped" is exit 3, an
   errored required pipeline blocks (exit 1);
4. the baseline loads (else exit 2); with ``base_ref``, git finds the merge base (else 2);
5. findings are classified (new, baselined, waived, suppressed; see baseline.py), the policy
   guard compares the policy with the one at the merge base, and each condition is judged.

The verdict is "blocked" when any error-level condition fails or is missing, a required
pipeline errored, the policy was weakened (without ``allow_policy_change``) or stale baseline
items exist under ``fail_on_stale``; otherwise "pass".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .. import __version__
from ..core.errors import EXIT_BLOCKED, EXIT_OK, ConfigError, ReportError
from ..core.inputs import no_collection
from ..core.report import load_report
from . import quarantine
from .baseline import DEFAULT_BASELINE, Baseline, Classification, classify, load_baseline
from .metrics import Metrics
from .policy import (
    PYPROJECT_TABLE,
    Condition,
    Policy,
    compare,
    dig,
    load_policy,
    load_preset,
    parse_policy,
    parse_toml,
    policy_from_table,
    weakenings,
)
from .provenance import check_provenance

#: Version of gate-result.json. History: 1. first release.
RESULT_VERSION: Final = 1


@dataclass(slots=True)
class ConditionResult:
    """How one condition fared."""

    condition: Condition
    #: The metric's value, None when the report lacks it.
    actual: float | str | None
    #: "pass", "fail", "missing" or "exempt".
    verdict: str
    #: One phrase: why this verdict.
    why: str
    #: Id of the exemption that applied, if any.
    exemption: str | None = None

    @property
    def blocking(self) -> bool:
        """True when this result blocks the merge."""
        return self.condition.level == "error" and self.verdict in ("fail", "missing")

    @property
    def warning(self) -> bool:
        """True when it only warns."""
        return self.condition.level == "warn" and self.verdict in ("fail", "missing")


@dataclass(slots=True)
class GateResult:
    """Everything one evaluation decided; every output is rendered from this."""

    verdict: str
    policy: Policy
    report_path: str
    report: dict[str, Any]
    classification: Classification
    conditions: list[ConditionResult] = field(default_factory=list)
    #: Why the verdict is "blocked", one line each.
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Exemptions applied, missing metrics allowed, fallbacks: printed, never silent.
    notes: list[str] = field(default_factory=list)
    #: New findings on lines changed since the merge base (all new ones without a base ref).
    diff_findings: list[dict[str, Any]] = field(default_factory=list)
    baseline_source: str | None = None
    base_ref: str | None = None
    merge_base: str | None = None
    changed: dict[str, set[int]] | None = None
    #: How the policy got weaker than at the merge base.
    policy_changes: list[str] = field(default_factory=list)
    generated: str = ""

    @property
    def exit_code(self) -> int:
        """0 pass, 1 blocked."""
        return EXIT_OK if self.verdict == "pass" else EXIT_BLOCKED

    def counts(self) -> dict[str, int]:
        """Count findings per status, and "diff" for new findings on changed lines."""
        c = self.classification
        return {
            "new": len(c.new),
            "baselined": len(c.baselined),
            "waived": len(c.waived),
            "suppressed": len(c.suppressed),
            "diff": len(self.diff_findings),
        }

    def to_dict(self) -> dict[str, Any]:
        """gate-result.json (schema: ``schemas/gate-result.schema.json``).

        ``report`` passed the report schema, which requires ``run``, ``run.git`` and all five
        pipelines, so they are read without fallbacks.
        """
        c = self.classification
        run = self.report["run"]
        diff_ids = {id(f) for f in self.diff_findings}
        return {
            "schema_version": RESULT_VERSION,
            "tool": f"fwmon {__version__}",
            "generated": self.generated,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "report": {
                "path": self.report_path,
                "run_id": run["id"],
                "git_sha": run["git"]["sha"],
            },
            "policy": {"source": self.policy.source, "description": self.policy.description},
            "baseline": self.baseline_source,
            "base_ref": self.base_ref,
            "merge_base": self.merge_base,
            "diff": None
            if self.changed is None
            else {
                "files": len(self.changed),
                "lines": sum(len(v) for v in self.changed.values()),
            },
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "policy_changes": list(self.policy_changes),
            "pipelines": {name: data["status"] for name, data in self.report["pipelines"].items()},
            "conditions": [
                {
                    "id": r.condition.id,
                    "metric": r.condition.metric,
                    "scope": r.condition.scope,
                    "op": r.condition.op,
                    "threshold": r.condition.threshold,
                    "level": r.condition.level,
                    "missing": r.condition.missing,
                    "actual": r.actual,
                    "verdict": r.verdict,
                    "why": r.why,
                    "exemption": r.exemption,
                }
                for r in self.conditions
            ],
            "counts": self.counts(),
            "findings": {
                "new": [dict(f, in_diff=id(f) in diff_ids) for f in c.new],
                "baselined": list(c.baselined),
                "waived": list(c.waived),
                "suppressed": list(c.suppressed),
            },
            "stale": [
                {
                    "kind": "entry",
                    "fingerprint": fp,
                    "count": n,
                    "rule": info.get("rule", ""),
                    "path": info.get("path", ""),
                }
                for fp, n, info in c.stale_entries
            ]
            + [{"kind": "waiver", "index": w.index, "label": w.label()} for w in c.stale_waivers],
            "expired_waivers": [
                dict(w.to_dict(), index=w.index, findings=n) for w, n in c.expired_waivers
            ],
        }


# --- reading the report ---------------------------------------------------------------------


def read_report(path: Path | str) -> dict[str, Any]:
    """Read and validate a report.

    This is :func:`pytest_fwmon.core.report.load_report`: strict JSON, regular files within
    the size cap, the full schema.
    """
    return load_report(path)


# --- evaluation -------------------------------------------------------------------------------


def _in_diff(finding: Mapping[str, Any], changed: Mapping[str, set[int]]) -> bool:
    lines = changed.get(finding["path"])
    if not lines:
        return False
    line = finding["line"]
    if line == 0:
        return True
    return any(n in lines for n in range(line, max(finding["end_line"], line) + 1))


def _show(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _judge(
    condition: Condition, metrics: Metrics, policy: Policy, notes: list[str]
) -> ConditionResult:
    actual, missing_reason = metrics.value(condition.metric, condition.scope)
    label = (
        condition.metric
        if condition.scope == "overall"
        else (f"{condition.metric} ({condition.scope})")
    )
    for exemption in policy.exemptions:
        if condition.id not in exemption.conditions:
            continue
        value, _ = metrics.value(exemption.metric)
        if value is not None and compare(value, exemption.op, exemption.threshold):
            why = (
                f"exempt by {exemption.id}: {exemption.metric} is {_show(value)}, "
                f"{exemption.op} {exemption.threshold} ({exemption.reason})"
            )
            notes.append(f"condition {condition.id} {why}")
            return ConditionResult(condition, actual, "exempt", why, exemption.id)
    if actual is None:
        if condition.missing == "pass":
            why = f'metric {condition.metric} not in report ({missing_reason}); missing = "pass"'
            notes.append(f"condition {condition.id} passes: {why}")
            return ConditionResult(condition, None, "pass", why)
        return ConditionResult(
            condition,
            None,
            "missing",
            f"metric {condition.metric} not in report ({missing_reason})",
        )
    if condition.holds(actual):
        return ConditionResult(
            condition,
            actual,
            "pass",
            f"{label} is {_show(actual)}, {condition.op} {_show(condition.threshold)}",
        )
    return ConditionResult(
        condition,
        actual,
        "fail",
        f"{label} is {_show(actual)}, must be {condition.op} {_show(condition.threshold)}",
    )


def _project_policy_at(root: Path, base: str) -> tuple[Policy | None, str]:
    """Return what ``fwmon gate`` without ``--policy`` enforced at ``base``.

    That is ``[tool.fwmon.gate]`` of pyproject.toml, else the default preset; (None, why)
    when it cannot be read.
    """
    from .diff import show_file

    data = show_file(root, base, root / "pyproject.toml")
    if data is not None:
        source = f"pyproject.toml [tool.fwmon.gate] at {base[:12]}"
        try:
            node = dig(parse_toml(data, source), PYPROJECT_TABLE)
            if node is not None:
                return policy_from_table(node, source), source
        except ConfigError as exc:
            return None, exc.message
    return load_preset("default"), "the default preset (no [tool.fwmon.gate] at the merge base)"


def _guard(
    spec: str | Path | None, policy: Policy, root: Path, base: str, notes: list[str]
) -> list[str]:
    """How the effective policy weakened since the merge base (empty when it did not).

    The policy before is what the same command enforced at the merge base: the same policy
    file when ``--policy`` names a file that existed there, else the project's own policy
    there (``[tool.fwmon.gate]``, else the default preset), which is also what a preset given
    with ``--policy`` is held against. A policy file that is a symbolic link, or one that
    cannot be read at the merge base, counts as a change: the guard cannot judge it.
    """
    from .diff import show_file  # only with --base-ref: keeps subprocess out of the rest

    changes: list[str] = []
    if policy.path is not None and policy.path.is_symlink():
        changes.append(
            f"policy file {policy.path.name} is a symbolic link; commit the policy as a "
            "regular file"
        )
    explicit_file = spec is not None and policy.path is not None
    data = show_file(root, base, policy.path) if explicit_file and policy.path else None
    if data is not None:
        try:
            before: Policy | None = parse_policy(
                data, f"{policy.source} at {base[:12]}", policy.table
            )
            what = f"{policy.source} at the merge base"
        except ConfigError as exc:
            before, what = None, exc.message
    else:
        before, what = _project_policy_at(root, base)
    if before is None:
        changes.append(f"the policy at the merge base cannot be read ({what})")
        return changes
    notes.append(f"policy guard: compared {policy.source} with {what}")
    return changes + weakenings(before, policy)


def _stale_reason(c: Classification) -> str:
    parts = [
        f"entry {info.get('rule', '?')} {info.get('path', '?')}:{info.get('line', '?')}"
        + (f" x{n}" if n > 1 else "")
        for _fp, n, info in c.stale_entries[:5]
    ]
    parts += [w.label() for w in c.stale_waivers[: max(0, 5 - len(parts))]]
    more = c.stale - len(parts)
    listing = ", ".join(parts) + (f" and {more} more" if more > 0 else "")
    noun = "item matches" if c.stale == 1 else "items match"
    return (
        f"fail_on_stale: {c.stale} baseline {noun} nothing ({listing}); "
        "drop them with `fwmon baseline write --prune`"
    )


def check_required(report: Mapping[str, Any], policy: Policy, report_path: str) -> list[str]:
    """Raise :class:`ReportError` for a required pipeline that did not run; list errored ones.

    The report passed its schema, which requires all five pipelines, each with a status, and a
    policy's ``required_pipelines`` names only those five: every one is there to look up.
    """
    reasons = []
    for name in policy.required_pipelines:
        data = report["pipelines"][name]
        status = data["status"]
        if status in ("not-run", "skipped"):
            why = f": {data['reason']}" if data.get("reason") else ""
            raise ReportError(
                f"report {report_path} lacks required pipeline {name} (status {status}{why})",
                hint="run it with `pytest --fwmon`, or remove it from required_pipelines",
            )
        if status == "error":
            reasons.append(f"required pipeline {name} errored")
    return reasons


def _diff_findings(
    c: Classification,
    policy: Policy,
    changed: dict[str, set[int]] | None,
    notes: list[str],
) -> list[dict[str, Any]]:
    """Return the new findings on changed lines (all new ones without a diff, with a note)."""
    if changed is not None:
        return [f for f in c.new if _in_diff(f, changed)]
    if any(cond.scope == "diff" for cond in policy.conditions):
        notes.append('no --base-ref: conditions with scope "diff" count every new finding')
    return list(c.new)


def _condition_outcomes(
    results: list[ConditionResult], reasons: list[str], warnings: list[str]
) -> None:
    """Add a reason for each blocking condition and a warning for each warning one."""
    for r in results:
        if r.blocking:
            reasons.append(f"condition {r.condition.id} failed: {r.why}")
        elif r.warning:
            warnings.append(f"condition {r.condition.id} warns: {r.why}")


def _expired_warnings(c: Classification) -> list[str]:
    """Return a warning for each expired waiver, with how many findings count again."""
    return [
        f"{waiver.label()} expired on {waiver.expires.isoformat()}; "
        + (
            f"its {hidden} finding counts again"
            if hidden == 1
            else f"its {hidden} findings count again"
        )
        for waiver, hidden in c.expired_waivers
    ]


def _stale_outcome(
    c: Classification, policy: Policy, reasons: list[str], warnings: list[str]
) -> None:
    """Block on stale baseline items under ``fail_on_stale``, else warn about them."""
    if not c.stale:
        return
    if policy.fail_on_stale:
        reasons.append(_stale_reason(c))
    else:
        warnings.append(_stale_reason(c).removeprefix("fail_on_stale: "))


def _policy_change_outcome(
    changes: list[str], allow: bool, reasons: list[str], notes: list[str]
) -> None:
    """Block on a weakened policy, or note it when ``--allow-policy-change`` accepts it."""
    if not changes:
        return
    if allow:
        notes.append("policy weakened, allowed by --allow-policy-change: " + "; ".join(changes))
    else:
        reasons.append(
            "policy weakened: "
            + "; ".join(changes)
            + " (a reviewer can accept it with --allow-policy-change)"
        )


def evaluate(
    report: dict[str, Any],
    policy: Policy,
    baseline: Baseline | None,
    *,
    report_path: str = "report",
    changed: dict[str, set[int]] | None = None,
    policy_changes: list[str] | None = None,
    allow_policy_change: bool = False,
    today: dt.date | None = None,
    base_ref: str | None = None,
    base: str | None = None,
    notes: list[str] | None = None,
    quarantine_expired: int = 0,
) -> GateResult:
    """Judge a loaded, valid report; raises :class:`ReportError` for a missing pipeline."""
    today = today or dt.datetime.now(dt.UTC).date()
    reasons = check_required(report, policy, report_path)
    warnings: list[str] = []
    notes = list(notes or [])
    findings = [f for check in report["checks"] for f in check["findings"]]
    c = classify(findings, baseline, today)
    diff_findings = _diff_findings(c, policy, changed, notes)
    scoped = {
        "overall": [*c.new, *c.baselined, *c.waived],
        "new": c.new,
        "diff": diff_findings,
    }
    metrics = Metrics(
        report,
        scoped,
        stale=c.stale,
        expired=len(c.expired_waivers),
        changed=changed,
        quarantine_expired=quarantine_expired,
    )
    results = [_judge(cond, metrics, policy, notes) for cond in policy.conditions]
    _condition_outcomes(results, reasons, warnings)
    warnings += _expired_warnings(c)
    _stale_outcome(c, policy, reasons, warnings)
    changes = list(policy_changes or [])
    _policy_change_outcome(changes, allow_policy_change, reasons, notes)
    return GateResult(
        verdict="blocked" if reasons else "pass",
        policy=policy,
        report_path=report_path,
        report=report,
        classification=c,
        conditions=results,
        reasons=reasons,
        warnings=warnings,
        notes=notes,
        diff_findings=diff_findings,
        baseline_source=baseline.source if baseline else None,
        base_ref=base_ref,
        merge_base=base,
        changed=changed,
        policy_changes=changes,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def resolve_baseline(
    spec: str | Path | None, root: Path, *, use_default: bool = True
) -> Baseline | None:
    """``spec`` as a file (must exist), else ``root/fwmon-baseline.json`` when present."""
    if spec is not None:
        path = Path(spec)
        return load_baseline(path if path.is_absolute() else root / path)
    default = root / DEFAULT_BASELINE
    if use_default and default.is_file():
        return load_baseline(default)
    return None


def run_gate(
    report_path: Path | str,
    policy_path: str | Path | None = None,
    baseline_path: str | Path | None = None,
    base_ref: str | None = None,
    *,
    root: Path | str | None = None,
    allow_policy_change: bool = False,
    use_default_baseline: bool = True,
    today: dt.date | None = None,
    allow_other_commit: bool = False,
) -> GateResult:
    """Run the gate; the plain-Python face of ``fwmon gate``.

    ``policy_path`` is a TOML file or a preset name (None: ``[tool.fwmon.gate]`` of
    ``root/pyproject.toml``, else the default preset); ``baseline_path`` None uses
    ``root/fwmon-baseline.json`` when it exists (unless ``use_default_baseline`` is False).
    Raises :class:`~pytest_fwmon.core.errors.ConfigError` (exit 2) or
    :class:`~pytest_fwmon.core.errors.ReportError` (exit 3); a blocked verdict is a result, not
    an exception.
    """
    root = Path(root) if root is not None else Path.cwd()
    policy = load_policy(policy_path, root)
    report_file = Path(report_path)
    if not report_file.is_absolute():
        report_file = root / report_file
    with no_collection():
        report = read_report(report_file)
        notes = check_provenance(
            report, str(report_path), root, allow_other_commit=allow_other_commit
        )
        check_required(report, policy, str(report_path))
        baseline = resolve_baseline(baseline_path, root, use_default=use_default_baseline)
    changed = None
    base = None
    changes: list[str] = []
    if base_ref is not None:
        from .diff import changed_lines, merge_base

        base = merge_base(root, base_ref)
        changed = changed_lines(root, base_ref)
        changes = _guard(policy_path, policy, root, base, notes)
        changes += quarantine.growth_since(root, base)
    expired = quarantine.expired(quarantine.load(root), today or dt.datetime.now(dt.UTC).date())
    notes += [f"quarantine of {e.nodeid} expired on {e.expires} (owner {e.owner})" for e in expired]
    return evaluate(
        report,
        policy,
        baseline,
        report_path=str(report_path),
        changed=changed,
        policy_changes=changes,
        allow_policy_change=allow_policy_change,
        today=today,
        base_ref=base_ref,
        base=base,
        notes=notes,
        quarantine_expired=len(expired),
    )


__all__ = [
    "ConditionResult",
    "GateResult",
    "evaluate",
    "read_report",
    "resolve_baseline",
    "run_gate",
]
