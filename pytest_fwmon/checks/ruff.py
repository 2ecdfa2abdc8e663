"""ruff as an optional, faster backend: one ``ruff check`` over every file, answers per file.

:meth:`RuffChecker.prepare` runs ``ruff check --output-format json`` once over all the files
to check (in chunks of :data:`CHUNK` paths so a command line never gets too long) and keeps
the diagnostics per file; :meth:`RuffChecker.check` then only looks them up. A file that was
not in ``prepare`` (a worker that got only some files, say) is checked on its own.

The same class serves three pipelines, each with its own rule selection:

* quality lint (``[tool.fwmon.quality] lint = "ruff"``, rules ``lint_select``);
* security (``[tool.fwmon.security] backend = "ruff"``): the ``S`` rules, ruff's port of
  bandit, with bandit's severity, confidence and CWE for the matching ``B`` test;
* docs (``[tool.fwmon.docs] backend = "ruff"``): the ``D`` rules with the pydocstyle
  convention passed as ``lint.pydocstyle.convention``.

ruff reads the project's own configuration (``[tool.ruff]``, ``ruff.toml``): fwmon only sets
``--select`` (and the convention), so ``ignore``/``per-file-ignores`` and ``# noqa`` apply.
Differences from bandit and pydocstyle are in docs/reference/quality.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404 # runs the ruff executable with an argument list, no shell
import warnings
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final

from ..core.config import FwmonConfig
from ..core.model import Finding, confidence_at_least, severity_at_least
from .base import FileChecker, FileOutcome, SourceFile

#: Paths per ruff invocation.
CHUNK: Final = 2000

#: bandit's severity, confidence and CWE for its plugin tests (the ``S`` rule with the same
#: number); blacklist tests (B3xx, B4xx) are read from bandit's own tables when installed.
_BANDIT: Final[dict[str, tuple[str, str, int | None]]] = {
    "101": ("low", "high", 703),
    "102": ("medium", "high", 78),
    "103": ("high", "high", 732),
    "104": ("medium", "medium", 605),
    "105": ("low", "medium", 259),
    "106": ("low", "medium", 259),
    "107": ("low", "medium", 259),
    "108": ("medium", "medium", 377),
    "110": ("low", "high", 703),
    "112": ("low", "high", 703),
    "113": ("medium", "low", 400),
    "201": ("high", "medium", 94),
    "202": ("high", "high", 22),
    "324": ("high", "high", 327),
    "501": ("high", "high", 295),
    "502": ("high", "high", 327),
    "503": ("medium", "medium", 327),
    "504": ("low", "medium", 327),
    "505": ("high", "high", 326),
    "506": ("medium", "high", 20),
    "507": ("high", "medium", 295),
    "508": ("medium", "high", 319),
    "509": ("medium", "high", 319),
    "601": ("medium", "medium", 78),
    "602": ("high", "high", 78),
    "603": ("low", "high", 78),
    "604": ("medium", "low", 78),
    "605": ("high", "high", 78),
    "606": ("low", "medium", 78),
    "607": ("low", "high", 78),
    "608": ("medium", "low", 89),
    "609": ("high", "medium", 78),
    "610": ("medium", "medium", 89),
    "611": ("medium", "medium", 89),
    "612": ("medium", "high", 94),
    "701": ("high", "high", 94),
    "702": ("medium", "high", 80),
    "703": ("medium", "high", 80),
    "704": ("medium", "high", 79),
}

#: Quality lint rules that are real errors (undefined names, syntax-level problems).
_LINT_HIGH: Final = re.compile(r"^(E9\d\d|F63\d|F7\d\d|F82[123])$")


@cache
def _blacklist() -> dict[str, tuple[str, str, int | None]]:
    try:
        with warnings.catch_warnings():  # stevedore deprecations on import
            warnings.simplefilter("ignore", DeprecationWarning)
            from bandit.blacklists import calls, imports
    except ImportError:
        return {}
    table: dict[str, tuple[str, str, int | None]] = {}
    for source in (calls.gen_blacklist(), imports.gen_blacklist()):
        for entries in source.values():
            for entry in entries:
                level = str(entry.get("level", "MEDIUM")).lower()
                table[str(entry["id"])[1:]] = (level, "high", entry.get("cwe"))
    return table


def security_rating(code: str) -> tuple[str, str, int | None]:
    """Return bandit's (severity, confidence, CWE) of a ruff ``S`` code, else medium/medium."""
    number = code[1:]
    return _BANDIT.get(number) or _blacklist().get(number) or ("medium", "medium", None)


def lint_severity(code: str) -> str:
    """Severity of a quality lint finding: high for errors, medium for F and B, else low."""
    if _LINT_HIGH.match(code):
        return "high"
    if code.startswith(("F", "B")):
        return "medium"
    return "low"


def ruff_command() -> list[str] | None:
    """How to run ruff: the binary of the installed ``ruff`` package, or one on PATH."""
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return [str(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        return [found] if found else None


class RuffChecker(FileChecker):
    """ruff over all files at once, answered per file."""

    def __init__(
        self,
        name: str,
        pipeline: str,
        select: Sequence[str],
        root: Path,
        *,
        config: Sequence[str] = (),
        tool_config: Mapping[str, Any] | None = None,
        fail_on_severity: str = "low",
        fail_on_confidence: str = "undefined",
    ) -> None:
        """Configure one ruff backend of ``pipeline``."""
        self.name = name
        self.pipeline = pipeline
        self.select = list(select)
        self.root = root
        #: ``--config KEY=VALUE`` overrides (e.g. the docstring convention).
        self.config = list(config)
        #: ``[tool.ruff]`` from pyproject.toml, part of the cache key.
        self.tool_config = dict(tool_config or {})
        self.fail_on_severity = fail_on_severity
        self.fail_on_confidence = fail_on_confidence
        self._results: dict[str, list[dict[str, Any]]] = {}
        self._prepared: set[str] = set()
        self._error: str | None = None

    def tool_version(self) -> str:
        """``ruff --version``."""
        command = ruff_command()
        if command is None:
            return "not installed"
        done = subprocess.run(  # nosec B603 # the ruff fwmon found, fixed arguments, no shell
            [*command, "--version"], capture_output=True, text=True, check=False
        )
        return done.stdout.strip().removeprefix("ruff ").strip() or "unknown"

    def settings(self) -> dict[str, Any]:
        """Rule selection, overrides and the project's ruff configuration."""
        extra: dict[str, str] = {}
        for name in ("ruff.toml", ".ruff.toml"):
            path = self.root / name
            if path.is_file():
                extra[name] = path.read_text(encoding="utf-8", errors="replace")
        return {
            "select": self.select,
            "config": self.config,
            "tool.ruff": self.tool_config,
            "files": extra,
            "fail_on_severity": self.fail_on_severity,
            "fail_on_confidence": self.fail_on_confidence,
        }

    def fails(self, finding: Finding) -> bool:
        """Severity (and, for security, confidence) at or above the thresholds."""
        return severity_at_least(finding.severity, self.fail_on_severity) and (
            confidence_at_least(finding.confidence, self.fail_on_confidence)
        )

    def prepare(self, files: Sequence[SourceFile]) -> None:
        """Run ruff once over ``files`` and keep its diagnostics per file."""
        paths = [str(f.path) for f in files]
        for start in range(0, len(paths), CHUNK):
            self._run(paths[start : start + CHUNK])

    def _run(self, paths: list[str]) -> None:
        command = ruff_command()
        if command is None:
            self._error = "ruff is not installed: pip install ruff (or pytest-fwmon[ruff])"
            return
        args = [
            *command,
            "check",
            "--output-format",
            "json",
            "--exit-zero",
            "--no-fix",
            "--no-cache",
            "--quiet",
            "--select",
            ",".join(self.select),
        ]
        for item in self.config:
            args += ["--config", item]
        done = subprocess.run(  # nosec B603 # argument list after "--", no shell
            [*args, "--", *paths], cwd=self.root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            self._error = f"ruff failed: {lines[-1] if lines else done.returncode}"
            return
        try:
            diagnostics = json.loads(done.stdout or "[]")
        except json.JSONDecodeError:
            self._error = "ruff printed no JSON (is it older than 0.1?)"
            return
        for path in paths:
            key = str(Path(path).resolve())
            self._prepared.add(key)
            self._results.setdefault(key, [])
        for diagnostic in diagnostics:
            key = str(Path(diagnostic["filename"]).resolve())
            self._results.setdefault(key, []).append(diagnostic)

    def check(self, source: SourceFile) -> FileOutcome:
        """Return the diagnostics ruff reported for this file."""
        key = str(source.path.resolve())
        if key not in self._prepared and self._error is None:
            self._run([str(source.path)])
        if self._error is not None:
            return FileOutcome(error=self._error)
        findings: list[Finding] = []
        for diagnostic in self._results.get(key, ()):
            code = diagnostic.get("code")
            row = int((diagnostic.get("location") or {}).get("row") or 0)
            if not code or code == "invalid-syntax":  # older ruff: no code; newer: this one
                return FileOutcome(error=f"syntax error at line {row}: {diagnostic['message']}")
            findings.append(self._finding(source.relpath, code, row, diagnostic))
        return FileOutcome(findings=findings, metrics={"ruff_findings": len(findings)})

    def _finding(self, relpath: str, code: str, row: int, diagnostic: dict[str, Any]) -> Finding:
        if self.pipeline == "security":
            severity, confidence, cwe = security_rating(code)
        elif self.pipeline == "docs":
            severity, confidence, cwe = "low", "undefined", None
        else:
            severity, confidence, cwe = lint_severity(code), "undefined", None
        end = int((diagnostic.get("end_location") or {}).get("row") or row)
        url = str(diagnostic.get("url") or "")
        return Finding(
            fingerprint="",
            pipeline=self.pipeline,
            checker=self.name,
            rule=code,
            severity=severity,
            confidence=confidence,
            path=relpath,
            line=row,
            end_line=max(end, row),
            col=int((diagnostic.get("location") or {}).get("column") or 0),
            cwe=cwe,
            message=str(diagnostic.get("message", "")).strip(),
            rule_name=url.rstrip("/").rpartition("/")[2] if url else "",
            help_url=url,
        )


def _tool_ruff(config: FwmonConfig) -> dict[str, Any]:
    table = config.pyproject.get("tool", {}).get("ruff", {})
    return dict(table) if isinstance(table, dict) else {}


def ruff_security_checker(config: FwmonConfig) -> RuffChecker:
    """Return the security pipeline's ruff backend (``S`` rules)."""
    return RuffChecker(
        "ruff-security",
        "security",
        ["S"],
        config.root,
        tool_config=_tool_ruff(config),
        fail_on_severity=config.str("security", "fail_on_severity"),
        fail_on_confidence=config.str("security", "fail_on_confidence"),
    )


def ruff_docs_checker(config: FwmonConfig) -> RuffChecker:
    """Return the docs pipeline's ruff backend (``D`` rules, pydocstyle's convention)."""
    return RuffChecker(
        "ruff-docs",
        "docs",
        ["D"],
        config.root,
        config=[f'lint.pydocstyle.convention="{config.str("docs", "convention")}"'],
        tool_config=_tool_ruff(config),
        fail_on_severity=config.str("docs", "fail_on_severity"),
    )


def ruff_lint_checker(config: FwmonConfig, values: Mapping[str, Any]) -> RuffChecker:
    """Return the quality pipeline's lint (``[tool.fwmon.quality] lint = "ruff"``)."""
    return RuffChecker(
        "ruff",
        "quality",
        list(values["lint_select"]),
        config.root,
        tool_config=_tool_ruff(config),
        fail_on_severity=str(values["fail_on_severity"]),
    )
