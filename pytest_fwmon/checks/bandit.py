"""Security checker: bandit, in-process, one file at a time.

Honours bandit's own configuration the way ``bandit -c pyproject.toml`` does: ``[tool.bandit]``
``tests``/``skips`` (the profile), ``exclude_dirs``, plugin settings; ``# nosec`` comments are
honoured by bandit itself. Every issue bandit reports becomes a finding, whatever fwmon's
thresholds; ``fail_on_severity``/``fail_on_confidence`` only decide whether the item fails.
"""

from __future__ import annotations

import fnmatch
import logging
import warnings
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from ..model import Finding, confidence_at_least, severity_at_least
from .base import FileChecker, FileOutcome, SourceFile

_LEVEL = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "info"}
_CONF = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "undefined"}


def _quiet_import(module: str) -> Any:
    """Import a bandit module without its dependencies' import-time DeprecationWarnings.

    stevedore warns when bandit's extension manager is built; projects that run pytest with
    ``filterwarnings = error`` would otherwise see fwmon crash on a warning that is not theirs.
    """
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(module)


class BanditChecker(FileChecker):
    """bandit on one file; findings carry CWE ids and bandit's help URL."""

    name = "bandit"
    pipeline = "security"

    def __init__(
        self,
        root: Path,
        tool_config: dict[str, Any],
        fail_on_severity: str = "medium",
        fail_on_confidence: str = "medium",
    ) -> None:
        self.root = root
        #: ``[tool.bandit]`` as read from pyproject.toml ({} when absent).
        self.tool_config = tool_config
        self.fail_on_severity = fail_on_severity
        self.fail_on_confidence = fail_on_confidence

    def __getstate__(self) -> dict[str, Any]:
        # bandit objects are rebuilt in each worker process
        state = dict(self.__dict__)
        state.pop("_bandit", None)
        return state

    def tool_version(self) -> str:
        # from the metadata: importing bandit costs ~0.1 s, which a fully cached run never needs
        return metadata.version("bandit")

    def settings(self) -> dict[str, Any]:
        return {
            "tool.bandit": self.tool_config,
            "fail_on_severity": self.fail_on_severity,
            "fail_on_confidence": self.fail_on_confidence,
        }

    def applies(self, relpath: str) -> bool:
        """False for files under bandit's ``exclude_dirs``."""
        excluded = self.tool_config.get("exclude_dirs") or []
        parts = relpath.split("/")
        for pattern in excluded:
            pattern = str(pattern).strip("/").removeprefix("./")
            if not pattern:
                continue
            if relpath.startswith(pattern + "/") or pattern in parts[:-1]:
                return False
            if fnmatch.fnmatch(relpath, pattern) or fnmatch.fnmatch(relpath, pattern + "/*"):
                return False
        return True

    @cached_property
    def _bandit(self) -> tuple[Any, dict[str, set[str]]]:
        b_config = _quiet_import("bandit.core.config")
        extension_loader = _quiet_import("bandit.core.extension_loader")

        pyproject = self.root / "pyproject.toml"
        conf = b_config.BanditConfig(str(pyproject) if self.tool_config else None)
        profile = {
            "include": set(conf.get_option("tests") or []),
            "exclude": set(conf.get_option("skips") or []),
        }
        extension_loader.MANAGER.validate_profile(profile)
        logging.getLogger("bandit").setLevel(logging.WARNING)
        return conf, profile

    def check(self, source: SourceFile) -> FileOutcome:
        b_manager = _quiet_import("bandit.core.manager")

        conf, profile = self._bandit
        mgr = b_manager.BanditManager(conf, "file", quiet=True, profile=profile)
        mgr.files_list = [str(source.path)]
        mgr.run_tests()
        if mgr.skipped:
            reason = mgr.skipped[0][1]
            return FileOutcome(error=f"bandit could not analyse {source.relpath}: {reason}")
        findings = [
            self._finding(issue, source.relpath)
            for issue in mgr.get_issue_list("UNDEFINED", "UNDEFINED")
        ]
        return FileOutcome(findings=findings, metrics={"loc": len(source.lines)})

    def _finding(self, issue: Any, relpath: str) -> Finding:
        data = issue.as_dict(with_code=False)
        cwe = data.get("issue_cwe") or {}
        lines: Sequence[int] = data.get("line_range") or [data["line_number"]]
        return Finding(
            fingerprint="",
            pipeline=self.pipeline,
            checker=self.name,
            rule=data["test_id"],
            rule_name=data.get("test_name", ""),
            severity=_LEVEL.get(data["issue_severity"], "info"),
            confidence=_CONF.get(data["issue_confidence"], "undefined"),
            cwe=int(cwe["id"]) if cwe.get("id") else None,
            path=relpath,
            line=int(data["line_number"]),
            end_line=int(max(lines)),
            col=int(data.get("col_offset", 0)) + 1,
            message=str(data["issue_text"]).strip().splitlines()[0],
            help_url=str(data.get("more_info", "")),
        )

    def fails(self, finding: Finding) -> bool:
        return severity_at_least(finding.severity, self.fail_on_severity) and confidence_at_least(
            finding.confidence, self.fail_on_confidence
        )
