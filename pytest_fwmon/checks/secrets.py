"""Secrets checker: detect-secrets, in-process, one file at a time.

It runs detect-secrets' default plugins and filters, the set ``detect-secrets scan`` uses,
with one exception: the filter that *verifies* a candidate by sending it to its provider is
off (fwmon never sends a secret anywhere; ``scan --no-verify`` does the same). Lines marked
``# pragma: allowlist secret`` are skipped by detect-secrets' own allowlist filter. When the
project has a ``.secrets.baseline`` (detect-secrets' baseline), its plugins and filters are
used instead, and the secrets it lists (same file, type and hashed secret) are not reported.

The scan is detect-secrets' own ``scan_file`` steps with a prefilter in front of the
per-line work (:mod:`.secrets_scan`, where the argument that it drops no finding is): the
same results, several times faster.

The secret never leaves this module: a finding carries the type, the file and the line; its
fingerprint is built from detect-secrets' hashed secret (SHA-1 of the value), and the value
itself is dropped as soon as the plugins return it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from ..core.model import Finding, confidence_at_least, severity_at_least
from .base import FileChecker, FileOutcome, SourceFile, debug_muted
from .secrets_scan import scan_file

#: detect-secrets' own baseline file, at the repository root.
BASELINE_NAME: Final = ".secrets.baseline"

#: The detect-secrets filter that contacts a provider to verify a candidate: always off.
VERIFY_FILTER: Final = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"

#: The weakness every secret finding carries: use of hard-coded credentials.
CWE_HARDCODED_CREDENTIALS: Final = 798

#: Severity and confidence per detect-secrets type (docs/reference/static-pipelines.md).
#: Keys that open an account or a cloud resource by themselves are high; a password next to a
#: keyword is medium; high-entropy strings and public IPs, which are often hashes, ids or
#: test data, are low. A type not listed here (a custom plugin) is medium.
SEVERITIES: Final[dict[str, tuple[str, str]]] = {
    "Private Key": ("high", "high"),
    "AWS Access Key": ("high", "high"),
    "Azure Storage Account access key": ("high", "high"),
    "IBM Cloud IAM Key": ("high", "medium"),
    "IBM COS HMAC Credentials": ("high", "medium"),
    "SoftLayer Credentials": ("high", "medium"),
    "Cloudant Credentials": ("high", "medium"),
    "Artifactory Credentials": ("high", "medium"),
    "GitHub Token": ("high", "high"),
    "GitLab Token": ("high", "high"),
    "PyPI Token": ("high", "high"),
    "NPM tokens": ("high", "high"),
    "OpenAI Token": ("high", "high"),
    "Slack Token": ("high", "high"),
    "Stripe Access Key": ("high", "high"),
    "Twilio API Key": ("high", "high"),
    "SendGrid API Key": ("high", "high"),
    "Mailchimp Access Key": ("high", "high"),
    "Square OAuth Secret": ("high", "high"),
    "Discord Bot Token": ("high", "high"),
    "Telegram Bot Token": ("high", "high"),
    "Basic Auth Credentials": ("high", "medium"),
    "JSON Web Token": ("medium", "medium"),
    "Secret Keyword": ("medium", "medium"),
    "Base64 High Entropy String": ("low", "low"),
    "Hex High Entropy String": ("low", "low"),
    "Public IP (ipv4)": ("low", "low"),
}

#: Severity and confidence of a type not in :data:`SEVERITIES`.
UNKNOWN_TYPE: Final = ("medium", "medium")

#: detect-secrets' loggers (one info line per file scanned).
_LOGGERS = ("detect-secrets",)

#: The detect-secrets configuration this process is set up with (see :func:`_configure`).
_configured: tuple[str, str] | None = None


def default_config() -> dict[str, Any]:
    """detect-secrets' defaults: every plugin it ships, its default filters."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins: Iterable[type] = get_mapping_from_secret_type_to_class().values()
    return {"plugins_used": [{"name": plugin.__name__} for plugin in plugins]}


def _settings_state(settings: Any) -> str:
    """Return detect-secrets' plugins and filters as they are now, as comparable text."""
    return json.dumps([settings.plugins, settings.filters], sort_keys=True, default=str)


def _configure(config: dict[str, Any]) -> None:
    """Set detect-secrets' process-wide settings to ``config`` (once per configuration).

    detect-secrets keeps its plugins and filters in one global settings object; setting it up
    loads every plugin, so it is done once per process, not per file.
    """
    global _configured
    from detect_secrets.settings import (
        cache_bust,
        configure_settings_from_baseline,
        get_filters,
        get_settings,
    )

    ident = json.dumps(config, sort_keys=True)
    # other code in the process (detect-secrets' own baseline loading, a user's test) may have
    # changed the global settings since: set up again unless they are exactly as set up
    if _configured == (ident, _settings_state(get_settings())):
        return
    get_settings().clear()
    cache_bust()
    configure_settings_from_baseline(config)
    get_settings().disable_filters(VERIFY_FILTER)
    get_filters.cache_clear()
    _configured = (ident, _settings_state(get_settings()))


def read_baseline(path: Path) -> tuple[dict[str, Any], set[tuple[str, str, str]]] | str:
    """Return the settings and known secrets of a ``.secrets.baseline``, or why it is unusable.

    Known secrets are (file, type, hashed secret); the reason is one line.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{path.name} is not a readable detect-secrets baseline ({type(exc).__name__})"
    if not isinstance(data, dict) or not isinstance(data.get("results", {}), dict):
        return f"{path.name} is not a detect-secrets baseline (no 'results' object)"
    config = {k: data[k] for k in ("plugins_used", "filters_used") if k in data}
    return (config or default_config()), _known_secrets(data.get("results", {}))


def _known_secrets(results: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Return (file, type, hashed secret) of every well-formed entry of a baseline's results."""
    return {
        (
            Path(str(filename)).as_posix(),
            str(entry.get("type", "")),
            str(entry.get("hashed_secret", "")),
        )
        for filename, entries in results.items()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    }


class SecretsChecker(FileChecker):
    """detect-secrets on one source or configuration file."""

    name = "secrets"
    pipeline = "security"
    text_files = True

    def __init__(
        self,
        root: Path,
        fail_on_severity: str = "medium",
        fail_on_confidence: str = "medium",
        fwmon_baseline: str = "fwmon-baseline.json",
    ) -> None:
        """Scan files of ``root``, comparing with its ``.secrets.baseline`` when there is one."""
        self.root = root
        #: Repository-relative path of fwmon's baseline: a file of hashes, not read.
        self.fwmon_baseline = fwmon_baseline
        self.fail_on_severity = fail_on_severity
        self.fail_on_confidence = fail_on_confidence
        baseline = root / BASELINE_NAME
        data = baseline.read_bytes() if baseline.is_file() else None
        #: sha256 of ``.secrets.baseline`` (None without one): part of the cache key.
        self.baseline_digest = hashlib.sha256(data).hexdigest() if data is not None else None

    def tool_version(self) -> str:
        """Return the installed detect-secrets version."""
        return metadata.version("detect-secrets")

    def settings(self) -> dict[str, Any]:
        """Return the settings the findings depend on (their cache key)."""
        return {
            "baseline": self.baseline_digest,
            "fwmon_baseline": self.fwmon_baseline,
            "severities": SEVERITIES,
            "fail_on_severity": self.fail_on_severity,
            "fail_on_confidence": self.fail_on_confidence,
        }

    def applies(self, relpath: str) -> bool:
        """Return False for the two baselines (detect-secrets' and fwmon's): they hold hashes."""
        return relpath not in (BASELINE_NAME, self.fwmon_baseline)

    def _setup(self) -> tuple[set[tuple[str, str, str]], str | None]:
        """Configure detect-secrets; (known secrets, reason the baseline cannot be used)."""
        if self.baseline_digest is None:
            _configure(default_config())
            return set(), None
        found = read_baseline(self.root / BASELINE_NAME)
        if isinstance(found, str):
            return set(), found
        config, known = found
        _configure(config)
        return known, None

    def check(self, source: SourceFile) -> FileOutcome:
        """Return the secrets in one file no baseline knows (an error if a baseline is unusable)."""
        known, problem = self._setup()
        if problem is not None:
            return FileOutcome(error=f"secrets: {problem}; fix it or remove it")
        findings: list[Finding] = []
        baselined = 0
        for kind, line, hashed in self._scan(source):
            if (source.relpath, kind, hashed) in known:
                baselined += 1
                continue
            findings.append(self._finding(kind, line, hashed, source.relpath))
        metrics: dict[str, Any] = {"secrets_baselined": baselined} if baselined else {}
        return FileOutcome(findings=findings, metrics=metrics)

    def _scan(self, source: SourceFile) -> Iterator[tuple[str, int, str]]:
        """(type, line, hashed secret) of each secret detect-secrets finds in the file.

        As in detect-secrets' own results, a secret repeated in one file is reported once, at
        its first line.
        """
        first: dict[tuple[str, str], int] = {}
        with debug_muted(*_LOGGERS):
            for secret in scan_file(str(source.path)):
                key = (str(secret.type), str(secret.secret_hash))
                line = int(secret.line_number)
                first[key] = min(line, first.get(key, line))
                del secret  # the value goes no further
        for (kind, hashed), line in sorted(first.items(), key=lambda item: (item[1], item[0])):
            yield kind, line, hashed

    def _finding(self, kind: str, line: int, hashed: str, relpath: str) -> Finding:
        severity, confidence = SEVERITIES.get(kind, UNKNOWN_TYPE)
        return Finding(
            # the basis of the fingerprint (see assign_fingerprints): the hashed secret
            fingerprint=f"secret:{hashed}",
            pipeline=self.pipeline,
            checker=self.name,
            rule=kind,
            rule_name=kind.lower().replace(" ", "-"),
            severity=severity,
            confidence=confidence,
            cwe=CWE_HARDCODED_CREDENTIALS,
            path=relpath,
            line=line,
            end_line=line,
            message=f"{kind} in {relpath} line {line} (value hidden)",
        )

    def fails(self, finding: Finding) -> bool:
        """Tell whether a finding reaches both severity and confidence thresholds."""
        return severity_at_least(finding.severity, self.fail_on_severity) and confidence_at_least(
            finding.confidence, self.fail_on_confidence
        )
