"""Redaction of the secrets other checkers quote in their messages.

bandit's hardcoded-password tests (B105 string, B106 argument, B107 default) put the string
itself into the message (``Possible hardcoded password: '...'``). fwmon keeps the message up
to the colon and replaces the rest with :data:`REDACTED`, before the finding is cached,
reported, stored or shown, so the value never reaches the report, the cache, the history or a
gate output. ruff's S105-S107 messages name the variable, not the value, and are kept.
"""

from __future__ import annotations

from typing import Final

#: Rules whose message quotes a hardcoded secret.
SECRET_QUOTING_RULES: Final = frozenset({"B105", "B106", "B107"})

#: What stands in for the quoted value.
REDACTED: Final = "<redacted>"

#: Version of the redaction rules (part of the bandit checker's cache key, so a cache
#: written before them is not replayed).
REDACTION_VERSION: Final = 1


def redact_message(rule: str, message: str) -> str:
    """``message`` with the quoted secret replaced when ``rule`` quotes one."""
    if rule not in SECRET_QUOTING_RULES:
        return message
    head, sep, _ = message.partition(": ")
    return f"{head}: {REDACTED}" if sep else REDACTED
