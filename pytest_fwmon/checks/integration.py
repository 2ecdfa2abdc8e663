"""Integration pipeline: is the package usable as shipped? Nothing here imports pytest.

Two project checkers (a third, the wheel build, is :mod:`pytest_fwmon.checks.packaging`):

``import-health`` (:class:`ImportHealthChecker`)
    Every module of the project's packages must import cleanly in a *fresh* interpreter, which
    catches circular imports, missing dependencies and import-time crashes. Starting one
    interpreter per module is slow (each pays start-up plus the import of its package), so one
    fresh interpreter runs a *fork tree*: the probe forks a child per top-level package, the
    child imports it, then forks a grandchild per submodule that the package import did not
    already load, and so on. Each child starts from exactly the state a fresh
    ``python -c "import pkg.sub.mod"`` would reach before importing ``mod`` (its parent
    packages, freshly imported, nothing else), so the result is the same, but the parents are
    imported once. A module the parents' import already loaded has the parents' result.
    Each import has a watchdog (:func:`faulthandler.dump_traceback_later`) that ends the
    child after ``import_timeout`` seconds with the stack of the hang. On platforms without
    ``fork`` every module gets its own interpreter.

``commands`` (:class:`CommandReadinessChecker`)
    Every console/GUI script of the project (``[project.scripts]``, ``[project.gui-scripts]``)
    is scored on four criteria, 25 % each: the entry point loads; ``NAME --help`` exits 0
    within ``help_timeout`` (stdin closed, no controlling terminal); the name appears in the
    README or the docs; a test refers to it. Other entry points (``[project.entry-points]``)
    are checked for loading only. The metrics say how many commands reach
    ``ready_percent`` (80 %).

Rules: ``INT101`` import error, ``INT102`` circular import, ``INT103`` import timed out,
``INT104`` import ended the interpreter, ``INT201`` entry point does not load, ``INT202``
``--help`` fails, ``INT203`` ``--help`` timed out, ``INT204`` command not documented,
``INT205`` command not tested.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from ..core.config import FwmonConfig, Key, read_pyproject
from ..core.model import SEVERITIES, CheckResult, Finding, fingerprint, severity_at_least
from .base import ProjectChecker, SourceFile
from .complexity import validate_section

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

#: Folder names never taken for the project's packages when they are found automatically.
_NOT_PACKAGES: Final = frozenset(
    {"tests", "test", "testing", "docs", "doc", "benchmarks", "examples", "build", "dist"}
)
_SKIP_DIRS: Final = frozenset(
    {"__pycache__", ".git", ".venv", "venv", ".tox", ".nox", "node_modules", "build", "dist"}
)
_TAIL_CHARS: Final = 2000


def validate_integration_section(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validated ``[tool.fwmon.integration]`` values with defaults filled in.

    Raises :class:`~pytest_fwmon.core.errors.ConfigError` naming the valid keys for an unknown key.
    """
    return validate_section("integration", SPEC, raw)


def integration_project_checkers(
    config: FwmonConfig, *, packaging: bool | None = None
) -> list[ProjectChecker]:
    """The integration checkers the configuration turns on.

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


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True, slots=True)
class Package:
    """A top-level import package of the project."""

    #: Import name.
    name: str
    #: The package folder.
    path: Path
    #: The folder that must be on ``sys.path`` to import it (the root, or ``src``).
    import_root: Path


def find_packages(root: Path, names: Sequence[str] = ()) -> list[Package]:
    """The project's top-level packages: ``names`` if given, else folders with ``__init__.py``.

    Folders are looked for in ``root`` and ``root/src``; test, docs and build folders and
    hidden ones are not packages. A configured name that is not found is skipped.
    """
    bases = [root, root / "src"]
    found: list[Package] = []
    if names:
        for name in names:
            for base in bases:
                candidate = base / name
                if candidate.is_dir():
                    found.append(Package(name, candidate, base))
                    break
        return found
    for base in bases:
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if (
                entry.is_dir()
                and entry.name.isidentifier()
                and entry.name not in _NOT_PACKAGES
                and not entry.name.startswith((".", "_"))
                and (entry / "__init__.py").is_file()
            ):
                found.append(Package(entry.name, entry, base))
    return found


def package_modules(package: Package) -> dict[str, Path]:
    """Dotted name -> file of every module in ``package`` (sub-folders need ``__init__.py``)."""
    modules: dict[str, Path] = {}

    def walk(folder: Path, dotted: str) -> None:
        for entry in sorted(folder.iterdir()):
            if entry.is_dir():
                if (
                    entry.name not in _SKIP_DIRS
                    and entry.name.isidentifier()
                    and (entry / "__init__.py").is_file()
                ):
                    walk(entry, f"{dotted}.{entry.name}")
            elif entry.suffix == ".py" and entry.stem.isidentifier():
                if entry.stem == "__init__":
                    modules[dotted] = entry
                else:
                    modules[f"{dotted}.{entry.stem}"] = entry

    walk(package.path, package.name)
    return modules


def _relpath(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _python_env(import_roots: Sequence[Path]) -> dict[str, str]:
    """The environment for a subprocess that must import the working tree's code."""
    env = dict(os.environ)
    paths = [str(p) for p in dict.fromkeys(import_roots)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    # Coverage's subprocess hook would slow every probe and write data files.
    env.pop("COVERAGE_PROCESS_START", None)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def tail(text: str, limit: int = _TAIL_CHARS) -> str:
    """The last ``limit`` characters of ``text``, cut at a line start when possible."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < limit // 2 else cut


def _run(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[int | None, str, str, float]:
    """Run a command in its own session (no controlling terminal) with stdin closed.

    Returns (exit code or None on timeout, stdout, stderr, seconds). On timeout the whole
    process group is killed, so grandchildren cannot keep the pipes open.
    """
    start = time.perf_counter()
    with subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            code = None
    seconds = time.perf_counter() - start
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


# --------------------------------------------------------------------------- import probe

#: Runs in a fresh interpreter as ``python -c PROBE WORKDIR TIMEOUT ROOT``; imports nothing
#: that a bare ``python -c "import m"`` has not loaded already (os, sys, time, faulthandler
#: are loaded at start-up or built in) until a module fails. Result lines (tab separated,
#: escaped) go to WORKDIR/results.txt: name, status, seconds, via, message, file, line,
#: missing module, traceback tail.
PROBE: Final = r"""
def _fwmon_probe():
    import faulthandler, os, sys, time
    work, timeout, root = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    sys.argv[:] = ["-c"]
    with open(os.path.join(work, "modules.txt"), encoding="utf-8") as fh:
        wanted = [line.strip() for line in fh if line.strip()]
    wanted_set = set(wanted)
    children = {}

    def add(name):
        parent = name.rpartition(".")[0]
        kids = children.setdefault(parent, [])
        if name not in kids:
            kids.append(name)
            if parent:
                add(parent)

    for name in wanted:
        add(name)
    for kids in children.values():
        kids.sort()
    results = os.open(
        os.path.join(work, "results.txt"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)

    def clean(value):
        text = str(value)
        for old, new in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            text = text.replace(old, new)
        return text

    def emit(name, status, seconds=0.0, via="", message="", file="", line=0, missing="", tb=""):
        if name not in wanted_set:
            return
        fields = (name, status, "%.6f" % seconds, via, message, file, line, missing, tb)
        data = "\t".join(clean(v) for v in fields) + "\n"
        os.write(results, data.encode("utf-8", "replace"))

    def below(name):
        for kid in children.get(name, ()):
            yield kid
            yield from below(kid)

    def block(name, why):
        for kid in below(name):
            emit(kid, "blocked", via=name, message=why)

    def flush():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass

    def read_tail(path):
        try:
            with open(path, "rb") as fh:
                fh.seek(0, 2)
                size = fh.tell()
                fh.seek(max(0, size - 4000))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def where(exc):
        import traceback
        file, line = "", 0
        if isinstance(exc, SyntaxError) and exc.filename:
            file, line = exc.filename, exc.lineno or 0
        else:
            for frame in traceback.extract_tb(exc.__traceback__):
                name = frame.filename
                if name.startswith(root) and "<frozen" not in name:
                    file, line = name, frame.lineno or 0
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        return file, line, text[-4000:]

    def run(name):
        faulthandler.enable(file=sys.stderr)
        faulthandler.dump_traceback_later(timeout, exit=True, file=sys.stderr)
        start = time.perf_counter()
        try:
            __import__(name)
        except BaseException as exc:
            seconds = time.perf_counter() - start
            faulthandler.cancel_dump_traceback_later()
            flush()
            file, line, tb = where(exc)
            first = (str(exc).splitlines() or [""])[0]
            message = type(exc).__name__ + (": " + first if first else "")
            missing = getattr(exc, "name", "") if isinstance(exc, ImportError) else ""
            emit(name, "error", seconds, "", message[:500], file, line, missing or "", tb)
            block(name, "its package " + name + " failed to import")
            return
        seconds = time.perf_counter() - start
        faulthandler.cancel_dump_traceback_later()
        flush()
        emit(name, "ok", seconds)
        visit(name)

    def visit(name):
        for kid in children.get(name, ()):
            if kid in sys.modules:
                emit(kid, "ok", 0.0, via=name or kid)
                visit(kid)
                continue
            out = os.path.join(work, "out-" + kid)
            flush()
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.close(fd)
                    run(kid)
                except BaseException:
                    code = 70
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                continue
            text = read_tail(out)
            if "Timeout (" in text:
                emit(kid, "timeout", timeout, "", "import did not finish in %gs" % timeout,
                     tb=text)
                block(kid, "its package " + kid + " timed out on import")
            else:
                if os.WIFSIGNALED(status):
                    why = "killed by signal %d" % os.WTERMSIG(status)
                else:
                    why = "ended the interpreter with exit status %d" % os.WEXITSTATUS(status)
                emit(kid, "crash", 0.0, "", "import " + why, tb=text)
                block(kid, "its package " + kid + " crashed on import")

    if hasattr(os, "fork"):
        visit("")
    else:
        for name in wanted:
            run(name)


_fwmon_probe()
"""


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
    env = _python_env(import_roots)
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
            command = [python, "-c", PROBE, str(folder), repr(timeout), root_prefix]
            code, _out, err, _secs = _run(command, cwd=root, env=env, timeout=budget)
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


def _stable_fingerprint(checker: str, rule: str, path: str, key: str) -> str:
    return fingerprint(checker, rule, path, key, 0)


def _outcome(findings: Sequence[Finding], threshold: str) -> str:
    failing = any(severity_at_least(f.severity, threshold) for f in findings)
    return "failed" if failing else "passed"


_DUMP_FRAME: Final = re.compile(r'^\s*File "(.+)", line (\d+)')


def _locate_hang(result: ModuleResult, prefix: str) -> None:
    """Point a timeout at the innermost project frame of the watchdog's stack dump."""
    kept: list[str] = []
    for line in result.tail.splitlines():
        match = _DUMP_FRAME.match(line)
        if match is None:
            kept.append(line)
            continue
        if match.group(1) == "<string>" or match.group(1).startswith("<frozen"):
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
        """A finding fails the item when its severity reaches ``fail_on_severity``."""
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
                {**asdict(r), "path": _relpath(modules[r.module], root)} for r in results.values()
            ],
            "total": len(results),
            **counts,
            "import_seconds": round(sum(r.seconds for r in results.values()), 6),
        }
        return CheckResult(
            nodeid,
            self.pipeline,
            self.name,
            _outcome(findings, self.fail_on_severity),
            findings=findings,
            duration=time.perf_counter() - start,
            metrics=metrics,
        )

    def _finding(self, result: ModuleResult, path: Path, root: Path) -> Finding | None:
        if result.status in ("ok", "blocked", "skipped"):
            return None
        relpath, line = _relpath(path, root), 0
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
            fingerprint=_stable_fingerprint(self.name, rule, relpath, result.module),
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


# --------------------------------------------------------------------------- commands


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
                if not path.is_file() or any(part in _SKIP_DIRS for part in path.parts):
                    continue
                if suffixes is None or path.suffix.lower() in suffixes:
                    files.append(path)
    return list(dict.fromkeys(files))


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.\-/]){re.escape(name)}(?![\w\-])")


def _test_strings(path: Path) -> tuple[str, list[str]]:
    """The text of a test file and the values of its string literals."""
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
        """A finding fails the item when its severity reaches ``fail_on_severity``."""
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
        env = _python_env([p.import_root for p in find_packages(root, self.packages)] or [root])
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
            _outcome(findings, self.fail_on_severity),
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
        code, _out, err, _ = _run(
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
                    code, out, err, seconds = _run(
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
        """A test names the command in a string, or imports and calls its function."""
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
                    fingerprint=_stable_fingerprint(
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
