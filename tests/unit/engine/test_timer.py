"""The APScheduler timer: two fixed jobs, UTC, late wakes still run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from scheduler.engine.timer import REVISION_JOB, WAKE_JOB, WakeTimer


async def test_one_wake_job_replaced_and_a_past_instant_fires_at_once() -> None:
    fired = asyncio.Event()

    async def on_wake() -> None:
        fired.set()

    async def on_revision() -> None:
        return None

    timer = WakeTimer(on_wake, on_revision, timedelta(hours=1))
    timer.start()
    try:
        for hours in range(1, 100):
            timer.wake_at(datetime.now(UTC) + timedelta(hours=hours))
        assert timer.job_ids() == sorted([REVISION_JOB, WAKE_JOB])
        timer.wake_at(datetime.now(UTC) - timedelta(minutes=5))  # late: runs, not skipped
        await asyncio.wait_for(fired.wait(), 5)
    finally:
        timer.shutdown()


def test_scheduler_defaults_avoid_the_known_traps() -> None:
    async def nothing() -> None:
        return None

    timer = WakeTimer(nothing, nothing)
    scheduler = timer._scheduler
    assert str(scheduler.timezone) == "UTC"
    defaults = scheduler._job_defaults
    assert defaults["misfire_grace_time"] is None
    assert defaults["coalesce"] is True
