"""Which share of a run one shard runs: ``--fwmon-shard I/N``. Pure logic, standard library only.

Ordinary tests are sorted by node id and dealt out greedily to the least loaded shard by
their known durations (pytest-split's "least_duration" idea); tests without a known duration
count as the median known duration (1 s when none is known), so a run without history is a
round-robin by node id. fwmon's static items go by a stable hash of their node id, so each
is computed by exactly one shard. Every process computes the same assignment from the same
collected list, so xdist's controller and workers agree.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

_SPEC = re.compile(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*")


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard: ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        """Return the ``I/N`` form."""
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """Parse ``I/N`` (1 <= I <= N); raise :class:`ConfigError` with one line otherwise."""
    match = _SPEC.fullmatch(text or "")
    if match is None:
        raise ConfigError(f"--fwmon-shard {text!r} is not I/N (for example 2/4)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise ConfigError(f"--fwmon-shard {text!r}: I must be between 1 and N (1 <= I <= N)")
    return Shard(index, count)


def stable_bucket(nodeid: str, count: int) -> int:
    """Return the 1-based shard of a static item: a stable hash of its node id."""
    digest = hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def assign_tests(
    nodeids: Iterable[str], count: int, durations: Mapping[str, float] | None = None
) -> dict[str, int]:
    """Map each ordinary test's node id to its 1-based shard.

    Greedy: in node-id order (longest known first when durations are known), each test goes
    to the shard with the least total so far (the lowest index on a tie).
    """
    known = {k: float(v) for k, v in (durations or {}).items() if v >= 0}
    ordered = sorted(set(nodeids))
    present = [known[n] for n in ordered if n in known]
    default = statistics.median(present) if present else 1.0
    cost = {n: known.get(n, default) for n in ordered}
    if present:
        ordered.sort(key=lambda n: -cost[n])  # stable: node-id order among equal costs
    loads = [0.0] * count
    shard_of: dict[str, int] = {}
    for nodeid in ordered:
        target = min(range(count), key=lambda i: (loads[i], i))
        loads[target] += cost[nodeid]
        shard_of[nodeid] = target + 1
    return shard_of


def config_fingerprint(effective: Mapping[str, Any]) -> str:
    """Return the sha256 of the effective configuration (canonical JSON, sorted keys)."""
    text = json.dumps(effective, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
