"""Which checkers run, built from the configuration and the selected pipelines."""

from __future__ import annotations

from pathlib import Path

from ..core.config import FwmonConfig
from ..core.files import relative
from .base import FileChecker, ProjectChecker


def _tool_table(config: FwmonConfig, name: str) -> dict[str, object]:
    table = config.pyproject.get("tool", {}).get(name, {})
    return dict(table) if isinstance(table, dict) else {}


def _relative(config: FwmonConfig, value: str) -> str:
    path = Path(value)
    return relative(path if path.is_absolute() else config.root / path, config.root)


def file_checkers(config: FwmonConfig, pipelines: list[str]) -> list[FileChecker]:
    """File checkers of the selected pipelines, in a fixed order."""
    checkers: list[FileChecker] = []
    if "security" in pipelines:
        if config.str("security", "backend") == "ruff":
            from .ruff import ruff_security_checker

            checkers.append(ruff_security_checker(config))
        else:
            from .bandit import BanditChecker

            checkers.append(
                BanditChecker(
                    config.root,
                    _tool_table(config, "bandit"),
                    config.str("security", "fail_on_severity"),
                    config.str("security", "fail_on_confidence"),
                )
            )
        if config.bool("security", "secrets"):
            from .secrets import SecretsChecker

            checkers.append(
                SecretsChecker(
                    config.root,
                    config.str("security", "fail_on_severity"),
                    config.str("security", "fail_on_confidence"),
                    _relative(config, config.str("", "baseline")),
                )
            )
    if "docs" in pipelines:
        if config.str("docs", "backend") == "ruff":
            from .ruff import ruff_docs_checker

            checkers.append(ruff_docs_checker(config))
        else:
            from .pydocstyle import PydocstyleChecker

            checkers.append(
                PydocstyleChecker(
                    _tool_table(config, "pydocstyle"),
                    config.str("docs", "convention"),
                    config.str("docs", "fail_on_severity"),
                )
            )
    if "quality" in pipelines:
        from .complexity import quality_file_checkers

        checkers.extend(quality_file_checkers(config))
    return checkers


def project_checkers(config: FwmonConfig, pipelines: list[str]) -> list[ProjectChecker]:
    """Project-level checkers of the selected pipelines."""
    checkers: list[ProjectChecker] = []
    if "docs" in pipelines:
        from .docstrings import DocstringAccuracy, DocstringCoverage

        checkers.append(
            DocstringCoverage(
                config.float("docs", "min_coverage"), config.str("docs", "accuracy_style")
            )
        )
        if config.bool("docs", "accuracy"):
            checkers.append(
                DocstringAccuracy(
                    config.str("docs", "accuracy_style"), config.str("docs", "fail_on_severity")
                )
            )
    if "integration" in pipelines:
        from .integration import integration_project_checkers

        checkers.extend(integration_project_checkers(config))
    return checkers
