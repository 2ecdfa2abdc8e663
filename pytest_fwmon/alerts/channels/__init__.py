"""Notification channels: webhook (Alertmanager v4), Slack, email (SMTP), file/stdout, PagerDuty.

:func:`validate_channel` checks one ``[tool.fwmon.alerts.channels.<name>]`` table (unknown keys
are errors naming the valid ones; secrets may only be named as environment variables);
:func:`build_channel` makes a ready :class:`~.base.Channel` of it when a notification is sent,
reading its secrets from the environment then (SecretMissing when one is unset).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from ...core.errors import ConfigError
from ..values import env_name
from .base import Channel, Outcome, SecretMissing, scrub
from .file import KEYS as FILE_KEYS
from .file import FileChannel
from .pagerduty import DEFAULT_ENDPOINT, PagerDutyChannel
from .pagerduty import KEYS as PAGERDUTY_KEYS
from .slack import KEYS as SLACK_KEYS
from .slack import SlackChannel
from .smtp import KEYS as EMAIL_KEYS
from .smtp import EmailChannel
from .webhook import KEYS as WEBHOOK_KEYS
from .webhook import WebhookChannel

if TYPE_CHECKING:
    from ..rules import ChannelConfig

#: Channel types and their keys.
TYPES: Final = {
    "webhook": WEBHOOK_KEYS,
    "slack": SLACK_KEYS,
    "email": EMAIL_KEYS,
    "file": FILE_KEYS,
    "pagerduty": PAGERDUTY_KEYS,
}


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where} must be a number of seconds > 0, got {value!r}")
    return float(value)


_SECRET_KEYS: Final = ("url", "password", "username", "webhook_url", "token", "routing_key")


def _check_keys(table: Mapping[str, Any], where: str, kind: str) -> None:
    """Raise ConfigError for the first key the channel type does not know."""
    valid = TYPES[kind]
    for key in table:
        if key not in valid:
            hint = ""
            if key in _SECRET_KEYS:
                named = f"{key}_env" if f"{key}_env" in valid else f"{key.split('_')[0]}_env"
                hint = f" (secrets come from the environment: use {named})"
            raise ConfigError(
                f"unknown key {where} {key}; valid keys for type {kind}: "
                f"{', '.join(sorted(valid))}{hint}"
            )


def _url_options(table: Mapping[str, Any], where: str, options: dict[str, Any]) -> None:
    """Fill the options of a webhook or Slack channel (url_env, max_alerts)."""
    if "url_env" not in table:
        raise ConfigError(
            f"{where} needs url_env, the environment variable holding the URL "
            '(e.g. url_env = "FWMON_SLACK_URL")'
        )
    options["url_env"] = env_name(table["url_env"], f"{where} url_env")
    if "max_alerts" in table:
        value = table["max_alerts"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where} max_alerts must be a whole number >= 0")
        options["max_alerts"] = value


def _smtp_server(table: Mapping[str, Any], where: str, options: dict[str, Any]) -> None:
    """Fill the SMTP server options of an email channel (host, port, starttls, ca_file)."""
    host = table.get("host")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{where} host must be the SMTP server name")
    options["host"] = host
    port = table.get("port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where} port must be a port number, got {port!r}")
    options["port"] = port
    starttls = table.get("starttls", False)
    if not isinstance(starttls, bool):
        raise ConfigError(f"{where} starttls must be true or false")
    options["starttls"] = starttls
    ca_file = table.get("ca_file", "")
    if not isinstance(ca_file, str):
        raise ConfigError(f"{where} ca_file must be a path")
    options["ca_file"] = ca_file


def _smtp_login(table: Mapping[str, Any], where: str, options: dict[str, Any]) -> None:
    """Fill the optional login of an email channel (username_env and password_env together)."""
    user, password = table.get("username_env"), table.get("password_env")
    if (user is None) != (password is None):
        raise ConfigError(f"{where} needs both username_env and password_env, or neither")
    if user is not None:
        options["username_env"] = env_name(user, f"{where} username_env")
        options["password_env"] = env_name(password, f"{where} password_env")


def _is_address_list(recipients: Any) -> TypeGuard[list[str]]:
    """Tell whether a value is a non-empty list of email addresses."""
    return (
        isinstance(recipients, list)
        and bool(recipients)
        and all(isinstance(r, str) and "@" in r for r in recipients)
    )


def _smtp_addresses(table: Mapping[str, Any], where: str, options: dict[str, Any]) -> None:
    """Fill the sender and recipients of an email channel (from, to)."""
    sender = table.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError(f"{where} from must be an email address, got {sender!r}")
    options["from"] = sender
    recipients = table.get("to")
    if isinstance(recipients, str):
        recipients = [recipients]
    if not _is_address_list(recipients):
        raise ConfigError(f"{where} to must be a list of email addresses")
    options["to"] = list(recipients)


def _email_options(table: Mapping[str, Any], where: str, options: dict[str, Any]) -> None:
    """Fill the options of an email channel."""
    _smtp_server(table, where, options)
    _smtp_login(table, where, options)
    _smtp_addresses(table, where, options)


def _file_options(table: Mapping[str, Any], where: str, options: dict[str, Any]) -> None:
    """Fill the options of a file channel (path)."""
    path = table.get("path", "-")
    if not isinstance(path, str) or not path:
        raise ConfigError(f'{where} path must be a file path or "-" for standard output')
    options["path"] = path


def _pagerduty_options(table: Mapping[str, Any], where: str, options: dict[str, Any]) -> None:
    """Fill the options of a PagerDuty channel (routing_key_env, endpoint, source)."""
    if "routing_key_env" not in table:
        raise ConfigError(
            f"{where} needs routing_key_env, the environment variable holding the Events v2 "
            'routing key (e.g. routing_key_env = "FWMON_PAGERDUTY_ROUTING_KEY")'
        )
    options["routing_key_env"] = env_name(table["routing_key_env"], f"{where} routing_key_env")
    endpoint = table.get("endpoint", DEFAULT_ENDPOINT)
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{where} endpoint must be an http:// or https:// URL")
    options["endpoint"] = endpoint
    source = table.get("source", "")
    if not isinstance(source, str):
        raise ConfigError(f"{where} source must be a string")
    options["source"] = source


#: Per channel type, the function that validates its own options.
_OPTIONS: Final = {
    "webhook": _url_options,
    "slack": _url_options,
    "email": _email_options,
    "file": _file_options,
    "pagerduty": _pagerduty_options,
}


def validate_channel(table: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """Return (type, options) of one channel table; ConfigError naming the key at fault."""
    kind = table.get("type")
    if kind not in TYPES:
        raise ConfigError(f"{where} type must be one of {', '.join(TYPES)}, got {kind!r}")
    _check_keys(table, where, str(kind))
    options: dict[str, Any] = {}
    if "timeout" in table:
        options["timeout"] = _positive(table["timeout"], f"{where} timeout")
    _OPTIONS[str(kind)](table, where, options)
    return str(kind), options


def build_channel(
    name: str, kind: str, options: Mapping[str, Any], environ: Mapping[str, str], root: Path
) -> Channel:
    """Return a ready channel; SecretMissing when an environment variable it needs is unset."""
    if kind == "webhook":
        return WebhookChannel(name, options, environ)
    if kind == "slack":
        return SlackChannel(name, options, environ)
    if kind == "email":
        return EmailChannel(name, options, environ)
    if kind == "pagerduty":
        return PagerDutyChannel(name, options, environ)
    return FileChannel(name, options, root)


def configured_secrets(channels: Iterable[ChannelConfig], environ: Mapping[str, str]) -> list[str]:
    """Return the values of every environment variable the channels name (``*_env`` options)."""
    found = []
    for config in channels:
        for key, variable in config.options.items():
            if key.endswith("_env") and isinstance(variable, str) and environ.get(variable):
                found.append(environ[variable])
    return found


def channel_secrets(channel: Channel) -> list[str]:
    """Return the secret values a channel holds (to scrub them from any text)."""
    secrets = getattr(channel, "secrets", [])
    return [str(s) for s in secrets]


__all__ = [
    "TYPES",
    "Channel",
    "EmailChannel",
    "FileChannel",
    "Outcome",
    "PagerDutyChannel",
    "SecretMissing",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "channel_secrets",
    "configured_secrets",
    "scrub",
    "validate_channel",
]
