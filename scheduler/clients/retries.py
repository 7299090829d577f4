"""Bounded retries through stamina, for ``RetryableApiError`` only.

Exponential backoff with jitter, bounded in attempts and in total time; a
``Retry-After`` (``RetryableApiError.retry_after``) is slept instead of the
backoff, capped. Tests use ``stamina.set_testing`` or call
:meth:`RetryPolicy.backoff` directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

import stamina
import structlog
from stamina.instrumentation import RetryDetails

from scheduler.errors import RetryableApiError

T = TypeVar("T")

log = structlog.get_logger("scheduler.clients.http")


class RetrySettings(Protocol):
    """What a config section (``dr_api``, ``becon``) says about retries."""

    @property
    def retry_attempts(self) -> int: ...

    @property
    def retry_total(self) -> timedelta: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call (bounded in attempts and in total time)."""

    attempts: int = 5
    total: timedelta = timedelta(seconds=60)
    wait_initial: timedelta = timedelta(seconds=0.2)
    wait_max: timedelta = timedelta(seconds=10)
    wait_jitter: timedelta = timedelta(seconds=0.5)
    #: The longest ``Retry-After`` honoured between two attempts.
    retry_after_cap: timedelta = timedelta(seconds=30)

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        """The config's ``retry_attempts`` and ``retry_total``; no wait outlasts the total."""
        total = settings.retry_total
        return cls(
            attempts=settings.retry_attempts,
            total=total,
            retry_after_cap=min(cls.retry_after_cap, total),
        )

    def backoff(self, exc: Exception) -> bool | float:
        """stamina's hook: False stops; True uses its backoff; a number is the wait (s)."""
        if not isinstance(exc, RetryableApiError):
            return False
        if exc.retry_after is None:
            return True
        return min(max(exc.retry_after, 0.0), self.retry_after_cap.total_seconds())


#: One attempt, no retry (reconciliation, tests).
NO_RETRY = RetryPolicy(attempts=1)


def _log_retry(details: RetryDetails) -> None:
    log.debug(
        "http.retry_scheduled",
        retry_num=details.retry_num,
        wait_s=round(details.wait_for, 3),
        error=str(details.caused_by),
    )


# stamina's default hook warns on every retry; the warning we want is
# ``http.failing``, once per run of failures (STYLE 10), so retries log at debug.
stamina.instrumentation.set_on_retry_hooks([_log_retry])


async def retrying(policy: RetryPolicy, attempt: Callable[[], Awaitable[T]]) -> T:
    """Await ``attempt()`` until it succeeds or ``policy`` gives up (the last error is raised)."""
    async for trial in stamina.retry_context(
        on=policy.backoff,
        attempts=policy.attempts,
        timeout=policy.total,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    ):
        with trial:
            return await attempt()
    raise AssertionError("stamina re-raises the last error")  # pragma: no cover
