"""What every channel shares: one send attempt's outcome, secrets and their scrubbing, HTTP POST.

A channel renders the Alertmanager v4 payload of a notification (built by
:func:`pytest_fwmon.alerts.payload.build_payload`) in its own format and makes ONE attempt to
send it; retries, backoff and the delivery deadline live in :mod:`pytest_fwmon.alerts.delivery`.

Secrets (webhook URLs, SMTP user and password) are read from the environment variables the
configuration names, when a notification is sent, and never leave the channel object: every
text an attempt returns goes through :func:`scrub` first, which replaces each secret value
(and, for URLs, their path and query, which a server may echo back) with ``***``.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import unquote, unquote_plus, urlsplit

from ... import __version__

#: Characters of a receiver's answer kept in an attempt's detail.
BODY_SNIPPET: Final = 200

#: User-Agent of webhook and Slack requests.
USER_AGENT: Final = f"fwmon/{__version__}"


class SecretMissing(Exception):
    """An environment variable the configuration names is not set (the message names it)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one send attempt."""

    #: Delivered.
    ok: bool
    #: Worth trying again (5xx, 429, 408, connection problems, timeouts).
    retry: bool
    #: One line: ``HTTP 500: ...``, ``connection refused``...; already scrubbed.
    detail: str
    #: Seconds the receiver asked to wait (HTTP 429 ``Retry-After``), if it said.
    retry_after: float | None = None


class Channel(Protocol):
    """One configured receiver, ready to send."""

    #: Receiver name (``[tool.fwmon.alerts.channels.<name>]``).
    name: str
    #: Seconds one attempt may take at most.
    timeout: float

    def send(self, payload: Mapping[str, Any], timeout: float) -> Outcome:
        """Make one attempt; never raise for delivery problems."""
        ...


def secret_from_env(environ: Mapping[str, str], variable: str, what: str) -> str:
    """Return the value of ``variable``; SecretMissing naming it when it is unset or empty."""
    value = environ.get(variable, "")
    if not value:
        raise SecretMissing(
            f"environment variable {variable} (the {what}) is not set; "
            f"export it in the job that runs fwmon"
        )
    return value


#: Shortest piece of a secret URL hidden on its own (shorter ones are common words).
_MIN_PIECE: Final = 4


def secret_parts(value: str) -> list[str]:
    r"""Strings to hide for one secret: the value and, for a URL, each piece a receiver may echo.

    A URL's pieces are its path and query, its user name and password, every query value,
    path segments of 8 characters or more, and the fragment; each both as written and
    percent-decoded (a receiver usually echoes what it decoded), and with ``/`` escaped as
    ``\/`` (as some JSON encoders write it).
    """
    parts = [value]
    if "://" in value:
        parts.extend(_url_pieces(value))
    found: list[str] = []
    for part in parts:
        for form in (part, unquote(part), unquote_plus(part)):
            found.extend((form, form.replace("/", "\\/")))
    return sorted({p for p in found if len(p) >= _MIN_PIECE}, key=len, reverse=True)


def _url_pieces(value: str) -> list[str]:
    """Return the pieces of a secret URL a receiver may echo (see :func:`secret_parts`)."""
    split = urlsplit(value)
    pieces: list[str] = []
    tail = split.path + ("?" + split.query if split.query else "")
    if len(tail) >= 6:
        pieces.append(tail)
    pieces.extend(piece for piece in split.path.split("/") if len(piece) >= 8)
    pieces.extend(p for p in (split.username, split.password, split.fragment) if p)
    if split.query:
        pieces.append(split.query)
        pieces.extend(pair.partition("=")[2] for pair in split.query.split("&"))
    return pieces


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret (see :func:`secret_parts`) replaced by ``***``."""
    pieces: list[str] = []
    for secret in secrets:
        pieces.extend(secret_parts(secret))
    for piece in sorted(set(pieces), key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


def one_line(text: str, limit: int = BODY_SNIPPET) -> str:
    """Collapse whitespace; cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror:
        return strerror.lower()
    return one_line(str(exc) or type(exc).__name__)


def post_json(url: str, body: Mapping[str, Any], timeout: float, secrets: Sequence[str]) -> Outcome:
    """POST ``body`` as JSON once; classify the answer (see :class:`Outcome`)."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=max(timeout, 0.001)) as answer:  # nosec B310
            answer.read(BODY_SNIPPET)
            return Outcome(True, False, f"HTTP {answer.status}")
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            text = exc.read(4096).decode("utf-8", "replace")
        except Exception:
            text = ""
        finally:
            exc.close()
        # scrubbed before it is cut, so no cut can leave the start of a secret behind
        text = one_line(scrub(text, secrets))
        detail = f"HTTP {status}" + (f": {text}" if text.strip() else "")
        if status == 429:
            after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            return Outcome(False, True, detail, after)
        return Outcome(False, status >= 500 or status == 408, detail)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Outcome(False, True, scrub(_reason(exc), secrets))


def check_url(url: str, variable: str) -> None:
    """SecretMissing-like error (raised as SecretMissing) when a URL is not http(s)."""
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise SecretMissing(
            f"environment variable {variable} does not hold an http:// or https:// URL"
        )


def environ_default(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """``environ`` or the process environment."""
    return os.environ if environ is None else environ


__all__ = [
    "Channel",
    "Outcome",
    "SecretMissing",
    "check_url",
    "environ_default",
    "one_line",
    "parse_retry_after",
    "post_json",
    "scrub",
    "secret_from_env",
    "secret_parts",
]
