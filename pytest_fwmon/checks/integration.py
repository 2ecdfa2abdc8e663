"""Integration pipeline: is the package usable as shipped? Nothing here imports pytest.

The ``[tool.fwmon.integration]`` section and the checkers it turns on:
``import-health`` (:mod:`pytest_fwmon.checks.imports`), ``commands``
(:mod:`pytest_fwmon.checks.commands`) and the wheel build (:mod:`pytest_fwmon.checks.packaging`),
plus :func:`integration_entries`, the report's ``integration`` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..core.config import FwmonConfig, Key
from ..core.model import SEVERITIES
from .base import ProjectChecker
from .commands import CommandReadinessChecker
from .complexity import validate_section
from .imports import ImportHealthChecker

#: ``[tool.fwmon.integration]`` keys.
SPEC: Final[dict[str, Key]] = {
    "import_health": Key(True, "bool", help="import every module in a fresh interpreter"),
    "commands": Key(True, "bool", help="score the console scripts and entry points"),
    "packaging": Key(False, "bool", help="build the wheel and check it (--fwmon-packaging)"),
    "packages": Key([], "list", help="import names of the packages; default: found under . or src"),
    "exclude_modules": Key(
        ["*.__main__"], "list", help="fnmatch patterns of dotted module names to leave out"
    ),
    "optional_dependencies": Key(
        [], "list", help="top-level modules whose absence only skips the module importing them"
    ),
    "import_timeout": Key(10.0, "float", minimum=0.1, help="seconds allowed per module import"),
    "help_timeout": Key(10.0, "float", minimum=0.1, help="seconds allowed for NAME --help"),
    "docs_paths": Key(
        ["README*", "docs"], "list", help="files/folders (globs) searched for command names"
    ),
    "test_paths": Key(["tests", "test"], "list", help="files/folders searched for command use"),
    "ready_percent": Key(80.0, "float", minimum=0, maximum=100, help="readiness counted as ready"),
    "build_isolation": Key(
        "auto",
        "str",
        choices=("auto", "always", "never"),
        help="build the wheel in an isolated env: auto = only if the backend is missing",
    ),
    "wheel_exclude": Key([], "list", help="fnmatch patterns of modules allowed to be left out"),
    "fail_on_severity": Key(
        "low", "str", choices=tuple(SEVERITIES), help="lowest severity that fails an item"
    ),
}

#: Environment variable that turns the packaging check on (the ``--fwmon-packaging`` option).


def validate_integration_section(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return the validated ``[tool.fwmon.integration]`` values with defaults filled in.

    Raises :class:`~pytest_fwmon.core.errors.ConfigError` naming the valid keys for an unknown key.
    """
    return validate_section("integration", SPEC, raw)


def integration_project_checkers(
    config: FwmonConfig, *, packaging: bool | None = None
) -> list[ProjectChecker]:
    """Return the integration checkers the configuration turns on.

    ``packaging`` overrides the ``packaging`` key (which ``--fwmon-packaging`` and
    ``FWMON_PACKAGING`` set through the configuration).
    """
    values = config.validated("integration")
    checkers: list[ProjectChecker] = []
    if values["import_health"]:
        checkers.append(ImportHealthChecker.from_section(values))
    if values["commands"]:
        checkers.append(CommandReadinessChecker.from_section(values))
    if packaging is None:
        packaging = bool(values["packaging"])
    if packaging:
        from .packaging import PackagingChecker

        checkers.append(PackagingChecker.from_section(values))
    return checkers


def integration_entries(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``report["integration"]`` entries from a ``CheckResult.to_dict()`` of these checkers.

    One entry per module (``kind`` "module") and per command/entry point (``kind``
    "command"/"entry-point"), plus one "wheel" entry for the packaging check.
    """
    metrics = result.get("metrics") or {}
    checker = result.get("checker")
    entries: list[dict[str, Any]] = []
    if checker == ImportHealthChecker.name:
        for module in metrics.get("modules", ()):
            entries.append(
                {
                    "kind": "module",
                    "name": module["module"],
                    "status": module["status"],
                    "path": module.get("path", ""),
                    "seconds": module.get("seconds", 0.0),
                    "via": module.get("via", ""),
                    "message": module.get("message", ""),
                }
            )
    elif checker == CommandReadinessChecker.name:
        for command in metrics.get("commands", ()):
            is_command = command["group"] in ("console_scripts", "gui_scripts")
            entries.append(
                {
                    "kind": "command" if is_command else "entry-point",
                    "name": command["name"],
                    "group": command["group"],
                    "entry_point": command["entry_point"],
                    "status": "ok" if command["score"] >= 100 else "incomplete",
                    "score": command["score"],
                    "criteria": command["criteria"],
                    "help_seconds": command.get("help_seconds"),
                }
            )
    elif checker == "packaging" and metrics.get("wheel") is not None:
        entries.append({"kind": "wheel", "status": result.get("outcome"), **metrics["wheel"]})
    return entries
