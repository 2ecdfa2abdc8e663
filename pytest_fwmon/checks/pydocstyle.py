"""Documentation style checker: pydocstyle, in-process, one file at a time.

Reads ``[tool.pydocstyle]`` from pyproject.toml with pydocstyle's own semantics (``convention``,
``select``, ``ignore``, ``add-select``, ``add-ignore``, ``match``, ``match-dir``,
``ignore-decorators``, ``property-decorators``, ``ignore-self-only-init``). When that table
selects no codes, ``[tool.fwmon.docs] convention`` does. Runs with pydocstyle's logger at WARNING
(the CLI logs a DEBUG record per definition, which halves its speed) and with the CLI's default
``property_decorators`` (without them some D401 findings differ from the CLI's).
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from importlib import metadata
from pathlib import PurePosixPath
from typing import Any

from ..core.model import Finding, severity_at_least
from .base import FileChecker, FileOutcome, SourceFile, debug_muted

DEFAULT_MATCH = r"(?!test_).*\.py"
DEFAULT_MATCH_DIR = r"[^\.].*"
DEFAULT_PROPERTY_DECORATORS = "property,cached_property,functools.cached_property"


def _codes(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part).strip() for part in value if str(part).strip()]


def checked_codes(tool: dict[str, Any], convention: str) -> frozenset[str]:
    """Return the codes pydocstyle would check with this ``[tool.pydocstyle]`` table."""
    from pydocstyle.violations import ErrorRegistry, conventions

    every = set(ErrorRegistry.get_error_codes())

    def expand(parts: list[str]) -> set[str]:
        return {code for part in parts for code in every if code.startswith(part)}

    if tool.get("ignore") is not None:
        codes = every - expand(_codes(tool["ignore"]))
    elif tool.get("select") is not None:
        codes = expand(_codes(tool["select"]))
    elif tool.get("convention") is not None:
        codes = set(getattr(conventions, str(tool["convention"])))
    else:
        codes = set(getattr(conventions, convention))
    codes |= expand(_codes(tool.get("add-select") or tool.get("add_select")))
    codes -= expand(_codes(tool.get("add-ignore") or tool.get("add_ignore")))
    return frozenset(codes)


class PydocstyleChecker(FileChecker):
    """pydocstyle on one file."""

    name = "pydocstyle"
    pipeline = "docs"

    def __init__(
        self, tool_config: dict[str, Any], convention: str, fail_on_severity: str = "low"
    ) -> None:
        """Check with ``tool_config`` and ``convention``; fail from ``fail_on_severity`` up."""
        #: ``[tool.pydocstyle]`` as read from pyproject.toml ({} when absent).
        self.tool_config = {k.replace("_", "-"): v for k, v in tool_config.items()}
        self.convention = convention
        self.fail_on_severity = fail_on_severity
        self._match = re.compile(str(self.tool_config.get("match", DEFAULT_MATCH)) + "$")
        self._match_dir = re.compile(
            str(self.tool_config.get("match-dir", DEFAULT_MATCH_DIR)) + "$"
        )
        ignore_decorators = self.tool_config.get("ignore-decorators") or ""
        self._ignore_decorators = str(ignore_decorators)
        self._property_decorators = str(
            self.tool_config.get("property-decorators", DEFAULT_PROPERTY_DECORATORS)
        )
        self._ignore_self_only_init = bool(self.tool_config.get("ignore-self-only-init"))

    def tool_version(self) -> str:
        """Return the installed pydocstyle version."""
        # from the metadata: importing pydocstyle costs ~0.1 s, which a cached run never needs
        return metadata.version("pydocstyle")

    def settings(self) -> dict[str, Any]:
        """Return the settings the findings depend on (their cache key)."""
        # the checked codes follow from these and the tool version, so they are not computed
        # (which imports pydocstyle) until a file is actually checked
        return {
            "tool.pydocstyle": self.tool_config,
            "convention": self.convention,
            "fail_on_severity": self.fail_on_severity,
        }

    @cached_property
    def codes(self) -> frozenset[str]:
        """The pydocstyle codes checked, as the CLI computes them."""
        return checked_codes(self.tool_config, self.convention)

    def applies(self, relpath: str) -> bool:
        """Apply pydocstyle's ``match`` on the file name and ``match-dir`` on every folder."""
        parts = PurePosixPath(relpath).parts
        if not self._match.match(parts[-1]):
            return False
        return all(self._match_dir.match(part) for part in parts[:-1])

    def check(self, source: SourceFile) -> FileOutcome:
        """Return pydocstyle's findings for one file."""
        logging.getLogger("pydocstyle").setLevel(logging.WARNING)
        # pydocstyle's parser calls log.debug about six times per token (1.4M calls on
        # sqlalchemy); at level WARNING each one only costs the call
        with debug_muted("pydocstyle.utils"):
            return self._check(source)

    def _check(self, source: SourceFile) -> FileOutcome:
        from pydocstyle.checker import ConventionChecker
        from pydocstyle.parser import ParseError

        ignore_decorators = re.compile(self._ignore_decorators) if self._ignore_decorators else None
        property_decorators = set(self._property_decorators.split(","))
        findings: list[Finding] = []
        try:
            for error in ConventionChecker().check_source(
                source.text,
                str(source.path),
                ignore_decorators,
                property_decorators,
                False,
                self._ignore_self_only_init,
            ):
                code = getattr(error, "code", None)
                if code in self.codes:
                    findings.append(self._finding(error, source.relpath))
        except (ParseError, SyntaxError, ValueError) as exc:
            return FileOutcome(error=f"pydocstyle could not parse {source.relpath}: {exc}")
        except Exception as exc:  # pydocstyle's tokenizer and __all__ parser raise their own
            name = type(exc).__name__
            return FileOutcome(
                error=f"pydocstyle could not analyse {source.relpath}: {name}: {exc}"
            )
        return FileOutcome(findings=findings)

    def _finding(self, error: Any, relpath: str) -> Finding:
        definition = error.definition
        # pydocstyle prints "path:line in public function `name`:" then the message
        symbol = str(definition).removeprefix("in ")
        if type(definition).__name__ in ("Module", "Package"):
            symbol = ""
        message = str(error.message)
        return Finding(
            fingerprint="",
            pipeline=self.pipeline,
            checker=self.name,
            rule=str(error.code),
            severity="low",
            confidence="undefined",
            path=relpath,
            line=int(error.line),
            end_line=int(error.line),
            message=message,
            help_url="https://www.pydocstyle.org/en/stable/error_codes.html",
            symbol=symbol,
        )

    def fails(self, finding: Finding) -> bool:
        """Tell whether a finding's severity reaches ``fail_on_severity``."""
        return severity_at_least(finding.severity, self.fail_on_severity)
