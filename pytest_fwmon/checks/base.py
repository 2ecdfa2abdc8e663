"""The one small interface every checker implements. Nothing here imports pytest.

A *file checker* looks at one source file at a time and returns a :class:`FileOutcome`
(findings plus figures). A *batch* file checker (ruff) may first see the whole list of files
in :meth:`FileChecker.prepare` and then answer per file from what it computed once.
A *project checker* looks at the project as a whole (docstring coverage, import health,
packaging) and returns a :class:`~pytest_fwmon.core.model.CheckResult` itself.

Checkers are built from the :class:`~pytest_fwmon.core.config.FwmonConfig` by
:func:`pytest_fwmon.checks.registry.file_checkers`; they must be picklable (the worker pool
sends them to other processes) and must not keep state between files other than caches.
"""

from __future__ import annotations

import abc
import ast
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.model import CheckResult, Finding, fingerprint, severity_at_least


@dataclass(slots=True)
class SourceFile:
    """A project file as checkers see it."""

    #: Absolute path.
    path: Path
    #: Repository-relative POSIX path, as written in findings.
    relpath: str
    #: Decoded text (UTF-8 with BOM and PEP 263 coding cookies honoured).
    text: str
    #: The bytes as read, when the reader kept them (bandit analyses bytes).
    data: bytes | None = None
    #: The parsed module, set by the runner while the checkers of this one file run, so they
    #: share one parse. Never kept longer: the trees of every file of a large project would
    #: otherwise stay in memory for the whole run.
    parsed: ast.Module | None = None

    def tree(self) -> ast.Module:
        """Return the parsed module (raises SyntaxError): the shared parse when there is one."""
        if self.parsed is not None:
            return self.parsed
        return ast.parse(self.text, filename=self.relpath)

    def raw(self) -> bytes:
        """Return the file's bytes (read again when they were not kept)."""
        return self.data if self.data is not None else self.path.read_bytes()

    @property
    def lines(self) -> list[str]:
        """Return the text split into lines, without line ends."""
        return self.text.splitlines()


@dataclass(slots=True)
class FileOutcome:
    """What a file checker found in one file."""

    #: Findings, fingerprints not yet assigned (the runner does it).
    findings: list[Finding] = field(default_factory=list)
    #: Per-file figures for the report (LOC, complexity, docstring counts...).
    metrics: dict[str, Any] = field(default_factory=dict)
    #: Set when the file could not be analysed (syntax error): one line, and the item errors.
    error: str | None = None


def _noop(*args: Any, **kwargs: Any) -> None:
    """Stands in for ``Logger.debug`` while a tool runs (see :func:`debug_muted`)."""


@contextlib.contextmanager
def debug_muted(*names: str) -> Iterator[None]:
    """Bind ``debug`` of the loggers ``names`` to a no-op for the duration of a tool call.

    bandit and pydocstyle call ``log.debug`` several times per AST node or token (millions of
    calls on a large project); with the loggers at WARNING each call only costs the call.
    """
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.debug = _noop  # type: ignore[method-assign]
    try:
        yield
    finally:
        for logger in loggers:
            del logger.debug


class FileChecker(abc.ABC):
    """A checker applied to one file at a time."""

    #: Short name, used in item names: ``path::fwmon[NAME]``.
    name: str = ""
    #: Pipeline the findings belong to.
    pipeline: str = ""
    #: Calls :meth:`SourceFile.tree` (the runner then parses each file once for all).
    uses_tree: bool = False
    #: Changes the tree it is given (bandit adds attributes): runs after the others.
    mutates_tree: bool = False
    #: Also looks at the project's text configuration files
    #: (:data:`~pytest_fwmon.core.files.CONFIG_FILES`), not only its Python source.
    text_files: bool = False

    @abc.abstractmethod
    def tool_version(self) -> str:
        """Version of the underlying tool (part of the cache key)."""

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that changes the findings for the same file (part of the cache key).

        Include the tool's own configuration as read from the project (``[tool.bandit]``...).
        """

    def applies(self, relpath: str) -> bool:
        """Tell whether this checker looks at the file at all; no item is made when it does not.

        Tool-level excludes decide, e.g. bandit's ``exclude_dirs`` or pydocstyle's ``match``.
        """
        return True

    def prepare(self, files: Sequence[SourceFile]) -> None:  # noqa: B027 - optional hook
        """Prepare every file to check, once, before any :meth:`check` (batch checkers)."""

    @abc.abstractmethod
    def check(self, source: SourceFile) -> FileOutcome:
        """Analyse one file. Must not raise for bad input: return ``FileOutcome(error=...)``."""

    def fails(self, finding: Finding) -> bool:
        """Whether this finding, once new (not baselined/waived/suppressed), fails the item."""
        return True


class FileAnalyser(abc.ABC):
    """The per-file half of a project checker: JSON figures of one file, cached by content.

    A project checker with an analyser is computed from every file's analysis, so a changed
    file costs one analysis, and the analyses run in the worker pool beside the file checkers
    (sharing their parse of the file).
    """

    name: str = ""
    uses_tree: bool = True
    mutates_tree: bool = False

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that changes the analysis of the same file (part of the cache key)."""

    @abc.abstractmethod
    def analyse(self, source: SourceFile) -> dict[str, Any]:
        """Figures of one file (JSON-compatible). Must not raise for bad input."""

    def valid(self, value: dict[str, Any]) -> bool:
        """Whether a cached analysis has the shape :meth:`analyse` gives (else recomputed)."""
        return True


class ProjectChecker(abc.ABC):
    """A checker applied to the project as a whole."""

    name: str = ""
    pipeline: str = ""

    @abc.abstractmethod
    def run(self, files: Sequence[SourceFile], root: Path) -> CheckResult:
        """Check the project; ``files`` are the selected source files."""

    def analyser(self) -> FileAnalyser | None:
        """Return the per-file half, if any (see :class:`AnalysedProjectChecker`)."""
        return None


class AnalysedProjectChecker(ProjectChecker):
    """A project checker computed from one cached :class:`FileAnalyser` result per file.

    The runner calls :meth:`run_analysed` with the analyses it computed beside the file
    checkers (or replayed); :meth:`run` analyses the given files itself.
    """

    @abc.abstractmethod
    def analyser(self) -> FileAnalyser:
        """Return the per-file half."""

    @abc.abstractmethod
    def run_analysed(self, analyses: Mapping[str, dict[str, Any]], root: Path) -> CheckResult:
        """Check the project from ``analyses`` (relpath -> :meth:`FileAnalyser.analyse`)."""

    def run(self, files: Sequence[SourceFile], root: Path) -> CheckResult:
        """Analyse every file, then combine the analyses."""
        analyser = self.analyser()
        return self.run_analysed({s.relpath: analyser.analyse(s) for s in files}, root)


def stable_fingerprint(checker: str, rule: str, path: str, key: str) -> str:
    """Return a fingerprint keyed on ``key`` (a module, a command) instead of a line number."""
    return fingerprint(checker, rule, path, key, 0)


def project_outcome(findings: Sequence[Finding], threshold: str) -> str:
    """Return "failed" when a finding reaches ``threshold`` (a severity), else "passed"."""
    failing = any(severity_at_least(f.severity, threshold) for f in findings)
    return "failed" if failing else "passed"
