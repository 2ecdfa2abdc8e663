"""The data fwmon passes around: findings, check results, pipeline summaries.

Standard library only. Every other part of fwmon (plugin, gate, history, dashboard) reads and
writes these shapes; ``report.schema.json`` is the contract on disk and must follow any change
here (bump ``SCHEMA_VERSION`` when a reader of an older report would misread a newer one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

#: Version of ``report.json``. History of versions:
#:
#: 1. first release.
#: 2. ``run.completed`` and ``run.stopped`` (did pytest run every selected item to the end),
#:    ``tests.exitstatus`` is pytest's final status or null when unknown, with
#:    ``tests.exitstatus_note``; a skipped pipeline has no score. Version 1 reports are read
#:    as version 2 with ``completed`` null (:func:`pytest_fwmon.core.report.upgrade`).
SCHEMA_VERSION: Final = 2

#: Pipelines fwmon knows, in the order they are shown.
PIPELINES: Final = ("security", "docs", "quality", "performance", "integration")

#: Severities from worst to mildest.
SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK: Final = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}

#: Confidence levels as bandit names them (plus "undefined" for tools without one).
CONFIDENCES: Final = ("high", "medium", "low", "undefined")
CONFIDENCE_RANK: Final = {"undefined": 0, "low": 1, "medium": 2, "high": 3}

#: Status of a finding relative to a baseline; the plugin writes "new" or "suppressed",
#: the gate turns some "new" into "baselined" or "waived".
FINDING_STATUSES: Final = ("new", "baselined", "waived", "suppressed")

#: Outcome of one check item, as pytest would put it (plus "not-run").
OUTCOMES: Final = ("passed", "failed", "error", "skipped", "not-run")

#: Status of a pipeline as a whole.
PIPELINE_STATUSES: Final = ("pass", "fail", "error", "skipped", "not-run")


def severity_at_least(severity: str, threshold: str) -> bool:
    """Tell whether ``severity`` is as bad as ``threshold`` or worse."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


def confidence_at_least(confidence: str, threshold: str) -> bool:
    """Tell whether ``confidence`` is at least ``threshold``."""
    return CONFIDENCE_RANK[confidence] >= CONFIDENCE_RANK[threshold]


@dataclass(slots=True)
class Finding:
    """One problem a checker reported at one place."""

    #: Stable id: survives unrelated line shifts (see :func:`assign_fingerprints`).
    fingerprint: str
    #: Pipeline the checker belongs to (one of :data:`PIPELINES`).
    pipeline: str
    #: Checker that produced it: "bandit", "pydocstyle", "docstring-accuracy", ...
    checker: str
    #: Tool rule id: "B602", "D103", "DOC101", ...
    rule: str
    #: One of :data:`SEVERITIES`.
    severity: str
    #: One of :data:`CONFIDENCES`.
    confidence: str
    #: Repository-relative POSIX path of the file.
    path: str
    #: First line (1-based); 0 for a finding about the whole file or project.
    line: int
    #: One line of text from the tool, without the tool's own decoration.
    message: str
    #: Last line of the flagged range (>= line).
    end_line: int = 0
    #: Column (1-based), 0 when unknown.
    col: int = 0
    #: CWE id when the tool gives one.
    cwe: int | None = None
    #: One of :data:`FINDING_STATUSES`.
    status: str = "new"
    #: Short rule name ("subprocess_popen_with_shell_equals_true"), may be empty.
    rule_name: str = ""
    #: Where to read more about the rule.
    help_url: str = ""
    #: The code object the finding is about, as the tool names it (pydocstyle's definition:
    #: ``public function `parse```); empty for a whole file or when the tool gives none.
    symbol: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with every field (all values are plain; no deep copy needed)."""
        return {name: getattr(self, name) for name in _FINDING_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of :meth:`to_dict` (keys not known to this version are ignored)."""
        return cls(**{k: data[k] for k in _FINDING_FIELDS if k in data})

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Order used everywhere in the report: path, line, column, checker, rule."""
        return (self.path, self.line, self.col, self.checker, self.rule)


_FINDING_FIELDS: Final = tuple(Finding.__dataclass_fields__)


@dataclass(slots=True)
class CheckResult:
    """Outcome of one fwmon item: a checker applied to one file or to the project."""

    #: pytest node id of the item, e.g. ``pkg/app.py::fwmon[bandit]``.
    nodeid: str
    #: One of :data:`PIPELINES`.
    pipeline: str
    #: Checker name.
    checker: str
    #: One of :data:`OUTCOMES`.
    outcome: str
    #: Repository-relative path of the file checked; ``None`` for project-level items.
    path: str | None = None
    #: True when the findings were replayed from the content-hash cache.
    cached: bool = False
    #: Seconds spent in the checker (0 for a cached replay).
    duration: float = 0.0
    #: Every finding the tool reported, whatever the thresholds.
    findings: list[Finding] = field(default_factory=list)
    #: One-line reason when ``outcome`` is "error" (or "skipped"/"not-run").
    reason: str | None = None
    #: Lines of code of the file (physical lines), used for scores.
    loc: int = 0
    #: Checker-specific figures (docstring coverage percent, complexity, ...).
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; findings sorted."""
        data = {name: getattr(self, name) for name in _CHECK_FIELDS}
        data["metrics"] = dict(self.metrics)
        data["findings"] = [f.to_dict() for f in sorted(self.findings, key=Finding.sort_key)]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_dict`."""
        kwargs = {k: data[k] for k in _CHECK_FIELDS if k in data}
        kwargs["findings"] = [Finding.from_dict(f) for f in data.get("findings", ())]
        return cls(**kwargs)


_CHECK_FIELDS: Final = tuple(CheckResult.__dataclass_fields__)


def normalise_source(lines: Sequence[str]) -> str:
    """Source text that ignores indentation and trailing space changes."""
    return "\n".join(" ".join(line.split()) for line in lines)


def fingerprint(checker: str, rule: str, path: str, source: str, occurrence: int) -> str:
    """sha256 over (checker, rule, path, normalised source, occurrence index), 32 hex chars."""
    digest = hashlib.sha256(
        "\0".join((checker, rule, path, source, str(occurrence))).encode("utf-8", "replace")
    )
    return digest.hexdigest()[:32]


def assign_fingerprints(findings: Iterable[Finding], source_lines: Sequence[str]) -> None:
    """Fill ``fingerprint`` on findings of one file.

    The hash covers the flagged lines' normalised text, not their numbers, so code inserted
    above a finding does not change it. Identical findings in one file get occurrence indexes
    0, 1, 2... in line order, so a second copy of a known problem is a new finding.

    A finding that arrives with ``fingerprint`` set brings its own basis in place of the
    lines' text (the secrets checker: the hashed secret, so no hash of the line exists).
    """
    seen: dict[tuple[str, str, str, str], int] = {}
    for finding in sorted(findings, key=Finding.sort_key):
        if finding.fingerprint:
            text = finding.fingerprint
        elif finding.line > 0:
            end = max(finding.end_line, finding.line)
            text = normalise_source(source_lines[finding.line - 1 : end])
        else:
            text = finding.message
        key = (finding.checker, finding.rule, finding.path, text)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        finding.fingerprint = fingerprint(*key, occurrence)


def empty_counts() -> dict[str, int]:
    """Return a severity -> count mapping with every severity present at zero."""
    return dict.fromkeys(SEVERITIES, 0)
