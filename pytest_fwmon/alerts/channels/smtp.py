"""Email over SMTP (smtplib): a plain-text and an HTML part, STARTTLS optional.

Configuration::

    type = "email"
    host = "smtp.example.com"
    port = 587                      # default 25
    starttls = true                 # upgrade the connection before AUTH (default false)
    ca_file = ""                    # CA bundle to verify the server with (default: system)
    username_env = "FWMON_SMTP_USER"      # optional; both or neither
    password_env = "FWMON_SMTP_PASSWORD"
    from = "fwmon@example.com"
    to = ["team@example.com"]
    timeout = 10

Subject: Alertmanager's default subject (:func:`pytest_fwmon.alerts.payload.title`). The body
lists each alert with its summary, description, labels, start and end. 4xx SMTP replies and
connection problems are retried; 5xx replies (rejected recipient, failed login) are final.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Final

from ...core.textsafe import plain
from ..payload import ZERO_TIME, alert_line, title
from .base import Outcome, _reason, one_line, scrub, secret_from_env

KEYS: Final = (
    "type",
    "host",
    "port",
    "starttls",
    "ca_file",
    "username_env",
    "password_env",
    "from",
    "to",
    "timeout",
)


def _description(text: str) -> list[str]:
    """Return a description's lines, each escaped, indented under its alert."""
    return [f"  {plain(line)}" for line in str(text).splitlines()]


def _text_body(payload: Mapping[str, Any]) -> str:
    """Return the plain-text part; every value from the payload is escaped to one line."""
    p = plain
    lines = [p(title(payload)), ""]
    for alert in payload.get("alerts", []):
        annotations = alert.get("annotations") or {}
        lines.append(p(alert_line(alert)))
        if annotations.get("description"):
            lines += _description(annotations["description"])
        labels = alert.get("labels") or {}
        lines.append(
            "  labels: " + ", ".join(f"{p(k)}={p(str(v))}" for k, v in sorted(labels.items()))
        )
        lines.append(f"  starts: {p(str(alert.get('startsAt')))}")
        if alert.get("endsAt") and alert.get("endsAt") != ZERO_TIME:
            lines.append(f"  ends:   {p(str(alert.get('endsAt')))}")
        if alert.get("generatorURL"):
            lines.append(f"  run:    {p(str(alert['generatorURL']))}")
        lines.append(f"  fingerprint: {p(str(alert.get('fingerprint')))}")
        lines.append("")
    if payload.get("externalURL"):
        lines.append(f"Dashboard: {p(str(payload['externalURL']))}")
    lines.append(f"Group: {p(str(payload.get('groupKey')))}")
    return "\n".join(lines) + "\n"


def _html_body(payload: Mapping[str, Any]) -> str:
    """Return the HTML part; every value from the payload is escaped for HTML, controls too."""

    def e(text: str) -> str:
        return html.escape(plain(text))

    out = [
        "<!DOCTYPE html><html><body>",
        f"<h2>{e(title(payload))}</h2>",
    ]
    for alert in payload.get("alerts", []):
        labels = alert.get("labels") or {}
        annotations = alert.get("annotations") or {}
        out.append('<div class="alert">')
        out.append(f"<h3>{e(alert_line(alert))}</h3>")
        if annotations.get("description"):
            out.append(f"<p>{e(annotations['description'])}</p>")
        out.append("<table>")
        for key, value in sorted(labels.items()):
            out.append(f"<tr><th>{e(key)}</th><td>{e(str(value))}</td></tr>")
        out.append(f"<tr><th>starts</th><td>{e(str(alert.get('startsAt')))}</td></tr>")
        if alert.get("endsAt") and alert.get("endsAt") != ZERO_TIME:
            out.append(f"<tr><th>ends</th><td>{e(str(alert.get('endsAt')))}</td></tr>")
        out.append("</table>")
        if alert.get("generatorURL"):
            url = e(str(alert["generatorURL"]))
            out.append(f'<p><a href="{url}">run</a></p>')
        out.append("</div>")
    if payload.get("externalURL"):
        out.append(f'<p><a href="{e(str(payload["externalURL"]))}">dashboard</a></p>')
    out.append(f"<p><small>{e(str(payload.get('groupKey')))}</small></p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render(payload: Mapping[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    """Return the email: subject, text part, HTML alternative."""
    message = EmailMessage()
    # header values on one line: a CR or LF from a label would start a header of its own
    message["Subject"] = plain(title(payload))
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "fwmon.invalid")
    message["X-Fwmon-Group-Key"] = plain(str(payload.get("groupKey", "")))
    message.set_content(_text_body(payload))
    message.add_alternative(_html_body(payload), subtype="html")
    return message


class EmailChannel:
    """An SMTP receiver; the login is read from the environment."""

    def __init__(self, name: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        """Configure the channel from its ``options``, reading secrets from ``environ``."""
        self.name = name
        self.timeout = float(options.get("timeout", 10.0))
        self.host = str(options["host"])
        self.port = int(options.get("port", 25))
        self.starttls = bool(options.get("starttls", False))
        self.ca_file = str(options.get("ca_file", "")) or None
        self.sender = str(options["from"])
        self.recipients = [str(r) for r in options["to"]]
        self._user: str | None = None
        self._password: str | None = None
        if options.get("username_env"):
            self._user = secret_from_env(
                environ, str(options["username_env"]), f"SMTP user of receiver {name}"
            )
            self._password = secret_from_env(
                environ, str(options["password_env"]), f"SMTP password of receiver {name}"
            )

    @property
    def secrets(self) -> list[str]:
        """Values to keep out of every output."""
        return [s for s in (self._user, self._password) if s]

    def send(self, payload: Mapping[str, Any], timeout: float) -> Outcome:
        """One SMTP session: connect, optional STARTTLS, optional AUTH, send."""
        message = render(payload, self.sender, self.recipients)
        try:
            refused = self._session(message, timeout)
        except (smtplib.SMTPException, OSError) as exc:
            return self._failure(exc)
        if refused:
            return Outcome(True, False, f"SMTP 250 (refused: {', '.join(sorted(refused))})")
        return Outcome(True, False, "SMTP 250")

    def _session(self, message: EmailMessage, timeout: float) -> dict[str, tuple[int, bytes]]:
        """Send ``message`` in one SMTP session; return the recipients the server refused."""
        with smtplib.SMTP(self.host, self.port, timeout=max(timeout, 0.001)) as client:
            client.ehlo()
            if self.starttls:
                context = ssl.create_default_context(cafile=self.ca_file)
                client.starttls(context=context)
                client.ehlo()
            if self._user is not None and self._password is not None:
                client.login(self._user, self._password)
            return client.send_message(message)

    def _failure(self, exc: smtplib.SMTPException | OSError) -> Outcome:
        """Return the failed outcome of a session (retryable for 4xx and network errors)."""
        if isinstance(exc, smtplib.SMTPResponseException):
            return self._answer_failure(exc)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = sorted({code for code, _ in exc.recipients.values()})
            detail = f"SMTP refused every recipient ({', '.join(str(c) for c in codes)})"
            return Outcome(False, all(400 <= c < 500 for c in codes), detail)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return Outcome(False, False, scrub(f"SMTP: {one_line(str(exc))}", self.secrets))
        if isinstance(exc, ssl.SSLError):
            return Outcome(False, False, scrub(f"TLS: {one_line(str(exc))}", self.secrets))
        return Outcome(False, True, scrub(_reason(exc), self.secrets))

    def _answer_failure(self, exc: smtplib.SMTPResponseException) -> Outcome:
        """Return the outcome of an error answer: retryable when its code is 4xx."""
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        detail = scrub(f"SMTP {exc.smtp_code}: {one_line(text)}", self.secrets)
        return Outcome(False, 400 <= exc.smtp_code < 500, detail)
