"""The import probe: imports modules in a fork tree of one fresh interpreter.

:func:`pytest_fwmon.checks.imports.probe_imports` runs this file in the project's interpreter::

    PYTHON .../pytest_fwmon/checks/import_probe.py WORKDIR TIMEOUT ROOT

WORKDIR/modules.txt lists the modules to import, one a line. Result lines (tab separated,
escaped by :func:`clean`) go to WORKDIR/results.txt: name, status, seconds, via, message,
file, line, missing module, traceback tail.

It is run **by path**, not with ``-m``, on purpose. The interpreter is the project's, which
need not have fwmon installed, and ``python -m pytest_fwmon.checks.import_probe`` would import
the ``pytest_fwmon`` and ``pytest_fwmon.checks`` packages first: the probe must import nothing
that a bare ``python -c "import m"`` has not loaded already (os, sys, time and faulthandler are
loaded at start-up or built in) until a module fails, so that every child starts from the
state a fresh interpreter would reach. For the same reason this file imports only those
modules at its top (no ``from __future__``, no ``collections.abc``, no ``contextlib``), and
:func:`main` puts ``""`` (the working directory, which is ROOT) first on ``sys.path`` as
``python -c`` does, instead of this file's folder. ``python -m`` still works where fwmon is
importable, with the same results for modules whose import does not depend on what fwmon
loaded.
"""

import faulthandler
import os
import sys
import time

#: This file, as the probe's frames name it (tracebacks and the watchdog's dumps leave it out).
PROBE_FILE = os.path.abspath(__file__)

#: Exit status of a child whose own bookkeeping failed (not the import under test).
CHILD_FAILED = 70


def clean(value: object) -> str:
    """``value`` as text with backslash, tab, newline and carriage return escaped."""
    text = str(value)
    for old, new in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(old, new)
    return text


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # nosec B112 # a closed or broken stream must not stop the probe
            continue  # contextlib.suppress would load contextlib into a fresh interpreter


def _read_tail(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 4000))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Probe:
    """The fork tree over the wanted modules and the results file it appends to."""

    def __init__(self, work: str, timeout: float, root: str) -> None:
        """Probe imports in ``work`` for the project at ``root``, ``timeout`` seconds each."""
        self.work = work
        self.timeout = timeout
        self.root = root
        with open(os.path.join(work, "modules.txt"), encoding="utf-8") as fh:
            self.wanted = [line.strip() for line in fh if line.strip()]
        self.wanted_set = set(self.wanted)
        self.children: dict[str, list[str]] = {}
        for name in self.wanted:
            self._add(name)
        for kids in self.children.values():
            kids.sort()
        self.results = os.open(
            os.path.join(work, "results.txt"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )

    def _add(self, name: str) -> None:
        parent = name.rpartition(".")[0]
        kids = self.children.setdefault(parent, [])
        if name not in kids:
            kids.append(name)
            if parent:
                self._add(parent)

    def emit(
        self,
        name: str,
        status: str,
        seconds: float = 0.0,
        via: str = "",
        message: str = "",
        file: str = "",
        line: int = 0,
        missing: str = "",
        tb: str = "",
    ) -> None:
        """Append one result line for ``name`` (only for wanted modules)."""
        if name not in self.wanted_set:
            return
        fields = (name, status, f"{seconds:.6f}", via, message, file, line, missing, tb)
        data = "\t".join(clean(v) for v in fields) + "\n"
        os.write(self.results, data.encode("utf-8", "replace"))

    def _below(self, name: str) -> list[str]:
        found: list[str] = []
        for kid in self.children.get(name, ()):
            found.append(kid)
            found.extend(self._below(kid))
        return found

    def _block(self, name: str, why: str) -> None:
        for kid in self._below(name):
            self.emit(kid, "blocked", via=name, message=why)

    def _where(self, exc: BaseException) -> tuple[str, int, str]:
        import traceback  # only once a module failed: it loads modules a bare import does not

        if isinstance(exc, SyntaxError) and exc.filename:
            file, line = exc.filename, exc.lineno or 0
        else:
            file, line = self._innermost_project_frame(exc)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == PROBE_FILE:
            tb = tb.tb_next
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        return file, line, text[-4000:]

    def _innermost_project_frame(self, exc: BaseException) -> tuple[str, int]:
        """Return the file and line of the innermost frame in the project ("", 0 if none)."""
        import traceback  # loaded by _where already

        file, line = "", 0
        for frame in traceback.extract_tb(exc.__traceback__):
            name = frame.filename
            if name.startswith(self.root) and "<frozen" not in name and name != PROBE_FILE:
                file, line = name, frame.lineno or 0
        return file, line

    def run(self, name: str) -> None:
        """Import ``name`` under the watchdog, record the outcome, then visit its children."""
        faulthandler.enable(file=sys.stderr)
        faulthandler.dump_traceback_later(self.timeout, exit=True, file=sys.stderr)
        start = time.perf_counter()
        try:
            __import__(name)
        except BaseException as exc:
            seconds = time.perf_counter() - start
            faulthandler.cancel_dump_traceback_later()
            _flush()
            file, line, tb = self._where(exc)
            first = (str(exc).splitlines() or [""])[0]
            message = type(exc).__name__ + (": " + first if first else "")
            missing = getattr(exc, "name", "") if isinstance(exc, ImportError) else ""
            self.emit(name, "error", seconds, "", message[:500], file, line, missing or "", tb)
            self._block(name, "its package " + name + " failed to import")
            return
        seconds = time.perf_counter() - start
        faulthandler.cancel_dump_traceback_later()
        _flush()
        self.emit(name, "ok", seconds)
        self.visit(name)

    def visit(self, name: str) -> None:
        """Import each child of ``name`` in a forked child process (not yet loaded ones)."""
        for kid in self.children.get(name, ()):
            if kid in sys.modules:
                self.emit(kid, "ok", 0.0, via=name or kid)
                self.visit(kid)
                continue
            out = os.path.join(self.work, "out-" + kid)
            _flush()
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.close(fd)
                    self.run(kid)
                except BaseException:
                    code = CHILD_FAILED
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                continue
            text = _read_tail(out)
            if "Timeout (" in text:
                message = f"import did not finish in {self.timeout:g}s"
                self.emit(kid, "timeout", self.timeout, "", message, tb=text)
                self._block(kid, "its package " + kid + " timed out on import")
            else:
                if os.WIFSIGNALED(status):
                    why = f"killed by signal {os.WTERMSIG(status)}"
                else:
                    why = f"ended the interpreter with exit status {os.WEXITSTATUS(status)}"
                self.emit(kid, "crash", 0.0, "", "import " + why, tb=text)
                self._block(kid, "its package " + kid + " crashed on import")


def main(argv: list[str]) -> None:
    """Probe the modules listed in ``argv[0]``/modules.txt (``argv``: WORKDIR TIMEOUT ROOT)."""
    work, timeout, root = argv[0], float(argv[1]), argv[2]
    sys.argv[:] = ["-c"]
    if __spec__ is None and sys.path:
        sys.path[0] = ""
    probe = Probe(work, timeout, root)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    if hasattr(os, "fork"):
        probe.visit("")
    else:
        for name in probe.wanted:
            probe.run(name)


if __name__ == "__main__":
    main(sys.argv[1:])
