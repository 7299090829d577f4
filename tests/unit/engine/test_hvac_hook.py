"""HVAC control's own wake-ups: ``due`` enters the next wake time, ``tick`` runs when due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from structlog.testing import capture_logs

from scheduler.clock import FakeClock
from scheduler.engine.decide import Policy, decide
from scheduler.engine.hvac import NoHvac
from scheduler.engine.runner import Engine
from tests.support.fakes.engine import T0, FakeDr, FakeStore, RecordingHvac

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
POLICY = Policy(submit_lead=timedelta(hours=1))


def test_no_hvac_due_changes_nothing() -> None:
    plain = decide([], {}, NOW, POLICY)
    assert decide([], {}, NOW, POLICY, hvac_due=None) == plain
    assert not plain.hvac_tick


def test_a_later_hvac_due_is_the_next_wake() -> None:
    decision = decide([], {}, NOW, POLICY, hvac_due=NOW + timedelta(seconds=30))
    assert decision.next_wake == NOW + timedelta(seconds=30)
    assert not decision.hvac_tick


def test_an_hvac_due_now_or_past_asks_for_a_tick() -> None:
    for due in (NOW, NOW - timedelta(minutes=5)):
        decision = decide([], {}, NOW, POLICY, hvac_due=due)
        assert decision.hvac_tick
        assert decision.next_wake >= NOW


def test_an_hvac_due_beyond_the_horizon_is_capped() -> None:
    decision = decide([], {}, NOW, POLICY, hvac_due=NOW + timedelta(days=3))
    assert decision.next_wake == NOW + POLICY.horizon


async def test_no_hvac_has_nothing_due() -> None:
    hvac = NoHvac()
    assert await hvac.due(NOW) is None
    await hvac.tick(NOW)


def _engine(hvac: RecordingHvac, clock: FakeClock) -> Engine:
    return Engine(FakeStore(), FakeDr(clock), clock, POLICY, hvac=hvac)


async def test_engine_wakes_for_hvac_and_ticks_it_then() -> None:
    clock = FakeClock(T0)
    hvac = RecordingHvac(wake_ups=[T0 + timedelta(seconds=10), T0 + timedelta(seconds=25)])
    engine = _engine(hvac, clock)
    decision = await engine.tick()
    assert decision.next_wake == T0 + timedelta(seconds=10)
    assert hvac.ticks == []
    clock.set(decision.next_wake)
    decision = await engine.tick()
    assert hvac.ticks == [T0 + timedelta(seconds=10)]
    assert decision.next_wake == T0 + timedelta(seconds=25), "the due after the tick counts"


async def test_hvac_failures_are_logged_not_fatal() -> None:
    class Broken(RecordingHvac):
        async def due(self, now: datetime) -> datetime | None:
            raise RuntimeError("database gone")

    clock = FakeClock(T0)
    engine = _engine(Broken(), clock)
    with capture_logs() as logs:
        decision = await engine.tick()
    assert any(e["event"] == "hvac.due_failed" for e in logs)
    assert decision.next_wake <= T0 + POLICY.retry_delay


async def test_a_failing_tick_is_logged_and_the_engine_goes_on() -> None:
    class Failing(RecordingHvac):
        async def tick(self, now: datetime) -> None:
            raise RuntimeError("becon down")

    clock = FakeClock(T0)
    engine = _engine(Failing(wake_ups=[T0]), clock)
    with capture_logs() as logs:
        await engine.tick()
    assert any(e["event"] == "hvac.tick_failed" for e in logs)


async def test_a_failing_tick_is_tried_again_after_a_pause_not_in_a_loop() -> None:
    """Issue 10 bug 5: a failed write leaves the work due; the engine must not spin on it."""

    class Failing(RecordingHvac):
        async def tick(self, now: datetime) -> None:
            self.ticks.append(now)
            raise RuntimeError("database is locked")

    clock = FakeClock(T0)
    hvac = Failing(wake_ups=[T0])
    engine = _engine(hvac, clock)
    decision = await engine.tick()
    assert decision.next_wake == T0 + POLICY.retry_delay
    clock.set(T0 + timedelta(seconds=1))
    await engine.tick()
    assert hvac.ticks == [T0], "not again before the pause"
    clock.set(decision.next_wake)
    await engine.tick()
    assert hvac.ticks == [T0, decision.next_wake]
