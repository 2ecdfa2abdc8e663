"""Per-test resource figures (``--fwmon-resources``) and the suite-level summary.

No pytest here: :class:`Probe` is driven by the hooks in ``perf/fixture.py``. What is measured,
per test (setup + call + teardown unless said otherwise):

- ``wall``: seconds from the start of setup (the first ``pytest_runtest_setup`` implementation)
  to the end of teardown (``time.perf_counter``);
- ``cpu_user`` / ``cpu_system``: CPU seconds of this process over the same span (on Linux
  ``getrusage(RUSAGE_SELF)``, in microseconds; elsewhere ``os.times()``, in clock ticks);
- ``rss_start`` / ``rss_end``: resident set size in bytes before setup and after teardown
  (``psutil.Process().memory_info().rss``; on Linux the same ``/proc/self/statm`` field read
  directly with ``pread`` on a file kept open, 15x cheaper — see :class:`ProcFiles`);
- ``rss_peak``: the highest RSS during the **call phase** (from right before the test function
  runs until its call report is logged). On Linux the kernel's high-water
  mark ``VmHWM`` is reset before the call (writing ``5`` to ``/proc/self/clear_refs``) and read
  after it, so the peak is exact and costs no sampling thread (``peak_method: "vmhwm"``); it is
  read as ``getrusage``'s ``ru_maxrss`` when that provably equals VmHWM (see
  :meth:`Probe.call_start`), else from ``/proc/self/status``. Elsewhere, or when the reset is
  not permitted, it is the larger of the RSS at the start and the end of the call
  (``peak_method: "endpoints"``, a lower bound);
- ``io_read_bytes`` / ``io_write_bytes``: bytes this process caused to be read from / written to
  storage (on Linux ``getrusage``'s ``ru_inblock`` / ``ru_oublock`` x 512, the kernel's
  ``read_bytes`` / ``write_bytes`` counters that ``/proc/self/io`` and psutil's
  ``io_counters()`` show, in 512-byte units; elsewhere ``psutil.Process().io_counters()``),
  ``null`` where the OS does not provide them;
- ``outcome``: passed, failed, error, skipped, xfailed or xpassed.

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
            return int(os.pread(self.statm, 256, 0).split()[1]) * _PAGE
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

    @staticmethod
    def maxrss() -> int:
        """``getrusage(RUSAGE_SELF).ru_maxrss`` in bytes: the larger of VmHWM and the maximum
        the kernel kept for the process at exec and exits (``signal->maxrss``)."""
        return getrusage(RUSAGE_SELF).ru_maxrss * 1024

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
    ``finish`` after teardown.

    On Linux a probe makes eight system calls per test and starts no thread: ``getrusage`` and
    a ``statm`` read at start and finish; around the call the ``VmHWM`` reset, ``getrusage``
    and ``statm``, then ``getrusage``. The /proc files stay open for the life of the process
    (reopened after a fork).
    """

    _process: psutil.Process | None = None

    __slots__ = (
        "_call_rss",
        "_files",
        "_rusage",
        "_vmhwm",
        "counters0",
        "peak_method",
        "reports",
        "rss_peak",
        "rss_start",
        "t0",
    )

    def __init__(self) -> None:
        self.t0 = 0.0
        self.counters0: tuple[float, float, tuple[int, int] | None] | None = None
        self.rss_start = 0
        self.rss_peak: int | None = None
        self.peak_method = "endpoints"
        self._call_rss = 0
        self._vmhwm = False
        self._rusage = False
        self._files: ProcFiles | None = None
        #: Phase reports of the test, kept by the caller for its outcome.
        self.reports: list[Any] = []

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

    def _io(self) -> tuple[int, int] | None:
        """(read_bytes, write_bytes) from psutil (not Linux)."""
        import psutil

        try:
            io = self.process().io_counters()
        except (AttributeError, psutil.Error, OSError):
            return None
        return int(io.read_bytes), int(io.write_bytes)

    def _counters(self) -> tuple[float, float, tuple[int, int] | None]:
        """(user CPU, system CPU, (read_bytes, write_bytes) or None): one ``getrusage`` on
        Linux (whose block counts are the kernel's read_bytes/write_bytes in 512-byte units)."""
        if self._files is not None:
            ru = getrusage(RUSAGE_SELF)
            return ru.ru_utime, ru.ru_stime, (ru.ru_inblock * 512, ru.ru_oublock * 512)
        times = os.times()
        return times.user, times.system, self._io()

    def start(self) -> None:
        """Before setup."""
        self._files = self.proc()
        self.counters0 = self._counters()
        self.rss_start = self._rss()
        self.t0 = time.perf_counter()

    def call_start(self) -> None:
        """Right before the call phase."""
        proc = self._files
        self._vmhwm = proc is not None and proc.reset_peak()
        self._rusage = False
        if not self._vmhwm:
            self._call_rss = self._rss()
        elif proc is not None:
            # After the reset, ru_maxrss = max(signal->maxrss, VmHWM). When it is not above the
            # RSS read after it, signal->maxrss is at most the RSS now, hence at most VmHWM at
            # the end of the call (it only grows to VmHWM values, at thread exits): ru_maxrss
            # then *is* VmHWM, read without generating /proc/self/status.
            maxrss = proc.maxrss()
            rss = proc.rss()
            self._rusage = rss is not None and maxrss <= rss

    def call_end(self) -> None:
        """Right after the call phase."""
        proc = self._files
        if self._vmhwm and proc is not None:
            peak = proc.maxrss() if self._rusage else proc.peak()
            if peak is not None:
                self.rss_peak = peak
                self.peak_method = "vmhwm"
                return
        self.rss_peak = max(self._call_rss, self._rss())
        self.peak_method = "endpoints"

    def finish(self, nodeid: str, outcome: str) -> dict[str, Any]:
        """After teardown: the ``resources[]`` entry of the report."""
        wall = time.perf_counter() - self.t0
        user1, system1, io1 = self._counters()
        rss_end = self._rss()
        user0, system0, io0 = self.counters0 or (user1, system1, io1)
        return {
            "nodeid": nodeid,
            "outcome": outcome,
            "wall": round(wall, 6),
            "cpu_user": round(max(user1 - user0, 0.0), 6),
            "cpu_system": round(max(system1 - system0, 0.0), 6),
            "rss_start": self.rss_start,
            "rss_end": rss_end,
            "rss_peak": self.rss_peak,
            "peak_method": self.peak_method if self.rss_peak is not None else None,
            "io_read_bytes": None if io1 is None or io0 is None else io1[0] - io0[0],
            "io_write_bytes": None if io1 is None or io0 is None else io1[1] - io0[1],
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
