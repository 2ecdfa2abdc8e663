"""The ``commands`` checker: whether every console script of the project is ready to use.

Every console/GUI script of the project (``[project.scripts]``, ``[project.gui-scripts]``) is
scored on four criteria, 25 % each: the entry point loads; ``NAME --help`` exits 0 within
``help_timeout`` (stdin closed, no controlling terminal); the name appears in the README or the
docs; a test refers to it. Other entry points (``[project.entry-points]``) are checked for
loading only. The metrics say how many commands reach ``ready_percent`` (80 %).

Rules: ``INT201`` entry point does not load, ``INT202`` ``--help`` fails, ``INT203`` ``--help``
timed out, ``INT204`` command not documented, ``INT205`` command not tested. Nothing here
imports pytest.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
import tokenize
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from ..core.config import read_pyproject
from ..core.model import CheckResult, Finding, severity_at_least
from .base import ProjectChecker, SourceFile, project_outcome, stable_fingerprint
from .packages import SKIP_DIRS, find_packages
from .subproc import python_env, run_bounded, tail


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """One entry point from the project's metadata."""

    #: Command or entry point name.
    name: str
    #: "console_scripts", "gui_scripts" or another entry-point group.
    group: str
    #: ``module:attr`` as written in the metadata (extras removed).
    value: str

    @property
    def is_command(self) -> bool:
        """True for console and GUI scripts (they get the four readiness criteria)."""
        return self.group in ("console_scripts", "gui_scripts")

    @property
    def module(self) -> str:
        """Module part of the value."""
        return self.value.partition(":")[0].strip()

    @property
    def attr(self) -> str:
        """Attribute part of the value ('' for a module entry point)."""
        return self.value.partition(":")[2].strip()


def _strip_extras(value: str) -> str:
    return re.sub(r"\[.*\]\s*$", "", value).strip()


def discover_entry_points(
    root: Path, pyproject: Mapping[str, Any] | None = None
) -> list[EntryPoint]:
    """Scripts and entry points from ``[project]``; installed metadata when they are dynamic."""
    data = read_pyproject(root) if pyproject is None else pyproject
    project = data.get("project", {})
    found: list[EntryPoint] = []
    if not isinstance(project, dict):
        return found
    tables: dict[str, Any] = {
        "console_scripts": project.get("scripts", {}),
        "gui_scripts": project.get("gui-scripts", {}),
    }
    for group, table in (project.get("entry-points") or {}).items():
        tables[group] = table
    for group, table in tables.items():
        if isinstance(table, dict):
            for name, value in table.items():
                if isinstance(value, str):
                    found.append(EntryPoint(name, group, _strip_extras(value)))
    dynamic = set(project.get("dynamic", ()))
    if dynamic & {"scripts", "gui-scripts", "entry-points"} and project.get("name"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            for ep in metadata.distribution(str(project["name"])).entry_points:
                found.append(EntryPoint(ep.name, ep.group, _strip_extras(ep.value)))
    unique = {(ep.group, ep.name): ep for ep in found}
    return sorted(unique.values(), key=lambda ep: (not ep.is_command, ep.group, ep.name))


#: Loads an entry point: ``python -c LOADER VALUE IS_COMMAND``; exit 0 when it loads.
LOADER: Final = r"""
import importlib, sys
value, command = sys.argv[1], sys.argv[2] == "1"
module, _, attr = value.partition(":")
obj = importlib.import_module(module.strip())
for part in filter(None, attr.strip().split(".")):
    obj = getattr(obj, part)
if command and not callable(obj):
    sys.exit("entry point " + value + " is not callable")
"""

#: Runs a console script the way its generated wrapper does: ``sys.exit(func())``.
RUNNER: Final = r"""
import importlib, sys
value = sys.argv[1]
sys.argv[:] = sys.argv[2:]
module, _, attr = value.partition(":")
obj = importlib.import_module(module.strip())
for part in filter(None, attr.strip().split(".")):
    obj = getattr(obj, part)
sys.exit(obj())
"""

_DOC_SUFFIXES: Final = frozenset({".md", ".rst", ".txt", ".adoc", ".html", ".markdown", ""})


def _expand(root: Path, patterns: Sequence[str], suffixes: frozenset[str] | None) -> list[Path]:
    files: list[Path] = []
    for pattern in patterns:
        for match in sorted(root.glob(pattern)):
            candidates = [match] if match.is_file() else sorted(match.rglob("*"))
            for path in candidates:
                if not path.is_file() or any(part in SKIP_DIRS for part in path.parts):
                    continue
                if suffixes is None or path.suffix.lower() in suffixes:
                    files.append(path)
    return list(dict.fromkeys(files))


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.\-/]){re.escape(name)}(?![\w\-])")


def _test_strings(path: Path) -> tuple[str, list[str]]:
    """Return the text of a test file and the values of its string literals."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", []
    strings: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING:
                strings.append(tok.string)
    except (tokenize.TokenError, SyntaxError):
        strings.append(text)
    return text, strings


@dataclass(slots=True)
class CommandResult:
    """Readiness of one command or entry point."""

    name: str
    group: str
    entry_point: str
    #: Criterion -> True/False; criteria that do not apply are absent.
    criteria: dict[str, bool] = field(default_factory=dict)
    #: Percent of applicable criteria met.
    score: float = 0.0
    #: Seconds ``--help`` took (None when not run or timed out).
    help_seconds: float | None = None
    #: Why a criterion failed (one line each) and stderr tails.
    details: dict[str, str] = field(default_factory=dict)


class CommandReadinessChecker(ProjectChecker):
    """Console scripts load, answer ``--help``, are documented and are tested."""

    name = "commands"
    pipeline = "integration"

    def __init__(
        self,
        *,
        help_timeout: float = 10.0,
        docs_paths: Sequence[str] = ("README*", "docs"),
        test_paths: Sequence[str] = ("tests", "test"),
        packages: Sequence[str] = (),
        ready_percent: float = 80.0,
        fail_on_severity: str = "low",
    ) -> None:
        """Configure the command checks."""
        self.help_timeout = help_timeout
        self.docs_paths = list(docs_paths)
        self.test_paths = list(test_paths)
        self.packages = list(packages)
        self.ready_percent = ready_percent
        self.fail_on_severity = fail_on_severity

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> CommandReadinessChecker:
        """Build from validated ``[tool.fwmon.integration]`` values."""
        return cls(
            help_timeout=float(values["help_timeout"]),
            docs_paths=values["docs_paths"],
            test_paths=values["test_paths"],
            packages=values["packages"],
            ready_percent=float(values["ready_percent"]),
            fail_on_severity=str(values["fail_on_severity"]),
        )

    def fails(self, finding: Finding) -> bool:
        """Tell whether a finding fails the item: its severity reaches ``fail_on_severity``."""
        return severity_at_least(finding.severity, self.fail_on_severity)

    def run(self, files: Sequence[SourceFile], root: Path) -> CheckResult:
        """Score every command; findings for unmet criteria."""
        start = time.perf_counter()
        nodeid = f"pyproject.toml::fwmon[{self.name}]"
        entry_points = discover_entry_points(root)
        if not entry_points:
            return CheckResult(
                nodeid,
                self.pipeline,
                self.name,
                "skipped",
                reason="the project declares no scripts or entry points in [project]",
            )
        env = python_env([p.import_root for p in find_packages(root, self.packages)] or [root])
        docs = [
            p.read_text(encoding="utf-8", errors="replace")
            for p in _expand(root, self.docs_paths, _DOC_SUFFIXES)
        ]
        tests = [
            _test_strings(p)
            for p in _expand(root, self.test_paths, frozenset({".py"}))
            if p.name != "__init__.py"
        ]
        workers = max(1, min(4, len(entry_points), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(
                pool.map(lambda ep: self._score(ep, root, env, docs, tests), entry_points)
            )
        findings = [
            f for ep, r in zip(entry_points, results, strict=True) for f in self._findings(ep, r)
        ]
        commands = [r for ep, r in zip(entry_points, results, strict=True) if ep.is_command]
        ready = sum(1 for r in commands if r.score >= self.ready_percent)
        metrics: dict[str, Any] = {
            "commands": [asdict(r) for r in results],
            "total": len(commands),
            "ready": ready,
            "ready_percent": self.ready_percent,
            "ready_share": round(100.0 * ready / len(commands), 2) if commands else None,
        }
        return CheckResult(
            nodeid,
            self.pipeline,
            self.name,
            project_outcome(findings, self.fail_on_severity),
            findings=findings,
            duration=time.perf_counter() - start,
            metrics=metrics,
        )

    def _score(
        self,
        ep: EntryPoint,
        root: Path,
        env: Mapping[str, str],
        docs: Sequence[str],
        tests: Sequence[tuple[str, list[str]]],
    ) -> CommandResult:
        result = CommandResult(ep.name, ep.group, ep.value)
        python = sys.executable
        code, _out, err, _ = run_bounded(
            [python, "-c", LOADER, ep.value, "1" if ep.is_command else "0"],
            cwd=root,
            env=env,
            timeout=max(self.help_timeout, 30.0),
        )
        result.criteria["loads"] = code == 0
        if code != 0:
            result.details["loads"] = tail(err) or (
                "loading timed out" if code is None else f"exit status {code}"
            )
        if ep.is_command:
            if ep.group == "console_scripts":
                help_ok = False
                if result.criteria["loads"]:
                    code, out, err, seconds = run_bounded(
                        [python, "-c", RUNNER, ep.value, ep.name, "--help"],
                        cwd=root,
                        env=env,
                        timeout=self.help_timeout,
                    )
                    help_ok = code == 0
                    if code is None:
                        result.details["help"] = (
                            f"timed out after {self.help_timeout:g}s\n{tail(err or out)}"
                        ).rstrip()
                    elif code != 0:
                        result.help_seconds = round(seconds, 3)
                        result.details["help"] = (
                            f"exit status {code}\n{tail(err or out)}"
                        ).rstrip()
                    else:
                        result.help_seconds = round(seconds, 3)
                else:
                    result.details["help"] = "not run: the entry point does not load"
                result.criteria["help"] = help_ok
            word = _word(ep.name)
            result.criteria["documented"] = any(word.search(text) for text in docs)
            result.criteria["tested"] = self._tested(ep, word, tests)
        applicable = len(result.criteria)
        met = sum(1 for ok in result.criteria.values() if ok)
        result.score = round(100.0 * met / applicable, 2) if applicable else 0.0
        return result

    @staticmethod
    def _tested(
        ep: EntryPoint, word: re.Pattern[str], tests: Sequence[tuple[str, list[str]]]
    ) -> bool:
        """Tell whether a test names the command in a string, or imports and calls its function."""
        attr = ep.attr.rpartition(".")[2]
        call = re.compile(rf"\b{re.escape(attr)}\s*\(") if attr else None
        for text, strings in tests:
            if any(word.search(s) for s in strings):
                return True
            if call is not None and ep.module in text and call.search(text):
                return True
        return False

    def _findings(self, ep: EntryPoint, result: CommandResult) -> list[Finding]:
        rules = {
            "loads": ("INT201", "entry-point-load", "high", "entry point {v} does not load"),
            "help": ("INT202", "help-fails", "high", "`{n} --help` does not exit 0"),
            "documented": (
                "INT204",
                "undocumented-command",
                "low",
                "command {n} is not mentioned in the README or docs",
            ),
            "tested": ("INT205", "untested-command", "low", "no test invokes command {n}"),
        }
        findings: list[Finding] = []
        for criterion, ok in result.criteria.items():
            if ok:
                continue
            rule, rule_name, severity, text = rules[criterion]
            detail = result.details.get(criterion, "")
            if criterion == "help" and detail.startswith("timed out"):
                rule, rule_name = "INT203", "help-timeout"
                text = f"`{{n}} --help` did not finish within {self.help_timeout:g}s"
            if criterion == "help" and detail.startswith("not run"):
                continue  # the load failure is the finding
            message = text.format(n=ep.name, v=ep.value)
            last = [ln for ln in detail.splitlines() if ln.strip()]
            if last and criterion in ("loads", "help"):
                message += f": {last[-1].strip()[:300]}"
            findings.append(
                Finding(
                    fingerprint=stable_fingerprint(
                        self.name, rule, "pyproject.toml", f"{ep.group}:{ep.name}"
                    ),
                    pipeline=self.pipeline,
                    checker=self.name,
                    rule=rule,
                    severity=severity,
                    confidence="high",
                    path="pyproject.toml",
                    line=0,
                    message=message,
                    rule_name=rule_name,
                )
            )
        return findings
