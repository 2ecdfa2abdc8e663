"""One exception hierarchy for fwmon; ``cli.main`` turns it into one line and an exit code.

Standard library only: the gate imports this in a bare CI job.

Exit codes (documented in docs/reference/exit-codes.md):

====  ==========================================================
0     success / gate passed
1     gate blocked, or some inputs were skipped (e.g. history import)
2     usage or configuration error (bad flag, bad policy, unknown key)
3     report missing, unreadable, invalid, unsupported schema version
4     store error (history database corrupt, wrong schema, read-only)
====  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_USAGE = 2
EXIT_REPORT = 3
EXIT_STORE = 4


class FwmonError(Exception):
    """Base of every error fwmon reports to a user.

    The message is one line that says what is wrong and how to fix it; ``hint`` is an
    optional second sentence printed after it.
    """

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        """Keep ``message`` (what is wrong) and the optional ``hint`` (how to fix it)."""
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """Return the message as printed: message, then the hint in parentheses if any."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(FwmonError):
    """A configuration file, key, value or command-line argument is wrong."""

    exit_code = EXIT_USAGE


class ReportError(FwmonError):
    """A report is missing, unreadable, invalid against its schema or of another version."""

    exit_code = EXIT_REPORT


class StoreError(FwmonError):
    """The history store cannot be opened or written (corrupt, wrong schema, read-only)."""

    exit_code = EXIT_STORE
    #: The database aborted the transaction to resolve a conflict: redoing it may succeed.
    retryable = False


def run_command(call: Callable[[], int], prog: str = "fwmon") -> int:
    """Run one command's handler and turn every way out into its documented exit code.

    The one handler shared by ``fwmon`` and ``python -m pytest_fwmon.gate``:

    * a :class:`FwmonError` prints one escaped line on stderr and exits with its code;
    * Ctrl-C exits 130;
    * a closed stdout (``BrokenPipeError``, e.g. ``fwmon gate | head -1``) exits 1: the
      output was lost, so the command did not succeed, and a blocked gate stays non-zero.
    """
    import os
    import sys

    from .textsafe import log_line

    try:
        return int(call())
    except FwmonError as exc:
        _stderr(f"{prog}: error: {log_line(exc.one_line())}")
        return exc.exit_code
    except KeyboardInterrupt:
        _stderr(f"{prog}: interrupted")
        return 130
    except BrokenPipeError:
        # later flushes (and the interpreter's at exit) must not raise again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        _stderr(f"{prog}: error: stdout was closed before the output was written")
        return EXIT_BLOCKED


def _stderr(line: str) -> None:
    import sys

    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
