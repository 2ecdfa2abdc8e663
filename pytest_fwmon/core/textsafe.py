"""Escaping text for the terminal and CI logs. Standard library only.

Any string from a report, baseline, policy or file name that fwmon prints goes through
:func:`plain` (one field) or :func:`log_lines` (a whole text), so it cannot move the cursor,
colour the terminal, start a new line, or start a GitHub Actions workflow command.
"""

from __future__ import annotations

import re
from typing import Any, Final

# C0 and C1 controls, DEL, line/paragraph separators, and lone surrogates
_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: str) -> str:
    """``text`` on one line: controls, separators and lone surrogates as backslash escapes."""
    return _UNSAFE.sub(_escape, text)


def log_line(line: str) -> str:
    r"""Return one line safe for a terminal and a CI log: :func:`plain`, no workflow command.

    GitHub's runner runs a line as a command when it starts with ``::`` after leading
    whitespace, or holds ``##[`` anywhere (the old syntax); such lines get a ``| `` prefix
    and ``##[`` becomes ``#\#[``.
    """
    line = plain(line).replace("##[", "#\\#[")
    if line.lstrip().startswith("::"):
        line = "| " + line
    return line


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def well_formed(value: Any) -> Any:
    r"""Return ``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD.

    For data that leaves fwmon as UTF-8 (an alert's JSON or email): a lone surrogate (from an
    environment variable or a file name decoded with ``surrogateescape``) cannot be encoded,
    and a receiver may reject its ``\udXXX`` JSON escape. Dicts, lists and tuples are copied.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {well_formed(k): well_formed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [well_formed(v) for v in value]
    return value


def log_lines(lines: list[str]) -> str:
    """Lines (each one line of output) joined, each made safe by :func:`log_line`."""
    return "".join(log_line(line) + "\n" for line in lines)


__all__ = ["log_line", "log_lines", "plain", "well_formed"]
