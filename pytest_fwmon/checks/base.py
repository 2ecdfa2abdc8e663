"""The one small interface every checker implements. Nothing here imports pytest.

A *file checker* looks at one source file at a time and returns a :class:`FileOutcome`
(findings plus figures). A *batch* file checker (ruff) may first see the whole list of files
in :meth:`FileChecker.prepare` and then answer per file from what it computed once.
A *project checker* looks at the project as a whole (docstring coverage, import health,
packaging) and returns a :class:`~pytest_fwmon.model.CheckResult` itself.

Checkers are built from the :class:`~pytest_fwmon.config.FwmonConfig` by
:func:`pytest_fwmon.checks.registry.file_checkers`; they must be picklable (the worker pool
sends them to other processes) and must not keep state between files other than caches.
"""

from __future__ import annotations

import abc
import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import CheckResult, Finding


@dataclass(slots=True)
class SourceFile:
    """A project file as checkers see it."""

    #: Absolute path.
    path: Path
    #: Repository-relative POSIX path, as written in findings.
    relpath: str
    #: Decoded text (UTF-8 with BOM and PEP 263 coding cookies honoured).
    text: str

    def tree(self) -> ast.Module:
        """The parsed module (raises SyntaxError). Not kept: on a large project the trees of
        every file would stay in memory for the whole run."""
        return ast.parse(self.text, filename=self.relpath)

    @property
    def lines(self) -> list[str]:
        """The text split into lines (without line ends)."""
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


class FileChecker(abc.ABC):
    """A checker applied to one file at a time."""

    #: Short name, used in item names: ``path::fwmon[NAME]``.
    name: str = ""
    #: Pipeline the findings belong to.
    pipeline: str = ""

    @abc.abstractmethod
    def tool_version(self) -> str:
        """Version of the underlying tool (part of the cache key)."""

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that changes the findings for the same file (part of the cache key).

        Include the tool's own configuration as read from the project (``[tool.bandit]``...).
        """

    def applies(self, relpath: str) -> bool:
        """Whether this checker looks at the file at all (tool-level excludes, e.g. bandit's
        ``exclude_dirs`` or pydocstyle's ``match``); no item is made when it does not."""
        return True

    def prepare(self, files: Sequence[SourceFile]) -> None:  # noqa: B027 - optional hook
        """Called once with every file to check before any :meth:`check` (batch checkers)."""

    @abc.abstractmethod
    def check(self, source: SourceFile) -> FileOutcome:
        """Analyse one file. Must not raise for bad input: return ``FileOutcome(error=...)``."""

    def fails(self, finding: Finding) -> bool:
        """Whether this finding, once new (not baselined/waived/suppressed), fails the item."""
        return True


class ProjectChecker(abc.ABC):
    """A checker applied to the project as a whole."""

    name: str = ""
    pipeline: str = ""

    @abc.abstractmethod
    def run(self, files: Sequence[SourceFile], root: Path) -> CheckResult:
        """Check the project; ``files`` are the selected source files."""
