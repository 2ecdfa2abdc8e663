"""The ``import-health`` checker: every module of the project imports in a fresh interpreter.

This catches circular imports, missing dependencies and import-time crashes. Starting one
interpreter per module is slow (each pays start-up plus the import of its package), so one
fresh interpreter runs a *fork tree* (:mod:`pytest_fwmon.checks.import_probe`): the probe forks
a child per top-level package, the child imports it, then forks a grandchild per submodule
that the package import did not already load, and so on. Each child starts from exactly the
state a fresh ``python -c "import pkg.sub.mod"`` would reach before importing ``mod`` (its
parent packages, freshly imported, nothing else), so the result is the same, but the parents
are imported once. A module the parents' import already loaded has the parents' result. Each
import has a watchdog (:func:`faulthandler.dump_traceback_later`) that ends the child after
``import_timeout`` seconds with the stack of the hang. On platforms without ``fork`` every
module gets its own interpreter.

Rules: ``INT101`` import error, ``INT102`` circular import, ``INT103`` import timed out,
``INT104`` import ended the interpreter. Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from ..core.model import CheckResult, Finding, severity_at_least
from . import import_probe
from .base import ProjectChecker, SourceFile, project_outcome, stable_fingerprint
from .packages import find_packages, package_modules, relative_path
from .subproc import python_env, run_bounded, tail


@dataclass(slots=True)
class ModuleResult:
    """Outcome of importing one module in a fresh interpreter."""

    #: Dotted module name.
    module: str
    #: ok | error | timeout | crash | blocked (a parent package failed) | skipped (optional
    #: dependency missing) | not-run (the probe itself failed).
    status: str
    #: Seconds the import of this module took (its parents excluded).
    seconds: float = 0.0
    #: Parent whose import already loaded it (status ok), or that blocked it.
    via: str = ""
    #: Exception type and first line of its message.
    message: str = ""
    #: File and line of the innermost frame inside the project, when known.
    file: str = ""
    line: int = 0
    #: ``ModuleNotFoundError.name`` when a module was missing.
    missing: str = ""
    #: Last lines of the traceback or of the watchdog's stack dump.
    tail: str = ""


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(nxt, nxt))
    return "".join(out)


def _parse_results(text: str) -> dict[str, ModuleResult]:
    results: dict[str, ModuleResult] = {}
    for line in text.splitlines():
        parts = [_unescape(p) for p in line.split("\t")]
        if len(parts) != 9 or parts[0] in results:
            continue
        name, status, seconds, via, message, file, lineno, missing, tb = parts
        results[name] = ModuleResult(
            name,
            status,
            float(seconds or 0),
            via,
            message,
            file,
            int(lineno or 0),
            missing,
            tail(tb),
        )
    return results


def probe_imports(
    modules: Sequence[str],
    *,
    root: Path,
    import_roots: Sequence[Path],
    timeout: float = 10.0,
    python: str = sys.executable,
) -> dict[str, ModuleResult]:
    """Import each of ``modules`` as a fresh interpreter would; one result per module."""
    if not modules:
        return {}
    env = python_env(import_roots)
    root_prefix = str(root.resolve())
    with tempfile.TemporaryDirectory(prefix="fwmon-imports-") as work_dir:
        work = Path(work_dir)
        # Without fork, one interpreter per module.
        batches = [list(modules)] if hasattr(os, "fork") else [[m] for m in modules]
        results: dict[str, ModuleResult] = {}
        errors: list[str] = []

        def one(index: int, batch: list[str]) -> None:
            folder = work / str(index)
            folder.mkdir()
            (folder / "modules.txt").write_text("\n".join(batch) + "\n", encoding="utf-8")
            budget = timeout * len(batch) + 60
            command = [python, import_probe.PROBE_FILE, str(folder), repr(timeout), root_prefix]
            code, _out, err, _secs = run_bounded(command, cwd=root, env=env, timeout=budget)
            if code != 0:
                errors.append(tail(err, 500) or f"import probe exited with {code}")
            path = folder / "results.txt"
            if path.exists():
                results.update(_parse_results(path.read_text(encoding="utf-8", errors="replace")))

        with ThreadPoolExecutor(max_workers=max(1, min(len(batches), os.cpu_count() or 1))) as ex:
            list(ex.map(one, range(len(batches)), batches))
    for name in modules:
        if name not in results:
            reason = errors[0] if errors else "the import ended the process before it reported"
            results[name] = ModuleResult(name, "crash", message=reason)
    return {name: results[name] for name in modules}


# --------------------------------------------------------------------------- import health


_DUMP_FRAME: Final = re.compile(r'^\s*File "(.+)", line (\d+)')


def _locate_hang(result: ModuleResult, prefix: str) -> None:
    """Point a timeout at the innermost project frame of the watchdog's stack dump."""
    kept: list[str] = []
    for line in result.tail.splitlines():
        match = _DUMP_FRAME.match(line)
        if match is None:
            kept.append(line)
            continue
        if match.group(1) == import_probe.PROBE_FILE or match.group(1).startswith("<frozen"):
            continue
        kept.append(line)
        if not result.file and match.group(1).startswith(prefix):
            result.file, result.line = match.group(1), int(match.group(2))
    result.tail = "\n".join(kept)


class ImportHealthChecker(ProjectChecker):
    """Every module of the project imports in a fresh interpreter."""

    name = "import-health"
    pipeline = "integration"

    def __init__(
        self,
        packages: Sequence[str] = (),
        *,
        exclude: Sequence[str] = ("*.__main__",),
        optional: Sequence[str] = (),
        timeout: float = 10.0,
        fail_on_severity: str = "low",
    ) -> None:
        """Configure the import checks of ``packages``."""
        self.packages = list(packages)
        self.exclude = list(exclude)
        self.optional = set(optional)
        self.timeout = timeout
        self.fail_on_severity = fail_on_severity

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> ImportHealthChecker:
        """Build from validated ``[tool.fwmon.integration]`` values."""
        return cls(
            values["packages"],
            exclude=values["exclude_modules"],
            optional=values["optional_dependencies"],
            timeout=float(values["import_timeout"]),
            fail_on_severity=str(values["fail_on_severity"]),
        )

    def fails(self, finding: Finding) -> bool:
        """Tell whether a finding fails the item: its severity reaches ``fail_on_severity``."""
        return severity_at_least(finding.severity, self.fail_on_severity)

    def modules(
        self, files: Sequence[SourceFile], root: Path
    ) -> tuple[dict[str, Path], list[Path]]:
        """Modules to import (name -> file) and the folders to put on ``sys.path``."""
        packages = find_packages(root, self.packages)
        selected = {f.path.resolve() for f in files}
        modules: dict[str, Path] = {}
        for package in packages:
            for name, path in package_modules(package).items():
                if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.exclude):
                    continue
                if selected and path.resolve() not in selected:
                    continue
                modules[name] = path
        return modules, [p.import_root for p in packages]

    def run(self, files: Sequence[SourceFile], root: Path) -> CheckResult:
        """Import every module; findings for failures, per-module results in the metrics."""
        start = time.perf_counter()
        nodeid = f"pyproject.toml::fwmon[{self.name}]"
        modules, import_roots = self.modules(files, root)
        if not modules:
            return CheckResult(
                nodeid,
                self.pipeline,
                self.name,
                "skipped",
                reason="no package found: set [tool.fwmon.integration] packages",
                duration=time.perf_counter() - start,
            )
        results = probe_imports(
            sorted(modules), root=root, import_roots=import_roots, timeout=self.timeout
        )
        prefix = str(root.resolve()) + os.sep
        for result in results.values():
            result.message = result.message.replace(prefix, "")
            if result.status == "timeout":
                _locate_hang(result, prefix)
        findings: list[Finding] = []
        for name, result in results.items():
            top = result.missing.partition(".")[0]
            if result.status == "error" and top and top in self.optional:
                result.status = "skipped"
                result.message = f"optional dependency {result.missing} is not installed"
            finding = self._finding(result, modules[name], root)
            if finding is not None:
                findings.append(finding)
        counts = {s: 0 for s in ("ok", "error", "timeout", "crash", "blocked", "skipped")}
        for result in results.values():
            counts[result.status] = counts.get(result.status, 0) + 1
        metrics: dict[str, Any] = {
            "modules": [
                {**asdict(r), "path": relative_path(modules[r.module], root)}
                for r in results.values()
            ],
            "total": len(results),
            **counts,
            "import_seconds": round(sum(r.seconds for r in results.values()), 6),
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

    def _finding(self, result: ModuleResult, path: Path, root: Path) -> Finding | None:
        if result.status in ("ok", "blocked", "skipped"):
            return None
        relpath, line = relative_path(path, root), 0
        if result.file:
            with contextlib.suppress(ValueError):
                file = Path(result.file).resolve().relative_to(root.resolve())
                relpath, line = file.as_posix(), result.line
        if result.status == "timeout":
            rule, rule_name = "INT103", "import-timeout"
            message = f"import of {result.module} did not finish within {self.timeout:g}s"
        elif result.status == "crash":
            rule, rule_name = "INT104", "import-crash"
            message = f"import of {result.module} {result.message.removeprefix('import ')}"
        elif "circular import" in result.message:
            rule, rule_name = "INT102", "circular-import"
            message = f"circular import when importing {result.module}: {result.message}"
        else:
            rule, rule_name = "INT101", "import-error"
            message = f"import of {result.module} fails: {result.message}"
        return Finding(
            fingerprint=stable_fingerprint(self.name, rule, relpath, result.module),
            pipeline=self.pipeline,
            checker=self.name,
            rule=rule,
            severity="high",
            confidence="high",
            path=relpath,
            line=line,
            end_line=line,
            message=message,
            rule_name=rule_name,
        )
