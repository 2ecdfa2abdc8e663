"""Runs checkers over project files through the content-hash cache; no pytest here.

Shared by the pytest plugin (one item per file and checker) and ``fwmon check`` (the
pre-commit hook). With ``workers`` > 1 the cache misses are computed up front by a pool of
processes; with 1 they are computed one at a time as items ask for them.
"""

from __future__ import annotations

import ast
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

from ..core.cache import ResultCache, cache_key
from ..core.config import FwmonConfig
from ..core.files import (
    ProjectFile,
    decode_source,
    is_config_file,
    iter_config_files,
    iter_python_files,
    read_project_file,
    source_roots,
)
from ..core.model import CheckResult, Finding, assign_fingerprints
from .base import (
    AnalysedProjectChecker,
    FileAnalyser,
    FileChecker,
    FileOutcome,
    ProjectChecker,
    SourceFile,
)

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


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic collection around the checks of one file; one young collection after.

    Checkers build large short-lived ASTs (bandit links every node to its parent, so one
    file's tree is cyclic garbage once the file is done). Measured on the sqlalchemy source,
    the default threshold spends ~10 % of the time in collections. With the collector off,
    everything allocated for the file stays in the youngest generation, and one
    ``gc.collect(0)`` at the end looks at each of those objects once and frees the cycles
    before the next file starts. Long-lived session objects are frozen beforehand
    (``gc.freeze`` in the session).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect(0)


def _run_one(checker: FileChecker, source: SourceFile) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    try:
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


def _analyse_one(analyser: FileAnalyser, source: SourceFile) -> dict[str, Any]:
    try:
        return analyser.analyse(source)
    except RecursionError:
        return {"unparsable": "too deeply nested"}
    except Exception as exc:  # as for checkers: the project item reports the file, no crash
        first = str(exc).splitlines()[0] if str(exc) else ""
        return {"unparsable": f"{analyser.name} crashed: {type(exc).__name__}: {first}"}


#: A job on one file: ("check", checker index) or ("analyse", analyser index).
Job = tuple[str, int]


def run_file(
    source: SourceFile,
    jobs: Sequence[Job],
    checkers: Sequence[FileChecker],
    analysers: Sequence[FileAnalyser],
) -> dict[Job, tuple[dict[str, Any], float]]:
    """Every job of one file, sharing one parse: job -> (value, seconds).

    The tree is parsed once when two or more jobs read it; a job that changes it (bandit)
    runs last. The parse time is counted in the first job that reads the tree.
    """

    def tool(job: Job) -> FileChecker | FileAnalyser:
        return checkers[job[1]] if job[0] == "check" else analysers[job[1]]

    ordered = sorted(jobs, key=lambda job: tool(job).mutates_tree)
    readers = sum(1 for job in ordered if tool(job).uses_tree)
    results: dict[Job, tuple[dict[str, Any], float]] = {}
    with gc_paused():
        parse_time = 0.0
        if readers > 1:
            started = time.perf_counter()
            try:
                source.parsed = ast.parse(source.text, filename=source.relpath)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                source.parsed = None  # each job reports the error in its own words
            parse_time = time.perf_counter() - started
        try:
            for job in ordered:
                if job[0] == "check":
                    value, duration = _run_one(checkers[job[1]], source)
                else:
                    started = time.perf_counter()
                    value = _analyse_one(analysers[job[1]], source)
                    duration = time.perf_counter() - started
                if parse_time and tool(job).uses_tree:
                    duration, parse_time = duration + parse_time, 0.0
                results[job] = (value, duration)
        finally:
            source.parsed = None
    return results


# worker-process state, set before the pool forks (or by the initializer when spawning)
_POOL_TOOLS: tuple[list[FileChecker], list[FileAnalyser]] = ([], [])


def _pool_init(checkers: list[FileChecker], analysers: list[FileAnalyser]) -> None:
    global _POOL_TOOLS
    _POOL_TOOLS = (checkers, analysers)


def _pool_task(
    task: tuple[str, str, list[Job]],
) -> tuple[str, dict[Job, tuple[dict[str, Any], float]]]:
    path, relpath, jobs = task
    data = Path(path).read_bytes()
    source = SourceFile(Path(path), relpath, decode_source(data), data)
    return relpath, run_file(source, jobs, *_POOL_TOOLS)


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
        """Set up the checkers for ``config``'s project; files are found later, on demand.

        Project checkers that need the same per-file analysis (same name and settings)
        share one analyser; ``workers`` is how many processes :meth:`prepare` may use (0: one
        per CPU).
        """
        self.config = config
        self.root = config.root
        self.cache = cache
        self.workers = workers
        self.checkers = [_CheckerInfo(c, c.tool_version(), c.settings()) for c in file_checkers]
        self.project_checkers = list(project_checkers)
        #: One analyser per distinct (name, settings): project checkers may share one.
        self.analysers: list[FileAnalyser] = []
        self._analyser_of: dict[int, int] = {}
        for index, project_checker in enumerate(self.project_checkers):
            analyser = project_checker.analyser()
            if analyser is None:
                continue
            ident = (analyser.name, analyser.settings())
            for known, existing in enumerate(self.analysers):
                if (existing.name, existing.settings()) == ident:
                    self._analyser_of[index] = known
                    break
            else:
                self._analyser_of[index] = len(self.analysers)
                self.analysers.append(analyser)
        self._files: dict[str, ProjectFile] | None = None
        #: Computed values not asked for yet: (job, relpath) -> (value, seconds).
        self._prefetched: dict[tuple[Job, str], tuple[dict[str, Any], float]] = {}
        #: Jobs this process will run per file (set by :meth:`prepare`).
        self._wanted: dict[str, list[Job]] = {}
        self._prepared = False
        #: Compute all of a file's missing jobs when one is asked for (one parse, one read).
        #: Off in an xdist worker, where the file's other items may run in another worker:
        #: only the file's analyses (read by the project items) come along then.
        self.together = True
        #: Results computed here that the cache does not have yet (sent to the controller).
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
        exclude = self.config.list("", "exclude")
        found = iter_python_files(roots, self.root, exclude, skip_tests=not explicit_paths)
        if self.text_files:
            if explicit is None:
                found += iter_config_files(roots, self.root, exclude, skip_tests=not explicit_paths)
            else:
                found += [p for p in roots if p.is_file() and is_config_file(p.name)]
        for path in found:
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

    @property
    def text_files(self) -> bool:
        """Whether a checker looks at configuration files too (see :func:`iter_config_files`)."""
        return any(info.checker.text_files for info in self.checkers)

    @property
    def python_files(self) -> list[str]:
        """Relpaths of the Python files among :attr:`files` (what project checkers read)."""
        return [rel for rel in self.files if rel.endswith(".py")]

    def source(self, relpath: str) -> SourceFile:
        """Return the file as checkers see it, read now (not kept: see :class:`ProjectFile`)."""
        project_file = self.files[relpath]
        data = project_file.read()
        return SourceFile(project_file.path, relpath, decode_source(data), data)

    def checkers_for(self, relpath: str) -> list[int]:
        """Return the indexes of the file checkers that look at this file.

        A configuration file gets only the checkers of :attr:`FileChecker.text_files`.
        """
        python = relpath.endswith(".py")
        return [
            i
            for i, info in enumerate(self.checkers)
            if (python or info.checker.text_files) and info.checker.applies(relpath)
        ]

    def _content(self, relpath: str) -> str:
        """Return what a result depends on: the file's content and its path.

        Findings and their fingerprints name the path, so two files with the same content share
        no entry.
        """
        return f"{relpath}\0{self.files[relpath].digest}"

    def key(self, index: int, relpath: str) -> str:
        """Cache key of one (checker, file) result."""
        info = self.checkers[index]
        return cache_key(self._content(relpath), info.checker.name, info.version, info.settings)

    def job_key(self, job: Job, relpath: str) -> str:
        """Cache key of one job on one file."""
        if job[0] == "check":
            return self.key(job[1], relpath)
        analyser = self.analysers[job[1]]
        name = f"analysis:{analyser.name}"
        return cache_key(self._content(relpath), name, "", analyser.settings())

    def _job_name(self, job: Job) -> str:
        if job[0] == "check":
            return self.checkers[job[1]].checker.name
        return f"analysis:{self.analysers[job[1]].name}"

    # -- computing -----------------------------------------------------------------------

    def prepare(
        self, pairs: Sequence[tuple[int, str]] | None = None, project: Iterable[int] = ()
    ) -> None:
        """Find the cache misses, let batch checkers see them, and run the pool if worth it.

        ``pairs`` are the (checker index, relpath) this process will ask for (all by
        default); ``project`` the indexes of the project checkers it will run (their
        analysers then run on every file, beside the file checkers).
        """
        if self._prepared:
            return
        self._prepared = True
        if pairs is None:
            pairs = [(i, rel) for rel in self.files for i in self.checkers_for(rel)]
        misses = self._misses(self._jobs(pairs, project))
        self._wanted = misses
        self._prepare_batches(misses)
        workers = self.workers if self.workers > 0 else (os.cpu_count() or 1)
        if workers > 1 and sum(len(jobs) for jobs in misses.values()) >= POOL_THRESHOLD:
            self._run_pool(misses, workers)

    def _jobs(
        self, pairs: Sequence[tuple[int, str]], project: Iterable[int]
    ) -> dict[str, list[Job]]:
        """Return the jobs per file: the asked checks, then the project checkers' analyses."""
        wanted: dict[str, list[Job]] = {}
        for i, rel in pairs:
            wanted.setdefault(rel, []).append(("check", i))
        analysers = sorted({self._analyser_of[i] for i in project if i in self._analyser_of})
        for rel in self.python_files if analysers else ():
            wanted.setdefault(rel, []).extend(("analyse", a) for a in analysers)
        return wanted

    def _misses(self, wanted: dict[str, list[Job]]) -> dict[str, list[Job]]:
        """Return the jobs the cache has no entry for, per file (files with none left out)."""
        misses: dict[str, list[Job]] = {}
        for rel, jobs in wanted.items():
            missing = [job for job in jobs if self.cache.get(self.job_key(job, rel)) is None]
            if missing:
                misses[rel] = missing
        return misses

    def _prepare_batches(self, misses: dict[str, list[Job]]) -> None:
        """Show each checker that overrides ``prepare`` all the missed files it will check."""
        batch: dict[int, list[SourceFile]] = {}
        for rel, jobs in misses.items():
            for kind, i in jobs:
                if kind == "check" and type(self.checkers[i].checker).prepare is not (
                    FileChecker.prepare
                ):
                    batch.setdefault(i, []).append(self.source(rel))
        for i, sources in batch.items():
            self.checkers[i].checker.prepare(sources)

    def _run_pool(self, misses: dict[str, list[Job]], workers: int) -> None:
        # big files first, so the last task to finish is a small one
        ordered = sorted(misses, key=lambda rel: -self.files[rel].size)
        tasks = [(str(self.files[rel].path), rel, misses[rel]) for rel in ordered]
        tools = ([info.checker for info in self.checkers], self.analysers)
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        _pool_init(*tools)
        with ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)),
            mp_context=context,
            initializer=_pool_init,
            initargs=tools,
        ) as pool:
            chunk = max(1, min(4, len(tasks) // (workers * 8)))
            for relpath, results in pool.map(_pool_task, tasks, chunksize=chunk):
                self._store(relpath, results)
        self._wanted = {}

    def _store(self, relpath: str, results: dict[Job, tuple[dict[str, Any], float]]) -> None:
        for job, (value, duration) in results.items():
            self._prefetched[(job, relpath)] = (value, duration)
            key = self.job_key(job, relpath)
            name = self._job_name(job)
            self.cache.put(key, relpath, name, value)
            self.pending.append(PendingEntry(key, relpath, name, value))

    def _compute(self, job: Job, relpath: str) -> tuple[dict[str, Any], float]:
        """Run ``job`` on ``relpath`` now, with this file's other missing jobs (one parse)."""
        jobs = self._wanted.pop(relpath, [])
        if not self.together:  # only what this process is sure to need: the analyses, and
            # only beside a checker that parses the file anyway
            reads = job[0] == "check" and self.checkers[job[1]].checker.uses_tree
            jobs = [j for j in jobs if j[0] == "analyse" and reads]
        if job not in jobs:
            jobs.append(job)
        source = self.source(relpath)
        self._store(
            relpath,
            run_file(source, jobs, [c.checker for c in self.checkers], self.analysers),
        )
        return self._prefetched.pop((job, relpath))

    def _value(self, job: Job, relpath: str) -> tuple[dict[str, Any], float, bool]:
        """(value, seconds, cached) of one job: replayed, prefetched or computed."""
        if (job, relpath) in self._prefetched:
            value, duration = self._prefetched.pop((job, relpath))
            return value, duration, False
        cached = self.cache.get(self.job_key(job, relpath))
        if cached is not None and not (
            _valid_value(cached) if job[0] == "check" else self.analysers[job[1]].valid(cached)
        ):
            self.cache.warnings.append(
                f"fwmon cache entry for {relpath} [{self._job_name(job)}] is corrupt; recomputed"
            )
            cached = None
        if cached is not None:
            return cached, 0.0, True
        value, duration = self._compute(job, relpath)
        return value, duration, False

    # -- file results --------------------------------------------------------------------

    def file_result(self, index: int, relpath: str, nodeid: str) -> CheckResult:
        """Return checker ``index``'s result on ``relpath``: replayed, prefetched or computed."""
        info = self.checkers[index]
        value, duration, was_cached = self._value(("check", index), relpath)
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
        for rel in sorted(self.python_files):
            digest.update(f"{rel}\0{self.files[rel].digest}\n".encode())
        settings = {k: v for k, v in vars(checker).items() if not k.startswith("_")}
        return cache_key(digest.hexdigest(), checker.name, "project", settings)

    def project_result(self, checker: ProjectChecker, nodeid: str) -> CheckResult:
        """Return the result of a project checker, through the cache."""
        key = self.project_key(checker)
        cached = self.cache.get(key)
        if cached is not None and isinstance(cached.get("result"), dict):
            result = CheckResult.from_dict(cached["result"])
            result.cached, result.duration, result.nodeid = True, 0.0, nodeid
            return result
        started = time.perf_counter()
        earlier = 0.0  # analyses computed beside the file items count here too
        index = self.project_checkers.index(checker)
        if index in self._analyser_of:
            job: Job = ("analyse", self._analyser_of[index])
            analyses: dict[str, dict[str, Any]] = {}
            for rel in self.python_files:
                prefetched = (job, rel) in self._prefetched
                analyses[rel], duration, _ = self._value(job, rel)
                earlier += duration if prefetched else 0.0
                # the other project checker of this analyser asks again: keep it at hand
                self._prefetched.setdefault((job, rel), (analyses[rel], 0.0))
            if not isinstance(checker, AnalysedProjectChecker):
                raise TypeError(
                    f"checker {checker.name!r} has an analyser but is not an "
                    "AnalysedProjectChecker: derive it from that class or return None "
                    "from analyser()"
                )
            result = checker.run_analysed(analyses, self.root)
        else:
            sources = [self.source(rel) for rel in self.python_files]
            with gc_paused():
                result = checker.run(sources, self.root)
        result.duration = time.perf_counter() - started + earlier
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
