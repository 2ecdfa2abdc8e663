"""Generic webhook: POST the Alertmanager v4 payload as JSON (what any Alertmanager receiver reads).

Configuration (``[tool.fwmon.alerts.channels.<name>]``)::

    type = "webhook"
    url_env = "FWMON_PAGER_URL"   # the URL is a secret: only its environment variable is named
    timeout = 10                  # seconds per attempt (capped by the delivery timeout)
    max_alerts = 0                # 0 = all; otherwise the rest is counted in truncatedAlerts

2xx is delivered; 5xx, 408, 429 and connection problems are retried; other 4xx answers are
final (the request is wrong; retrying cannot help).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .base import Outcome, check_url, post_json, secret_from_env

KEYS: Final = ("type", "url_env", "timeout", "max_alerts")


class WebhookChannel:
    """A webhook receiver with its URL read from the environment."""

    def __init__(self, name: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        """Configure the channel from its ``options``, reading secrets from ``environ``."""
        self.name = name
        self.timeout = float(options.get("timeout", 10.0))
        self.max_alerts = int(options.get("max_alerts", 0))
        variable = str(options["url_env"])
        self._url = secret_from_env(environ, variable, f"URL of receiver {name}")
        check_url(self._url, variable)

    @property
    def secrets(self) -> list[str]:
        """Values to keep out of every output."""
        return [self._url]

    def render(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return the JSON body: the payload, truncated to ``max_alerts``."""
        body = dict(payload)
        alerts = list(body.get("alerts", []))
        if self.max_alerts and len(alerts) > self.max_alerts:
            body["truncatedAlerts"] = (
                int(body.get("truncatedAlerts", 0)) + len(alerts) - (self.max_alerts)
            )
            body["alerts"] = alerts[: self.max_alerts]
        return body

    def send(self, payload: Mapping[str, Any], timeout: float) -> Outcome:
        """One POST."""
        return post_json(self._url, self.render(payload), timeout, self.secrets)
