"""Cyclomatic complexity per function and maintainability index per file, with radon.

The figures are radon's own: complexity is :class:`radon.visitors.ComplexityVisitor` (what
``radon cc`` prints), the maintainability index is :func:`radon.metrics.mi_compute` over the
parameters ``radon mi`` uses (Halstead volume, total complexity, LLOC, comment percent with
multi-line strings counted as comments). The file is parsed once and the AST shared by the
visitors, which is why one pass here is cheaper than the two radon commands.

Findings (pipeline "quality"):

* ``CPX101`` a function or method whose complexity is above ``max_complexity``; severity by the
  distance ``d = complexity - max_complexity``: 1-5 low, 6-10 medium, 11-20 high, > 20 critical.
* ``CPX102`` a file whose maintainability index is below ``min_maintainability``; severity by
  ``d = min_maintainability - mi``: up to 5 low, up to 10 medium, more high.

This module also holds the ``[tool.fwmon.quality]`` key specification (:data:`SPEC`) and its
validation (:func:`validate_quality_section`). Nothing here imports pytest.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Final

from radon.complexity import cc_rank
from radon.metrics import halstead_visitor_report, mi_compute, mi_rank
from radon.raw import Module, _logical, analyze, is_single_token
from radon.visitors import ComplexityVisitor, Function, HalsteadVisitor

from ..core.config import FwmonConfig, Key, coerce
from ..core.errors import ConfigError
from ..core.model import SEVERITIES, Finding, severity_at_least
from .base import FileChecker, FileOutcome, SourceFile

#: radon's maintainability ranks as a lower bound of the index: A > 19, B 10-19, C < 10.
MI_RANKS: Final = {"A": 20.0, "B": 10.0, "C": 0.0}

#: ``[tool.fwmon.quality]`` keys. ``min_maintainability`` also accepts a rank letter (A/B/C).
SPEC: Final[dict[str, Key]] = {
    "max_complexity": Key(10, "int", minimum=1, help="highest cyclomatic complexity allowed"),
    "min_maintainability": Key(
        10.0,
        "float",
        minimum=0,
        maximum=100,
        help="lowest maintainability index (0-100) allowed, or a radon rank A/B/C",
    ),
    "no_assert": Key(False, "bool", help="do not count assert statements (radon cc --no-assert)"),
    "fail_on_severity": Key(
        "low", "str", choices=tuple(SEVERITIES), help="lowest severity that fails a quality item"
    ),
    "lint": Key("none", "str", choices=("none", "ruff"), help="run ruff as the quality linter"),
    "lint_select": Key(
        ["E4", "E7", "E9", "F", "B"], "list", help="ruff rule codes/prefixes for the lint"
    ),
    "coverage": Key(True, "bool", help="measure line and branch coverage of the tests"),
    "branch": Key(True, "bool", help="measure branch coverage too (coverage --branch)"),
    "min_line": Key(0.0, "float", minimum=0, maximum=100, help="lowest total line coverage %"),
    "min_branch": Key(0.0, "float", minimum=0, maximum=100, help="lowest total branch coverage %"),
    "min_file": Key(0.0, "float", minimum=0, maximum=100, help="lowest line coverage % per file"),
    "min_diff": Key(0.0, "float", minimum=0, maximum=100, help="lowest diff coverage %"),
    "diff_base": Key("", "str", help="git ref for diff coverage (--fwmon-diff-base wins)"),
    "coverage_rcfile": Key("", "str", help="coverage config file; default: coverage's lookup"),
}


def validate_quality_section(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return the validated ``[tool.fwmon.quality]`` values with defaults filled in.

    Raises :class:`~pytest_fwmon.core.errors.ConfigError` naming the valid keys for an unknown key.
    """
    return validate_section("quality", SPEC, raw, _quality_special)


def quality_file_checkers(config: FwmonConfig) -> list[FileChecker]:
    """Return the quality pipeline's file checkers: complexity, and ruff when ``lint = "ruff"``."""
    values = config.validated("quality")
    checkers: list[FileChecker] = [ComplexityChecker.from_section(values)]
    if values["lint"] == "ruff":
        from .ruff import ruff_lint_checker

        checkers.append(ruff_lint_checker(config, values))
    return checkers


def _quality_special(key: str, value: Any) -> Any:
    if key == "min_maintainability" and isinstance(value, str):
        rank = value.strip().upper()
        if rank not in MI_RANKS:
            raise ConfigError(
                f"[tool.fwmon.quality] min_maintainability has invalid value {value!r}; "
                "give a number 0-100 or a rank A, B or C"
            )
        return MI_RANKS[rank]
    return _NO_SPECIAL


_NO_SPECIAL: Final = object()


def validate_section(
    section: str,
    spec: Mapping[str, Key],
    raw: Mapping[str, Any],
    special: Any = None,
) -> dict[str, Any]:
    """Values of one raw ``[tool.fwmon.SECTION]`` table checked against ``spec``, defaults filled.

    ``special(key, value)`` may convert a value itself (returning anything but the sentinel).
    """
    values = {key: list(k.default) if k.kind == "list" else k.default for key, k in spec.items()}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[tool.fwmon] {section} must be a table ([tool.fwmon.{section}])")
    for key, value in raw.items():
        if key not in spec:
            raise ConfigError(
                f"unknown key [tool.fwmon.{section}] {key}; valid keys: {', '.join(sorted(spec))}"
            )
        converted = special(key, value) if special is not None else _NO_SPECIAL
        if converted is not _NO_SPECIAL:
            values[key] = converted
            continue
        values[key] = coerce(section, key, spec[key], value)
    return values


def complexity_severity(complexity: int, limit: int) -> str:
    """Severity of a function ``complexity`` over ``limit`` (see the module docstring)."""
    over = complexity - limit
    if over <= 5:
        return "low"
    if over <= 10:
        return "medium"
    if over <= 20:
        return "high"
    return "critical"


def maintainability_severity(mi: float, minimum: float) -> str:
    """Severity of a maintainability index ``mi`` under ``minimum``."""
    under = minimum - mi
    if under <= 5:
        return "low"
    if under <= 10:
        return "medium"
    return "high"


_END: Final = tokenize.TokenInfo(tokenize.ENDMARKER, "", (0, 0), (0, 0), "")
_OPEN: Final = frozenset("([{")
_CLOSE: Final = frozenset(")]}")


def raw_metrics(source: str) -> Module:
    """:func:`radon.raw.analyze`'s figures from one tokenization of the file.

    radon strips every line, then re-tokenizes from each line on, one more line at a time,
    until the tokens stop failing: the shortest group of lines that tokenizes on its own, which
    is quadratic in the length of multi-line strings and statements. The stripped text is
    tokenized here once; a group ends where that tokenization ends a logical line (NEWLINE,
    or NL outside brackets), which is exactly where radon's growing buffer first tokenizes
    cleanly, and each group is then counted with radon's own ``_logical`` and
    ``is_single_token``. Anything unusual (tokenize errors, error tokens, unbalanced
    brackets) falls back to radon itself, so the figures are radon's in every case;
    ``benchmarks/parity_quality.py`` checks them file by file.
    """
    lines = [line.strip() for line in source.splitlines()]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline))
    except (tokenize.TokenError, SyntaxError):
        return analyze(source)
    lloc = comments = single_comments = multi = blank = sloc = 0
    group: list[tokenize.TokenInfo] = []
    start = 1
    depth = 0
    for tok in tokens:
        kind = tok.type
        if kind == tokenize.ENDMARKER:
            break
        if kind == tokenize.ERRORTOKEN:
            return analyze(source)
        group.append(tok)
        if kind == tokenize.OP:
            if tok.string in _OPEN:
                depth += 1
            elif tok.string in _CLOSE:
                depth -= 1
        elif kind == tokenize.COMMENT:
            comments += 1
        elif kind == tokenize.NEWLINE or (kind == tokenize.NL and depth == 0):
            end = tok.start[0]
            parsed = lines[start - 1 : end]
            filled = sum(1 for line in parsed if line)
            group.append(_END)
            if is_single_token(tokenize.COMMENT, group):
                single_comments += 1
            elif is_single_token(tokenize.STRING, group):
                if group[0].start[0] == group[0].end[0]:
                    single_comments += 1
                else:
                    multi += filled
                    blank += len(parsed) - filled
            else:
                sloc += filled
                blank += len(parsed) - filled
            lloc += _logical(group)
            group = []
            start = end + 1
    if group or depth != 0 or any(lines[start - 1 :]):
        return analyze(source)
    blank += len(lines) - (start - 1)
    loc = sloc + blank + multi + single_comments
    return Module(loc, lloc, sloc, comments, multi, blank, single_comments)


def _blocks(visitor: ComplexityVisitor) -> list[Function]:
    """Functions and methods as ``radon cc`` lists them (classes left out, closures inside)."""
    return [b for b in visitor.blocks if isinstance(b, Function)]


class ComplexityChecker(FileChecker):
    """radon complexity and maintainability of one file."""

    name = "complexity"
    pipeline = "quality"
    uses_tree = True

    def __init__(
        self,
        max_complexity: int = 10,
        min_maintainability: float = 10.0,
        *,
        no_assert: bool = False,
        fail_on_severity: str = "low",
    ) -> None:
        """Configure the complexity and maintainability limits."""
        self.max_complexity = max_complexity
        self.min_maintainability = min_maintainability
        self.no_assert = no_assert
        self.fail_on_severity = fail_on_severity

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> ComplexityChecker:
        """Build from validated ``[tool.fwmon.quality]`` values."""
        return cls(
            int(values["max_complexity"]),
            float(values["min_maintainability"]),
            no_assert=bool(values["no_assert"]),
            fail_on_severity=str(values["fail_on_severity"]),
        )

    def tool_version(self) -> str:
        """Return the installed radon version."""
        return metadata.version("radon")

    def settings(self) -> dict[str, Any]:
        """Limits and radon options."""
        return {
            "max_complexity": self.max_complexity,
            "min_maintainability": self.min_maintainability,
            "no_assert": self.no_assert,
        }

    def fails(self, finding: Finding) -> bool:
        """Tell whether a finding fails: its severity reaches ``fail_on_severity``."""
        return severity_at_least(finding.severity, self.fail_on_severity)

    def check(self, source: SourceFile) -> FileOutcome:
        """Complexity of every function, maintainability and raw counts of the file."""
        try:
            tree = source.tree()  # shared with the file's other checks (not changed here)
            raw = raw_metrics(source.text)
        except SyntaxError as exc:
            return FileOutcome(error=f"syntax error at line {exc.lineno}: {exc.msg}")
        except (ValueError, RecursionError) as exc:  # null bytes, absurd nesting
            return FileOutcome(error=f"cannot be analysed: {exc}")
        visitor = ComplexityVisitor.from_ast(tree, no_assert=self.no_assert)
        total_visitor = (
            visitor if not self.no_assert else ComplexityVisitor.from_ast(tree, no_assert=False)
        )
        volume = halstead_visitor_report(HalsteadVisitor.from_ast(tree)).volume
        comment_lines = raw.comments + raw.multi
        comment_percent = comment_lines / raw.sloc * 100 if raw.sloc else 0
        mi = float(mi_compute(volume, total_visitor.total_complexity, raw.lloc, comment_percent))
        functions = _blocks(visitor)
        findings = [self._function_finding(source, f) for f in functions]
        kept = [f for f in findings if f is not None]
        if mi < self.min_maintainability:
            kept.append(
                Finding(
                    fingerprint="",
                    pipeline=self.pipeline,
                    checker=self.name,
                    rule="CPX102",
                    severity=maintainability_severity(mi, self.min_maintainability),
                    confidence="high",
                    path=source.relpath,
                    line=0,
                    message=(
                        f"maintainability index {mi:.1f} (rank {mi_rank(mi)}) is below "
                        f"{self.min_maintainability:g}"
                    ),
                    rule_name="low-maintainability",
                )
            )
        worst = max(functions, key=lambda f: (f.complexity, -f.lineno), default=None)
        metrics: dict[str, Any] = {
            "loc": raw.loc,
            "sloc": raw.sloc,
            "lloc": raw.lloc,
            "comments": raw.comments,
            "multi": raw.multi,
            "blank": raw.blank,
            "comment_ratio": round(comment_lines / raw.loc, 4) if raw.loc else 0.0,
            "mi": round(mi, 2),
            "mi_rank": mi_rank(mi),
            "functions": len(functions),
            "average_complexity": (
                round(sum(f.complexity for f in functions) / len(functions), 2)
                if functions
                else 0.0
            ),
            "worst_function": (
                None
                if worst is None
                else {
                    "name": worst.fullname,
                    "line": worst.lineno,
                    "complexity": worst.complexity,
                    "rank": cc_rank(worst.complexity),
                }
            ),
            "over_limit": sum(1 for f in functions if f.complexity > self.max_complexity),
            # Every function as [name, line, complexity]: compact, for hotspots and parity.
            "complexity": [[f.fullname, f.lineno, f.complexity] for f in functions],
        }
        return FileOutcome(findings=kept, metrics=metrics)

    def _function_finding(self, source: SourceFile, block: Function) -> Finding | None:
        if block.complexity <= self.max_complexity:
            return None
        kind = "method" if block.is_method else "function"
        return Finding(
            fingerprint="",
            pipeline=self.pipeline,
            checker=self.name,
            rule="CPX101",
            severity=complexity_severity(block.complexity, self.max_complexity),
            confidence="high",
            path=source.relpath,
            # The def line only: the fingerprint then survives edits inside the body.
            line=block.lineno,
            end_line=block.lineno,
            col=block.col_offset + 1,
            message=(
                f"{kind} {block.fullname} has cyclomatic complexity {block.complexity} "
                f"(rank {cc_rank(block.complexity)}), above the limit {self.max_complexity}"
            ),
            rule_name="too-complex",
        )
