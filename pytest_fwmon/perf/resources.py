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
- ``rss_peak``: the highest RSS over the same span, never below ``rss_start`` or ``rss_end``.
  On Linux the kernel's high-water mark ``VmHWM`` is reset before setup (writing ``5`` to
  ``/proc/self/clear_refs``) and read after teardown, so the peak costs no sampling thread
  (``peak_method: "vmhwm"``); it is read from ``getrusage``'s ``ru_maxrss`` when that is not
  above the RSS after teardown (then neither is the mark), else from ``/proc/self/status``.
  Elsewhere, or when the reset is not permitted, it is the larger of ``rss_start`` and
  ``rss_end`` (``peak_method: "endpoints"``, a lower bound). See :meth:`Probe.peak` for why the
  mark and the RSS readings are two sources that disagree by a few pages, and how the
  invariant ``rss_peak >= max(rss_start, rss_end)`` is kept anyway;
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
        """Open this process's ``/proc`` files for reading."""
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
        """Return the peak resident set size (``VmHWM``) in bytes, or None."""
        if self.status is None:
            return None
        try:
            text = os.pread(self.status, 8192, 0)
            start = text.index(b"VmHWM:")
            return int(text[start + 6 : text.index(b"\n", start)].split()[0]) * 1024
        except (OSError, ValueError, IndexError):
            return None


_FILES: list[ProcFiles | None] = []  # [] until first use in this process
_OPEN: list[Probe] = []  # probes between start and finish in this process (nested runs)


def _forget_files() -> None:
    """In a forked child: the kept-open files describe the parent; reopen on first use."""
    _FILES.clear()
    _OPEN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_files)


class Probe:
    """Resource figures of one test: :meth:`start` before setup, :meth:`finish` after teardown.

    One probe is reused test after test.

    On Linux a probe makes five system calls per test and starts no thread: the ``VmHWM``
    reset, ``getrusage`` and a ``statm`` read at start; ``getrusage`` (whose ``ru_maxrss`` is
    the mark) and ``statm`` at finish. ``/proc/self/status`` is read only when the peak cannot
    be taken from ``getrusage`` (see :meth:`peak`). The /proc files stay open for the life of
    the process (reopened after a fork). These system calls are most of what
    ``--fwmon-resources`` costs on a suite of trivial tests (about 3 us each there, 0.5 us in a
    tight loop): each one saved shows in ``benchmarks/overhead.py``.

    A probe started while another one is open in the same process (a test running pytest
    in-process with ``--fwmon-resources``, under a run that has it too) resets the mark the
    open one relies on, so it first hands the mark so far to the open ones.
    """

    _process: psutil.Process | None = None

    __slots__ = ("_carried", "_files", "_reset", "rss_start", "t0", "usage0")

    def __init__(self) -> None:
        """Start with no measurement taken."""
        self.t0 = 0.0
        self.usage0: tuple[float, float, int | None, int | None] = (0.0, 0.0, None, None)
        self.rss_start = 0
        self._carried = 0
        self._reset = False
        self._files: ProcFiles | None = None

    @classmethod
    def process(cls) -> psutil.Process:
        """Return the psutil handle of this process, cached: creating one costs a system call."""
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
        """Return (user CPU, system CPU, bytes read, bytes written).

        They come from ``os.times()`` and psutil's ``io_counters()`` (None where the OS has
        none); on Linux :meth:`start` and :meth:`finish_raw` read ``getrusage`` instead.
        """
        import psutil

        times = os.times()
        try:
            io = self.process().io_counters()
        except (AttributeError, psutil.Error, OSError):
            return times.user, times.system, None, None
        return times.user, times.system, int(io.read_bytes), int(io.write_bytes)

    def start(self) -> None:
        """Before setup (forgets the previous test): reset the high-water mark, then read."""
        files = self._files = self.proc()
        self._carried = 0
        if _OPEN:
            self._hand_over(files)
        _OPEN.append(self)
        self._reset = files is not None and files.reset_peak()
        if files is not None:
            ru = getrusage(RUSAGE_SELF)
            self.usage0 = ru.ru_utime, ru.ru_stime, ru.ru_inblock * 512, ru.ru_oublock * 512
        else:
            self.usage0 = self._usage()
        self.rss_start = self._rss()
        self.t0 = time.perf_counter()

    def _hand_over(self, files: ProcFiles | None) -> None:
        """Before a nested reset: give the mark so far to the probes still open."""
        if self in _OPEN:
            _OPEN.remove(self)
        mark = files.peak() if files is not None else None
        if mark is None:
            return
        for other in _OPEN:
            if other._reset:
                other._carried = max(other._carried, mark)

    def peak(self, maxrss: int | None, rss_end: int) -> tuple[int, str]:
        """``(rss_peak, peak_method)`` after teardown, from ``ru_maxrss`` (bytes, or None).

        The mark and the RSS come from two sources that disagree by a few pages: ``statm`` and
        ``/proc/self/status`` sum the kernel's per-CPU RSS counters, while the reset sets the
        mark from their approximate total, and ``ru_maxrss`` reads it that way (measured on
        Linux 6.18: one page below ``statm`` right after a reset with one thread, up to 320 KB
        below with a second thread allocating). The RSS may also fall between a reading and the
        reset. So the peak is the largest of the mark and every RSS reading of the span, which
        keeps ``rss_peak >= max(rss_start, rss_end)`` by construction.

        ``ru_maxrss`` is ``max(signal->maxrss, mark)``, where ``signal->maxrss`` is what exited
        threads and the ``exec`` left behind: when it is not above ``rss_end``, neither is the
        mark, and the peak is read without generating ``/proc/self/status``; otherwise (memory
        given back before teardown ended, or a higher ``signal->maxrss``) the mark is
        ``VmHWM`` from ``/proc/self/status``.
        """
        low = max(self.rss_start, rss_end, self._carried)
        files = self._files
        if self._reset and files is not None:
            mark = maxrss if maxrss is not None and maxrss <= rss_end else files.peak()
            if mark is not None:
                return max(low, mark), "vmhwm"
        return low, "endpoints"

    def finish(self, nodeid: str, outcome: str | None = None) -> dict[str, Any]:
        """Return, after teardown, the ``resources[]`` entry of the report.

        Its ``outcome`` is None: the controller fills it in.
        """
        return record(self.finish_raw(nodeid), outcome)

    def finish_raw(self, nodeid: str) -> Raw:
        """Return, after teardown, the figures as read, for :func:`record` later.

        A tuple costs less per test than the record's dict; the records are built together at
        the end.
        """
        wall = time.perf_counter() - self.t0
        maxrss: int | None = None
        usage1: tuple[float, float, int | None, int | None]
        if self._files is not None:
            ru = getrusage(RUSAGE_SELF)
            usage1 = ru.ru_utime, ru.ru_stime, ru.ru_inblock * 512, ru.ru_oublock * 512
            maxrss = ru.ru_maxrss * 1024
        else:
            usage1 = self._usage()
        rss_end = self._rss()
        peak, method = self.peak(maxrss, rss_end)
        if _OPEN and _OPEN[-1] is self:
            _OPEN.pop()
        elif self in _OPEN:
            _OPEN.remove(self)
        return (nodeid, wall, self.usage0, usage1, self.rss_start, rss_end, peak, method)


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
    """Return the ``resources[]`` entry of one test from :meth:`Probe.finish_raw`."""
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
