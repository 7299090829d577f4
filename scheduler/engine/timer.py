"""APScheduler as the daemon's timer, and nothing more (DESIGN rule 1, "Known traps").

Two jobs with fixed ids, whatever the size of the plan: ``wake`` at the next
instant the decision core says something is due (replaced after every tick,
never more than the horizon away), and ``plan-revision``, every few seconds,
which notices plan applies and cancel requests made from a shell. Both are
coroutines that only post a message to the daemon's loop; all state lives in
the database. In-memory job store, UTC, no misfire grace (a late wake still
runs), coalesced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

WAKE_JOB = "wake"
REVISION_JOB = "plan-revision"


class WakeTimer:
    def __init__(
        self,
        on_wake: Callable[[], Awaitable[None]],
        on_revision_check: Callable[[], Awaitable[None]],
        revision_interval: timedelta = timedelta(seconds=2),
    ) -> None:
        self._on_wake = on_wake
        self._on_revision_check = on_revision_check
        self._revision_interval = revision_interval
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    def start(self) -> None:
        """Start in the running event loop, with the revision check already scheduled."""
        self._scheduler.add_job(
            self._on_revision_check,
            IntervalTrigger(seconds=self._revision_interval.total_seconds(), timezone=UTC),
            id=REVISION_JOB,
            replace_existing=True,
        )
        self._scheduler.start()

    def wake_at(self, instant: datetime) -> None:
        """(Re)place the one wake job; an instant in the past fires at once."""
        self._scheduler.add_job(
            self._on_wake,
            DateTrigger(run_date=instant.astimezone(UTC), timezone=UTC),
            id=WAKE_JOB,
            replace_existing=True,
        )

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
