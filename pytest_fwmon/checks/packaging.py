"""Packaging check: the wheel builds, ships every module and ``py.typed``, metadata is valid.

The project is copied to a temporary folder (without ``.git``, virtual environments, caches,
``build``/``dist``) and built there with ``python -m build --wheel`` (pypa/build), or
``pip wheel --no-deps`` when build is not installed, so the source tree is never written to.
Build isolation follows ``build_isolation``: ``auto`` builds without isolation when every
``[build-system] requires`` entry is installed in this environment (no network needed) and
isolated otherwise; ``always``/``never`` force it. Projects whose version comes from git
(setuptools-scm, hatch-vcs) need ``SETUPTOOLS_SCM_PRETEND_VERSION`` set, as the copy has no
``.git``.

Then, from the wheel: every module of the project's packages must be in it (``INT302``, unless
matched by ``wheel_exclude``), a package's ``py.typed`` must be shipped (``INT303``), the
metadata must parse and validate with :mod:`packaging.metadata` (``INT304``), carry
``Requires-Python`` (``INT305``) and a long description that renders the way ``twine check``
renders it with readme-renderer (``INT306``). ``INT301``: the build itself failed.

Slow (a build per run), so it only runs with ``--fwmon-packaging`` (or
``[tool.fwmon.integration] packaging = true`` / ``FWMON_PACKAGING=1``).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import io
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from ..core.config import read_pyproject
from ..core.model import CheckResult, Finding, fingerprint, severity_at_least
from .base import ProjectChecker, SourceFile
from .packages import find_packages, package_modules
from .subproc import python_env, run_bounded, tail

_COPY_IGNORE: Final = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "*.pyc",
    "build",
    "dist",
    ".fwmon",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    ".coverage*",
)


def requirements_met(requires: Sequence[str]) -> bool:
    """Whether every requirement string is satisfied by an installed distribution."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging ships with pytest
        return False
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            return False
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            return False
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            return False
    return True


@dataclass(slots=True)
class WheelReport:
    """What the packaging check saw."""

    #: File name of the wheel built, "" when the build failed.
    wheel: str = ""
    #: Command used to build it.
    command: list[str] = field(default_factory=list)
    isolated: bool = False
    build_seconds: float = 0.0
    #: Modules expected in the wheel and the ones missing from it.
    expected_modules: int = 0
    missing_modules: list[str] = field(default_factory=list)
    py_typed: dict[str, bool] = field(default_factory=dict)
    name: str = ""
    version: str = ""
    requires_python: str = ""
    readme_content_type: str = ""
    #: True rendered, False failed, None not checked (no renderer for the type).
    readme_renders: bool | None = None


class PackagingChecker(ProjectChecker):
    """Build the wheel in a temporary copy of the project and check what it ships."""

    name = "packaging"
    pipeline = "integration"

    def __init__(
        self,
        packages: Sequence[str] = (),
        *,
        isolation: str = "auto",
        exclude: Sequence[str] = (),
        timeout: float = 600.0,
        fail_on_severity: str = "low",
        python: str = sys.executable,
    ) -> None:
        """Configure the packaging checks of ``packages``."""
        self.packages = list(packages)
        self.isolation = isolation
        self.exclude = list(exclude)
        self.timeout = timeout
        self.fail_on_severity = fail_on_severity
        self.python = python

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> PackagingChecker:
        """Build from validated ``[tool.fwmon.integration]`` values."""
        return cls(
            values["packages"],
            isolation=str(values["build_isolation"]),
            exclude=values["wheel_exclude"],
            fail_on_severity=str(values["fail_on_severity"]),
        )

    def fails(self, finding: Finding) -> bool:
        """Tell whether a finding fails the item: its severity reaches ``fail_on_severity``."""
        return severity_at_least(finding.severity, self.fail_on_severity)

    def build_command(self, source: Path, outdir: Path, root: Path) -> tuple[list[str], bool]:
        """Return the build command and whether it builds in an isolated environment."""
        if self.isolation == "auto":
            system = read_pyproject(root).get("build-system", {})
            requires = system.get("requires", ["setuptools>=40.8.0"])
            isolated = not (isinstance(requires, list) and requirements_met(requires))
        else:
            isolated = self.isolation == "always"
        if importlib.util.find_spec("build") is not None:
            command = [self.python, "-m", "build", "--wheel", "--outdir", str(outdir)]
            if not isolated:
                command.append("--no-isolation")
        else:
            command = [self.python, "-m", "pip", "wheel", "--no-deps", "-w", str(outdir)]
            if not isolated:
                command.append("--no-build-isolation")
        return [*command, str(source)], isolated

    def run(self, files: Sequence[SourceFile], root: Path) -> CheckResult:
        """Build, then check contents and metadata."""
        start = time.perf_counter()
        nodeid = f"pyproject.toml::fwmon[{self.name}]"
        if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
            return CheckResult(
                nodeid,
                self.pipeline,
                self.name,
                "skipped",
                reason="no pyproject.toml or setup.py: nothing to build",
            )
        report = WheelReport()
        findings: list[Finding] = []
        with tempfile.TemporaryDirectory(prefix="fwmon-wheel-") as tmp:
            source, outdir = Path(tmp) / "src", Path(tmp) / "dist"
            shutil.copytree(root, source, ignore=shutil.ignore_patterns(*_COPY_IGNORE))
            command, report.isolated = self.build_command(source, outdir, root)
            shown = {str(outdir): "<outdir>", str(source): "<copy>"}
            report.command = [Path(command[0]).name, *(shown.get(a, a) for a in command[1:])]
            code, out, err, seconds = run_bounded(
                command, cwd=source, env=python_env([]), timeout=self.timeout
            )
            report.build_seconds = round(seconds, 3)
            wheels = sorted(outdir.glob("*.whl")) if outdir.is_dir() else []
            if code != 0 or not wheels:
                why = "timed out" if code is None else f"exited with {code}"
                findings.append(
                    self._finding(
                        "INT301",
                        "wheel-build-fails",
                        "high",
                        f"the wheel build {why}: {_last_line(err or out)}",
                        "build",
                    )
                )
                return self._result(nodeid, findings, report, start, tail(err or out))
            wheel = wheels[0]
            report.wheel = wheel.name
            with zipfile.ZipFile(wheel) as archive:
                names = set(archive.namelist())
                meta_name = next(
                    (n for n in sorted(names) if n.endswith(".dist-info/METADATA")), None
                )
                meta_text = archive.read(meta_name).decode("utf-8", "replace") if meta_name else ""
        findings += self._contents(root, names, report)
        findings += self._metadata(meta_text, report)
        return self._result(nodeid, findings, report, start, "")

    def _contents(self, root: Path, names: set[str], report: WheelReport) -> list[Finding]:
        findings: list[Finding] = []
        for package in find_packages(root, self.packages):
            for module, path in sorted(package_modules(package).items()):
                if any(fnmatch.fnmatchcase(module, p) for p in self.exclude):
                    continue
                report.expected_modules += 1
                member = path.relative_to(package.import_root).as_posix()
                if member not in names:
                    report.missing_modules.append(module)
                    findings.append(
                        self._finding(
                            "INT302",
                            "module-not-in-wheel",
                            "high",
                            f"module {module} ({member}) is not in the wheel",
                            module,
                            path=path.relative_to(root).as_posix(),
                        )
                    )
            marker = package.path / "py.typed"
            if marker.is_file():
                shipped = f"{package.name}/py.typed" in names
                report.py_typed[package.name] = shipped
                if not shipped:
                    findings.append(
                        self._finding(
                            "INT303",
                            "py-typed-not-in-wheel",
                            "medium",
                            f"{package.name}/py.typed exists but is not in the wheel",
                            package.name,
                            path=marker.relative_to(root).as_posix(),
                        )
                    )
        return findings

    def _metadata(self, text: str, report: WheelReport) -> list[Finding]:
        findings: list[Finding] = []
        if not text:
            return [
                self._finding("INT304", "bad-metadata", "high", "the wheel has no METADATA", "meta")
            ]
        from email.parser import Parser

        message = Parser().parsestr(text)
        report.name = message.get("Name", "") or ""
        report.version = message.get("Version", "") or ""
        report.requires_python = message.get("Requires-Python", "") or ""
        report.readme_content_type = message.get("Description-Content-Type", "") or ""
        problems = _validate_metadata(text)
        for problem in problems:
            findings.append(
                self._finding(
                    "INT304", "bad-metadata", "high", f"invalid metadata: {problem}", problem
                )
            )
        if not report.requires_python:
            findings.append(
                self._finding(
                    "INT305",
                    "no-requires-python",
                    "low",
                    "the metadata has no Requires-Python ([project] requires-python)",
                    "requires-python",
                )
            )
        body = message.get_payload()
        description = body if isinstance(body, str) else ""
        if not description.strip():
            description = message.get("Description", "") or ""
        rendered, why = render_readme(description, report.readme_content_type)
        report.readme_renders = rendered
        if rendered is False:
            findings.append(
                self._finding(
                    "INT306",
                    "readme-does-not-render",
                    "medium",
                    f"the long description does not render on PyPI: {why}",
                    "readme",
                )
            )
        return findings

    def _finding(
        self, rule: str, rule_name: str, severity: str, message: str, key: str, path: str = ""
    ) -> Finding:
        where = path or "pyproject.toml"
        return Finding(
            fingerprint=fingerprint(self.name, rule, where, key, 0),
            pipeline=self.pipeline,
            checker=self.name,
            rule=rule,
            severity=severity,
            confidence="high",
            path=where,
            line=0,
            message=message,
            rule_name=rule_name,
        )

    def _result(
        self,
        nodeid: str,
        findings: list[Finding],
        report: WheelReport,
        start: float,
        build_log: str,
    ) -> CheckResult:
        failing = any(severity_at_least(f.severity, self.fail_on_severity) for f in findings)
        wheel = {name: getattr(report, name) for name in WheelReport.__dataclass_fields__}
        if build_log:
            wheel["build_log_tail"] = build_log
        return CheckResult(
            nodeid,
            self.pipeline,
            self.name,
            "failed" if failing else "passed",
            findings=findings,
            duration=time.perf_counter() - start,
            metrics={"wheel": wheel},
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _validate_metadata(text: str) -> list[str]:
    """Problems :mod:`packaging.metadata` finds (empty when valid or packaging is too old)."""
    try:
        from packaging.metadata import ExceptionGroup, Metadata
    except ImportError:  # packaging < 22
        return []
    try:
        Metadata.from_email(text, validate=True)
    except ExceptionGroup as group:
        return sorted(str(exc) for exc in group.exceptions)
    except ValueError as exc:
        return [str(exc)]
    return []


def render_readme(text: str, content_type: str) -> tuple[bool | None, str]:
    """Render a long description as PyPI does (twine check): (ok, why it failed).

    ``ok`` is None when the renderer for that type is not installed (readme-renderer for
    reStructuredText, its ``md`` extra for Markdown) or there is no description.
    """
    kind = (content_type.split(";")[0].strip().lower()) or "text/x-rst"
    if not text.strip():
        return None, "no long description"
    if kind == "text/plain":
        return True, ""
    if kind == "text/markdown":
        try:
            from readme_renderer.markdown import render as render_md
        except ImportError:
            return None, "readme-renderer[md] is not installed"
        return (render_md(text) is not None), "markdown rendering failed"
    if kind != "text/x-rst":
        return False, f"unknown content type {content_type!r}"
    try:
        from readme_renderer.rst import render as render_rst
    except ImportError:
        return None, "readme-renderer is not installed"
    stream = io.StringIO()
    if render_rst(text, stream=stream) is None:
        return False, _last_line(stream.getvalue())
    return True, ""
