"""Delivery: retries with backoff, ``Retry-After``, and one deadline for a whole evaluation.

:func:`deliver` sends a batch of notifications (each: receiver + v4 payload) at once, a few in
parallel, and returns one :class:`DeliveryResult` each. It never raises for delivery problems.

For each notification, attempt ``k`` (1-based) is made while the deadline has not passed:

* delivered (2xx, SMTP 250, written) -> ``sent``;
* a final refusal (4xx other than 408/429, SMTP 5xx, a missing environment variable) ->
  ``undelivered`` at once;
* otherwise, when ``k < max_attempts``, wait ``backoff * 2**(k-1)`` seconds, or the receiver's
  ``Retry-After`` when that is longer, and try again; a wait that would end after the deadline
  is not started: the notification is ``undelivered`` ("the delivery timeout leaves no time").

Every attempt's timeout is capped by the time left, so the whole batch returns within the
deadline (``delivery_timeout`` seconds after the call; plus at most one second while a
blocked socket call returns). Nothing here touches the store: the engine records results.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from .channels import (
    Channel,
    Outcome,
    SecretMissing,
    build_channel,
    channel_secrets,
    configured_secrets,
    scrub,
)
from .rules import ChannelConfig

#: Notifications sent at the same time.
PARALLEL: Final = 4

#: Seconds :func:`deliver` waits past the deadline for attempts still running.
GRACE: Final = 1.0

log = logging.getLogger("pytest_fwmon.alerts")


@dataclass(frozen=True, slots=True)
class Job:
    """One notification to deliver."""

    #: Notification id (the store's row).
    id: str
    #: Receiver name.
    receiver: str
    #: The Alertmanager v4 payload.
    payload: Mapping[str, Any]


@dataclass(slots=True)
class DeliveryResult:
    """What happened to one notification."""

    id: str
    receiver: str
    #: ``sent`` or ``undelivered``.
    status: str
    #: Attempts made.
    attempts: int = 0
    #: Why it is undelivered (one line, secrets scrubbed); None when sent.
    error: str | None = None
    #: One line per attempt (``HTTP 500``, ``HTTP 429: ... (Retry-After 1 s)``...).
    log: list[str] = field(default_factory=list)
    #: Seconds waited before each retry.
    waited: list[float] = field(default_factory=list)
    #: Seconds the delivery took (wall clock).
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _open_channel(
    job: Job, config: ChannelConfig | None, environ: Mapping[str, str], root: Path
) -> tuple[Channel | None, str | None]:
    """Return the job's ready channel, or None and why it cannot be built."""
    if config is None:
        return None, f"receiver {job.receiver} is no longer configured"
    try:
        return build_channel(config.name, config.type, config.options, environ, root), None
    except SecretMissing as exc:
        return None, str(exc)


def _try_once(
    job: Job,
    channel: Channel,
    secrets: Sequence[str],
    result: DeliveryResult,
    attempt: int,
    remaining: float,
) -> Outcome:
    """Make one attempt within ``remaining`` seconds; log it and its status on ``result``."""
    outcome = channel.send(job.payload, min(channel.timeout, remaining))
    result.attempts = attempt
    detail = scrub(outcome.detail, secrets)
    if outcome.retry_after is not None:
        detail += f" (Retry-After {outcome.retry_after:g} s)"
    result.log.append(detail)
    log.debug("alert notification %s to %s: attempt %d: %s", job.id, job.receiver, attempt, detail)
    if outcome.ok:
        result.status = "sent"
        result.error = None
    else:
        result.error = detail
    return outcome


def _wait_before(outcome: Outcome, attempt: int, backoff: float) -> float:
    """Return the seconds to wait after ``attempt``: the backoff doubled, or Retry-After."""
    wait: float = backoff * 2 ** (attempt - 1)
    if outcome.retry_after is not None:
        wait = max(wait, outcome.retry_after)
    return wait


def _send_with_retries(
    job: Job,
    channel: Channel,
    result: DeliveryResult,
    *,
    deadline: float,
    max_attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    """Attempt the job until it is sent, cannot be retried, or attempts or time run out."""
    secrets = channel_secrets(channel)
    for attempt in range(1, max_attempts + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            result.error = "the delivery timeout was reached before this attempt"
            break
        outcome = _try_once(job, channel, secrets, result, attempt, remaining)
        if outcome.ok or not outcome.retry or attempt == max_attempts:
            break
        wait = _wait_before(outcome, attempt, backoff)
        if clock() + wait >= deadline:
            result.error = (
                f"{result.error}; the delivery timeout leaves no time for the next attempt "
                f"(in {wait:g} s)"
            )
            break
        sleep(wait)
        result.waited.append(wait)


def _deliver_one(
    job: Job,
    config: ChannelConfig | None,
    *,
    environ: Mapping[str, str],
    root: Path,
    deadline: float,
    max_attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> DeliveryResult:
    """Deliver one job (retried with backoff within the deadline); never raise for failures."""
    started = clock()
    result = DeliveryResult(job.id, job.receiver, "undelivered")
    channel, error = _open_channel(job, config, environ, root)
    if channel is None:
        result.error = error
        return result
    _send_with_retries(
        job,
        channel,
        result,
        deadline=deadline,
        max_attempts=max_attempts,
        backoff=backoff,
        sleep=sleep,
        clock=clock,
    )
    if result.status != "sent" and result.attempts == max_attempts and result.error:
        result.error = f"{result.error} (after {max_attempts} attempts)"
    result.seconds = clock() - started
    return result


def deliver(
    jobs: Sequence[Job],
    channels: Mapping[str, ChannelConfig],
    *,
    environ: Mapping[str, str],
    root: Path,
    timeout: float,
    max_attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[DeliveryResult]:
    """Deliver ``jobs`` within ``timeout`` seconds; one result per job, in order."""
    if not jobs:
        return []
    deadline = clock() + timeout
    # Every configured secret, not only the job's own: a receiver may echo anything it got.
    secrets = configured_secrets(channels.values(), environ)

    def run(job: Job) -> DeliveryResult:
        result = attempt(job)
        result.error = None if result.error is None else scrub(result.error, secrets)
        result.log = [scrub(line, secrets) for line in result.log]
        return result

    def attempt(job: Job) -> DeliveryResult:
        try:
            return _deliver_one(
                job,
                channels.get(job.receiver),
                environ=environ,
                root=root,
                deadline=deadline,
                max_attempts=max_attempts,
                backoff=backoff,
                sleep=sleep,
                clock=clock,
            )
        except Exception as exc:  # a channel bug must not fail the run: record it
            return DeliveryResult(
                job.id,
                job.receiver,
                "undelivered",
                error=scrub(f"internal error: {type(exc).__name__}: {exc}", secrets),
            )

    if len(jobs) == 1:
        return [run(jobs[0])]
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(PARALLEL, len(jobs)), thread_name_prefix="fwmon-alerts"
    )
    try:
        futures = [pool.submit(run, job) for job in jobs]
        concurrent.futures.wait(futures, timeout=max(0.0, deadline - clock()) + GRACE)
        results = []
        for job, future in zip(jobs, futures, strict=True):
            if future.done():
                results.append(future.result())
            else:
                future.cancel()
                results.append(
                    DeliveryResult(
                        job.id,
                        job.receiver,
                        "undelivered",
                        error="still sending when the delivery timeout was reached",
                    )
                )
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["GRACE", "PARALLEL", "DeliveryResult", "Job", "deliver"]
