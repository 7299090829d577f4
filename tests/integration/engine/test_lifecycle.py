"""The engine against the real store (SQLite and PostgreSQL) and the DR simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler import metrics
from scheduler.domain.lifecycle import Source, Status
from scheduler.engine.decide import MISSED_DETAIL
from tests.support.fakes.engine import plan_event
from tests.support.harness.engine import world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


async def test_full_lifecycle(db_url: str) -> None:
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", T0 + timedelta(hours=2)))
        await w.run_until(T0 + timedelta(hours=3))
        path = [t.to_status for t in w.timeline("ev")]
        assert path[-5:] == [
            Status.SUBMITTING,
            Status.PENDING,
            Status.STANDBY,
            Status.ACTIVE,
            Status.COMPLETED,
        ]
        assert await w.calls("POST", "ev") == 1
        assert [c for c, _ in w.hvac.calls] == ["prepare", "start", "stop"]


async def test_transitions_and_lateness_are_published(db_url: str) -> None:
    with metrics.isolated_metrics() as m:
        async with world(db_url, T0) as w:
            w.apply(plan_event("ev", T0 + timedelta(hours=2)))
            await w.run_until(T0 + timedelta(hours=3))
        value = m.registry.get_sample_value
        for before, after, source in [
            ("planned", "submitting", "clock"),
            ("submitting", "pending", "api"),
            ("active", "completed", "api"),
        ]:
            labels = {"from": before, "to": after, "source": source}
            assert value("drsched_transitions_total", labels) == 1, labels
        assert (value("drsched_scheduler_lateness_seconds_count") or 0) >= 3
        assert value("drsched_scheduler_lateness_seconds_sum") == 0  # a fake clock is never late


@pytest.mark.parametrize(
    ("minutes", "delete"),
    [(0, False), (61, True), (117, False), (125, False)],
    ids=["planned", "pending", "standby", "active"],
)
async def test_cancel_in_each_state(db_url: str, minutes: int, delete: bool) -> None:
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", T0 + timedelta(hours=2)))
        await w.run_until(T0 + timedelta(minutes=minutes))
        w.store.request_cancel("ev", w.clock.now())  # what `events cancel` records
        await w.run_until(w.clock.now() + timedelta(seconds=10))
        assert w.status("ev") == Status.CANCELED
        assert (await w.calls("DELETE", "ev") == 1) == delete
        assert w.timeline("ev")[-1].source == Source.ADMIN


async def test_remote_cancel(db_url: str) -> None:
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", T0 + timedelta(minutes=10)))
        await w.run_until(T0 + timedelta(minutes=12))
        assert w.status("ev") == Status.ACTIVE
        (await w.sim.post("/_sim/dr/requests/ev/cancel")).raise_for_status()
        await w.run_until(T0 + timedelta(minutes=13))
        assert w.status("ev") == Status.CANCELED
        assert w.timeline("ev")[-1].source == Source.API
        assert ("stop", "ev: canceled by the DR service") in w.hvac.calls


async def test_change_while_pending_resubmits_as_r2(db_url: str) -> None:
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", T0 + timedelta(minutes=50)))
        await w.run_until(T0 + timedelta(minutes=1))
        assert w.status("ev") == Status.PENDING
        w.apply(plan_event("ev", T0 + timedelta(minutes=55)))
        await w.run_until(T0 + timedelta(hours=2))
        assert w.status("ev") == Status.COMPLETED
        assert await w.calls("DELETE", "ev") == 1
        assert await w.calls("POST", "ev-r2") == 1
        assert any("re-submitting as ev-r2" in t.detail for t in w.timeline("ev"))


@pytest.mark.parametrize("mode", ["post-never-lands", "post-response-lost"])
async def test_restart_after_a_crash_around_the_post_posts_once(db_url: str, mode: str) -> None:
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", T0 + timedelta(minutes=10)))
        w.transport.mode = mode
        await w.engine.tick()
        assert w.status("ev") == Status.SUBMITTING
        w.transport.mode = "ok"
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(T0 + timedelta(minutes=45))
        assert w.status("ev") == Status.COMPLETED
        assert await w.calls("POST", "ev") == 1


@pytest.mark.parametrize(
    ("down_until", "expected"),
    [(timedelta(minutes=95), Status.ACTIVE), (timedelta(hours=3), Status.FAILED)],
    ids=["inside-window", "after-window"],
)
async def test_missed_windows(db_url: str, down_until: timedelta, expected: Status) -> None:
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", T0 + timedelta(minutes=90)))
        w.clock.set(T0 + down_until)
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(T0 + down_until + timedelta(seconds=1))
        assert w.status("ev") == expected
        if expected == Status.FAILED:
            assert w.timeline("ev")[-1].detail == MISSED_DETAIL
            assert await w.calls("POST", "ev") == 0
