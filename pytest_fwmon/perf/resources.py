"""Per-test resource figures (``--fwmon-resources``) and the suite-level summary.

No pytest here: :class:`Probe` is driven by the hooks in ``plugin/perf.py``. What is measured,
per test (setup + call + teardown unless said otherwise):

- ``wall``: seconds from the start of setup (the first ``pytest_runtest_setup`` implementation)
  to the end of teardown (``time.perf_counter``);
- ``cpu_user`` / ``cpu_system``: CPU seconds of this process over the same span (on Linux
  ``getrusage(RUSAGE_SELF)``, in microseconds; elsewhere ``os.times()``, in clock ticks);
- ``rss_start`` / ``rss_end``: resident set size in bytes before setup and after teardown
  (``psutil.Process().memory_info().rss``; on Linux the same ``/proc/self/statm`` field read
  directly with ``pread`` on a file kept open, 15x cheaper — see :class:`ProcFiles`);
- ``rss_peak``: the highest RSS during the **call phase** (from right before the test function
  runs until its call report is made). On Linux the kernel's high-water
  mark ``VmHWM`` is reset before the call (writing ``5`` to ``/proc/self/clear_refs``) and read
  after it, so the peak is exact and costs no sampling thread (``peak_method: "vmhwm"``); it is
  read as ``getrusage``'s ``ru_maxrss`` when that provably equals VmHWM (it is not above
  the RSS right after the call, see :meth:`Probe.call_end`), else from ``/proc/self/status``.
  Elsewhere, or when the reset is not permitted, it is the larger of the RSS at the start and
  the end of the call (``peak_method: "endpoints"``, a lower bound);
- ``io_read_bytes`` / ``io_write_bytes``: bytes this process caused to be read from / written to
  storage (on Linux ``getrusage``'s ``ru_inblock`` / ``ru_oublock`` x 512, the kernel's
  ``read_bytes`` / ``write_bytes`` counters that ``/proc/self/io`` and psutil's
  ``io_counters()`` show, in 512-byte units; elsewhere ``psutil.Process().io_counters()``),
  ``null`` where the OS does not provide them;
- ``outcome``: passed, failed, error, skipped, xfailed or xpassed (filled in on the controller).

Suite summary (``report["extensions"]["resources_summary"]``): ``tests``, ``duration`` (seconds
of the session), ``tests_per_second = tests / duration``, ``error_rate = (failed + errors) /
(passed + failed + errors)`` and ``p95_duration``, the 95th percentile (numpy "linear") of the
per-test durations (sum of the three phases as pytest reports them).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if sys.platform != "win32":
    from resource import RUSAGE_SELF, getrusage

if TYPE_CHECKING:  # psutil is imported on first use: most runs never need it
    import psutil

from . import stats

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class ProcFiles:
    """Linux: /proc/self files kept open and re-read with ``pread`` (about 2 us a read).

    ``statm`` is the file psutil reads for ``memory_info().rss``; reading it directly keeps
    ``--fwmon-resources`` cheap on suites of many small tests. A file that cannot be opened
    leaves that figure to psutil.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.statm = self._open("/proc/self/statm", os.O_RDONLY)
        self.status = self._open("/proc/self/status", os.O_RDONLY)
        self.clear_refs = self._open("/proc/self/clear_refs", os.O_WRONLY)

    @staticmethod
    def _open(path: str, flags: int) -> int | None:
        try:
            return os.open(path, flags)
        except OSError:
            return None

    def rss(self) -> int | None:
        """Resident set size in bytes."""
        if self.statm is None:
            return None
        try:
            return int(os.pread(self.statm, 128, 0).split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return None

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS (Linux >= 4.0); False when not permitted."""
        if self.clear_refs is None:
            return False
        try:
            os.pwrite(self.clear_refs, b"5", 0)
        except OSError:
            return False
        return True

    def peak(self) -> int | None:
        """VmHWM in bytes."""
        if self.status is None:
            return None
        try:
            text = os.pread(self.status, 8192, 0)
            start = text.index(b"VmHWM:")
            return int(text[start + 6 : text.index(b"\n", start)].split()[0]) * 1024
        except (OSError, ValueError, IndexError):
            return None


_FILES: list[ProcFiles | None] = []  # [] until first use in this process


def _forget_files() -> None:
    """In a forked child: the kept-open files describe the parent; reopen on first use."""
    _FILES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_files)


class Probe:
    """Figures of one test: ``start`` before setup, ``call_start``/``call_end`` around the call,
    ``finish`` after teardown. One probe is reused test after test.

    On Linux a probe makes seven system calls per test and starts no thread: ``getrusage`` and
    a ``statm`` read at start; the ``VmHWM`` reset before the call; ``getrusage`` and ``statm``
    after it; ``getrusage`` and ``statm`` at finish. ``/proc/self/status`` is read only when the
    call's peak cannot be taken from ``getrusage`` (see :meth:`call_end`). The /proc files stay
    open for the life of the process (reopened after a fork). These system calls are most of
    what ``--fwmon-resources`` costs on a suite of trivial tests (about 3 us each there, 0.5 us
    in a tight loop): each one saved shows in ``benchmarks/overhead.py``.
    """

    _process: psutil.Process | None = None

    __slots__ = (
        "_call_rss",
        "_files",
        "_reset",
        "peak_method",
        "rss_peak",
        "rss_start",
        "t0",
        "usage0",
    )

    def __init__(self) -> None:
        self.t0 = 0.0
        self.usage0: tuple[float, float, int | None, int | None] = (0.0, 0.0, None, None)
        self.rss_start = 0
        self.rss_peak: int | None = None
        self.peak_method: str | None = None
        self._call_rss = 0
        self._reset = False
        self._files: ProcFiles | None = None

    @classmethod
    def process(cls) -> psutil.Process:
        """This process (cached: psutil.Process() costs a system call)."""
        if cls._process is None or cls._process.pid != os.getpid():
            import psutil

            cls._process = psutil.Process()
        return cls._process

    @staticmethod
    def proc() -> ProcFiles | None:
        """Open /proc/self files of this process (Linux), or None."""
        if not _FILES:
            _FILES.append(ProcFiles() if sys.platform.startswith("linux") else None)
        return _FILES[0]

    def _rss(self) -> int:
        proc = self._files
        value = proc.rss() if proc is not None else None
        return value if value is not None else int(self.process().memory_info().rss)

    def _usage(self) -> tuple[float, float, int | None, int | None]:
        """(user CPU, system CPU, bytes read, bytes written): one ``getrusage`` on Linux, whose
        block counts are the kernel's read_bytes/write_bytes in 512-byte units; elsewhere
        ``os.times()`` and psutil's ``io_counters()`` (None where the OS has none)."""
        if self._files is not None:
            ru = getrusage(RUSAGE_SELF)
            return ru.ru_utime, ru.ru_stime, ru.ru_inblock * 512, ru.ru_oublock * 512
        import psutil

        times = os.times()
        try:
            io = self.process().io_counters()
        except (AttributeError, psutil.Error, OSError):
            return times.user, times.system, None, None
        return times.user, times.system, int(io.read_bytes), int(io.write_bytes)

    def start(self) -> None:
        """Before setup (forgets the previous test)."""
        self.rss_peak = None
        self.peak_method = None
        self._files = self.proc()
        self.usage0 = self._usage()
        self.rss_start = self._rss()
        self.t0 = time.perf_counter()

    def call_start(self) -> None:
        """Right before the call phase: reset the kernel's high-water mark."""
        proc = self._files
        self._reset = proc is not None and proc.reset_peak()
        self._call_rss = 0 if self._reset else self._rss()

    def call_end(self) -> None:
        """Right after the call phase: the peak since :meth:`call_start`.

        After the reset, ``getrusage``'s ``ru_maxrss`` is ``max(signal->maxrss, VmHWM)``, where
        ``signal->maxrss`` is what exited threads (and the exec) left behind, and ``VmHWM`` is
        at least the RSS now. So when ``ru_maxrss`` is not above the RSS read right after it,
        all three are equal and that is the call's peak, read without generating
        ``/proc/self/status``. Otherwise (memory given back before the call ended, or a higher
        ``signal->maxrss``) the peak is ``VmHWM`` from ``/proc/self/status``.
        """
        proc = self._files
        if self._reset and proc is not None:
            maxrss = getrusage(RUSAGE_SELF).ru_maxrss * 1024
            rss = proc.rss()
            peak = maxrss if rss is not None and maxrss <= rss else proc.peak()
            if peak is not None:
                self.rss_peak = peak
                self.peak_method = "vmhwm"
                return
        self.rss_peak = max(self._call_rss, self._rss())
        self.peak_method = "endpoints"

    def finish(self, nodeid: str, outcome: str | None = None) -> dict[str, Any]:
        """After teardown: the ``resources[]`` entry of the report (``outcome`` None: filled
        in on the controller)."""
        return record(self.finish_raw(nodeid), outcome)

    def finish_raw(self, nodeid: str) -> Raw:
        """After teardown: the figures as read, for :func:`record` later (a tuple costs less
        per test than the record's dict; the records are built together at the end)."""
        wall = time.perf_counter() - self.t0
        usage1 = self._usage()
        return (
            nodeid,
            wall,
            self.usage0,
            usage1,
            self.rss_start,
            self._rss(),
            self.rss_peak,
            (self.peak_method),
        )


#: (nodeid, wall, usage at start, usage at finish, rss_start, rss_end, rss_peak, peak_method)
Raw = tuple[
    str,
    float,
    "tuple[float, float, int | None, int | None]",
    "tuple[float, float, int | None, int | None]",
    int,
    int,
    "int | None",
    "str | None",
]


def record(raw: Raw, outcome: str | None = None) -> dict[str, Any]:
    """The ``resources[]`` entry of one test from :meth:`Probe.finish_raw`."""
    nodeid, wall, (user0, system0, read0, write0), usage1, rss_start, rss_end, peak, method = raw
    user1, system1, read1, write1 = usage1
    return {
        "nodeid": nodeid,
        "outcome": outcome,
        "wall": round(wall, 6),
        "cpu_user": round(max(user1 - user0, 0.0), 6),
        "cpu_system": round(max(system1 - system0, 0.0), 6),
        "rss_start": rss_start,
        "rss_end": rss_end,
        "rss_peak": peak,
        "peak_method": method,
        "io_read_bytes": None if read1 is None or read0 is None else read1 - read0,
        "io_write_bytes": None if write1 is None or write0 is None else write1 - write0,
    }


def summary(
    durations: Iterable[float], outcomes: Iterable[str], session_seconds: float
) -> dict[str, Any]:
    """Suite-level figures (see the module doc)."""
    values = list(durations)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    tests = sum(counts.values())
    ran = counts.get("passed", 0) + counts.get("failed", 0) + counts.get("error", 0)
    bad = counts.get("failed", 0) + counts.get("error", 0)
    return {
        "tests": tests,
        "outcomes": dict(sorted(counts.items())),
        "duration": round(session_seconds, 6),
        "tests_per_second": round(tests / session_seconds, 3) if session_seconds > 0 else None,
        "error_rate": round(bad / ran, 6) if ran else None,
        "p95_duration": round(stats.quantile(values, 0.95), 6) if values else None,
        "p50_duration": round(stats.quantile(values, 0.5), 6) if values else None,
    }
