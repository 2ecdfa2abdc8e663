"""Runs checkers over project files through the content-hash cache; no pytest here.

Shared by the pytest plugin (one item per file and checker) and ``fwmon check`` (the
pre-commit hook). With ``workers`` > 1 the cache misses are computed up front by a pool of
processes; with 1 they are computed one at a time as items ask for them.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import ResultCache, cache_key
from .checks.base import FileChecker, FileOutcome, ProjectChecker, SourceFile
from .config import FwmonConfig
from .files import ProjectFile, iter_python_files, read_project_file, source_roots
from .model import CheckResult, Finding, assign_fingerprints

#: Below this many cache misses a pool costs more than it saves.
POOL_THRESHOLD = 16


@dataclass(slots=True)
class _CheckerInfo:
    checker: FileChecker
    version: str
    settings: dict[str, Any]


@dataclass(slots=True)
class PendingEntry:
    """A result computed in this process that the cache does not have yet."""

    key: str
    path: str
    checker: str
    value: dict[str, Any] = field(default_factory=dict)


def _outcome_value(outcome: FileOutcome, source: SourceFile) -> dict[str, Any]:
    assign_fingerprints(outcome.findings, source.lines)
    return {
        "findings": [f.to_dict() for f in outcome.findings],
        "metrics": outcome.metrics,
        "error": outcome.error,
        "loc": source.text.count("\n") + (0 if source.text.endswith("\n") else 1)
        if source.text
        else 0,
    }


#: Collector threshold of the youngest generation during checker calls (Python's default 700).
GC_THRESHOLD = 2000


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Collect less often around a checker call.

    Checkers build large short-lived ASTs. Measured on the sqlalchemy source under pytest:
    the default threshold spends ~10 % of the time in collections; disabling the collector
    (bandit's own suggestion) is as fast as a threshold of 2000 but lets one file's cyclic
    garbage pile up (+50 MB peak RSS). Long-lived session objects are frozen beforehand
    (``gc.freeze`` in the session), so each collection stays small.
    """
    old = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _run_one(checker: FileChecker, source: SourceFile) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    try:
        with gc_paused():
            outcome = checker.check(source)
    except RecursionError:
        outcome = FileOutcome(
            error=f"{checker.name} could not analyse {source.relpath}: too deeply nested"
        )
    except Exception as exc:  # a tool crash must not end the run: the item errors
        first = str(exc).splitlines()[0] if str(exc) else ""
        outcome = FileOutcome(
            error=f"{checker.name} crashed on {source.relpath}: {type(exc).__name__}: {first}"
        )
    return _outcome_value(outcome, source), time.perf_counter() - started


# worker-process state, set before the pool forks (or by the initializer when spawning)
_POOL_CHECKERS: list[FileChecker] = []


def _pool_init(checkers: list[FileChecker]) -> None:
    global _POOL_CHECKERS
    _POOL_CHECKERS = checkers


def _pool_task(
    task: tuple[int, str, str, str],
) -> tuple[int, str, dict[str, Any], float]:
    index, path, relpath, text = task
    value, duration = _run_one(_POOL_CHECKERS[index], SourceFile(Path(path), relpath, text))
    return index, relpath, value, duration


class StaticRunner:
    """The project's files and checkers, and their results through the cache."""

    def __init__(
        self,
        config: FwmonConfig,
        file_checkers: Sequence[FileChecker],
        project_checkers: Sequence[ProjectChecker],
        cache: ResultCache,
        workers: int = 1,
    ) -> None:
        self.config = config
        self.root = config.root
        self.cache = cache
        self.workers = workers
        self.checkers = [_CheckerInfo(c, c.tool_version(), c.settings()) for c in file_checkers]
        self.project_checkers = list(project_checkers)
        self._files: dict[str, ProjectFile] | None = None
        self._sources: dict[str, SourceFile] = {}
        self._prefetched: dict[tuple[int, str], tuple[dict[str, Any], float]] = {}
        self._prepared = False
        #: Results computed here that the cache lacks (the plugin sends them to the controller).
        self.pending: list[PendingEntry] = []
        #: Files that could not be read: relpath -> reason.
        self.unreadable: dict[str, str] = {}

    # -- files ---------------------------------------------------------------------------

    def discover(self, explicit: Iterable[Path] | None = None) -> dict[str, ProjectFile]:
        """Read and hash the project's files (or ``explicit`` ones), keyed by relpath."""
        if self._files is not None and explicit is None:
            return self._files
        roots = (
            list(explicit)
            if explicit is not None
            else source_roots(self.root, self.config.pyproject, self.config.list("", "paths"))
        )
        files: dict[str, ProjectFile] = {}
        explicit_paths = explicit is not None or bool(self.config.list("", "paths"))
        for path in iter_python_files(
            roots, self.root, self.config.list("", "exclude"), skip_tests=not explicit_paths
        ):
            try:
                project_file = read_project_file(path, self.root)
            except OSError as exc:
                self.unreadable[str(path)] = exc.strerror or str(exc)
                continue
            files[project_file.relpath] = project_file
        self._files = files
        return files

    @property
    def files(self) -> dict[str, ProjectFile]:
        """Files found by :meth:`discover`."""
        return self.discover()

    def source(self, relpath: str) -> SourceFile:
        """The decoded file as checkers see it."""
        project_file = self.files[relpath]
        if relpath not in self._sources:
            self._sources[relpath] = SourceFile(project_file.path, relpath, project_file.text())
        return self._sources[relpath]

    def checkers_for(self, relpath: str) -> list[int]:
        """Indexes of the file checkers that look at this file."""
        return [i for i, info in enumerate(self.checkers) if info.checker.applies(relpath)]

    def key(self, index: int, relpath: str) -> str:
        """Cache key of one (checker, file) result."""
        info = self.checkers[index]
        return cache_key(self.files[relpath].digest, info.checker.name, info.version, info.settings)

    # -- file results --------------------------------------------------------------------

    def prepare(self, pairs: Sequence[tuple[int, str]] | None = None) -> None:
        """Find the cache misses, let batch checkers see them, and run the pool if worth it.

        ``pairs`` are the (checker index, relpath) this process will ask for; all by default.
        """
        if self._prepared:
            return
        self._prepared = True
        if pairs is None:
            pairs = [(i, rel) for rel in self.files for i in self.checkers_for(rel)]
        misses = [(i, rel) for i, rel in pairs if self.cache.get(self.key(i, rel)) is None]
        by_checker: dict[int, list[SourceFile]] = {}
        for i, rel in misses:
            by_checker.setdefault(i, []).append(self.source(rel))
        for i, sources in by_checker.items():
            self.checkers[i].checker.prepare(sources)
        workers = self.workers if self.workers > 0 else (os.cpu_count() or 1)
        if workers > 1 and len(misses) >= POOL_THRESHOLD:
            self._run_pool(misses, workers)

    def _run_pool(self, misses: list[tuple[int, str]], workers: int) -> None:
        # big files first, so the last task to finish is a small one
        ordered = sorted(misses, key=lambda m: -len(self.files[m[1]].data))
        tasks = [(i, str(self.files[rel].path), rel, self.source(rel).text) for i, rel in ordered]
        checkers = [info.checker for info in self.checkers]
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        _pool_init(checkers)
        with ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)),
            mp_context=context,
            initializer=_pool_init,
            initargs=(checkers,),
        ) as pool:
            chunk = max(1, min(8, len(tasks) // (workers * 8)))
            for index, relpath, value, duration in pool.map(_pool_task, tasks, chunksize=chunk):
                self._prefetched[(index, relpath)] = (value, duration)

    def file_result(self, index: int, relpath: str, nodeid: str) -> CheckResult:
        """The result of checker ``index`` on ``relpath``: replayed, prefetched or computed."""
        info = self.checkers[index]
        key = self.key(index, relpath)
        cached = self.cache.get(key)
        duration = 0.0
        if cached is not None and not _valid_value(cached):
            self.cache.warnings.append(
                f"fwmon cache entry for {relpath} [{info.checker.name}] is corrupt; recomputed"
            )
            cached = None
        if cached is not None:
            value, was_cached = cached, True
        else:
            if (index, relpath) in self._prefetched:
                value, duration = self._prefetched.pop((index, relpath))
            else:
                value, duration = _run_one(info.checker, self.source(relpath))
            was_cached = False
            self.cache.put(key, relpath, info.checker.name, value)
            self.pending.append(PendingEntry(key, relpath, info.checker.name, value))
        return CheckResult(
            nodeid=nodeid,
            pipeline=info.checker.pipeline,
            checker=info.checker.name,
            outcome="error" if value.get("error") else "passed",
            path=relpath,
            cached=was_cached,
            duration=duration,
            findings=[Finding.from_dict(f) for f in value.get("findings", [])],
            reason=value.get("error"),
            loc=int(value.get("loc", 0)),
            metrics=dict(value.get("metrics") or {}),
        )

    # -- project results -----------------------------------------------------------------

    def project_key(self, checker: ProjectChecker) -> str:
        """Cache key of a project checker: every file's digest plus the checker's settings."""
        digest = hashlib.sha256()
        for rel in sorted(self.files):
            digest.update(f"{rel}\0{self.files[rel].digest}\n".encode())
        settings = {k: v for k, v in vars(checker).items() if not k.startswith("_")}
        return cache_key(digest.hexdigest(), checker.name, "project", settings)

    def project_result(self, checker: ProjectChecker, nodeid: str) -> CheckResult:
        """Result of a project checker, through the cache."""
        key = self.project_key(checker)
        cached = self.cache.get(key)
        if cached is not None and isinstance(cached.get("result"), dict):
            result = CheckResult.from_dict(cached["result"])
            result.cached, result.duration, result.nodeid = True, 0.0, nodeid
            return result
        started = time.perf_counter()
        sources = [self.source(rel) for rel in self.files]
        with gc_paused():
            result = checker.run(sources, self.root)
        result.duration = time.perf_counter() - started
        result.nodeid = nodeid
        value = {"result": result.to_dict()}
        if result.outcome != "error":
            self.cache.put(key, "<project>", checker.name, value)
            self.pending.append(PendingEntry(key, "<project>", checker.name, value))
        return result


def _valid_value(value: dict[str, Any]) -> bool:
    findings = value.get("findings")
    if not isinstance(findings, list):
        return False
    try:
        for f in findings:
            Finding.from_dict(f)
    except TypeError:
        return False
    return True
