"""When the engine opens the vendors' connections: the soonest burst of calls, and the ticks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from structlog.testing import capture_logs

from scheduler.domain.intents import EventView
from scheduler.domain.lifecycle import Status
from scheduler.engine import ahead
from scheduler.engine.ahead import Burst, next_burst
from scheduler.engine.runner import Engine
from tests.support.fakes.engine import T0, plan_event
from tests.support.harness.engine_on_fakes import POLICY, World

LEAD = timedelta(hours=1)  # submit_lead
START = T0 + timedelta(hours=2)


def view(status: Status, start: datetime = START, **fields: object) -> EventView:
    return EventView("ev", status, start, start + timedelta(hours=1), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "burst"),
    [
        (view(Status.PLANNED), Burst(START - LEAD, window=False)),  # its submission
        (view(Status.PENDING), Burst(START, window=True)),
        (view(Status.STANDBY), Burst(START, window=True)),
        (view(Status.SUBMITTING), Burst(START, window=True)),
        # the window the DR service runs, not a later revision's
        (
            view(Status.STANDBY, running_start=START - timedelta(minutes=5)),
            Burst(START - timedelta(minutes=5), window=True),
        ),
        (view(Status.STANDBY, start=T0), None),  # its start has passed
        (view(Status.ACTIVE, start=T0), None),
        (view(Status.PLANNED, start=T0 + timedelta(minutes=30)), None),  # submission due already
        (view(Status.STANDBY, cancel_requested=True), None),
        (view(Status.CANCELED), None),
        (view(Status.COMPLETED), None),
        (view(Status.FAILED), None),
    ],
)
def test_the_burst_of_one_event(event: EventView, burst: Burst | None) -> None:
    assert next_burst([event], T0, LEAD) == burst


def test_the_soonest_burst_wins_and_at_one_instant_a_window_start() -> None:
    soon = [
        view(Status.STANDBY, start=T0 + timedelta(minutes=90)),
        view(Status.PLANNED, start=T0 + timedelta(hours=3)),  # submitted at T0 + 2 h
        view(Status.PENDING, start=T0 + timedelta(minutes=30)),
    ]
    assert next_burst(soon, T0, LEAD) == Burst(T0 + timedelta(minutes=30), window=True)
    same = [view(Status.PLANNED, start=START + LEAD), view(Status.STANDBY)]
    assert next_burst(same, T0, LEAD) == Burst(START, window=True)
    assert next_burst(list(reversed(same)), T0, LEAD) == Burst(START, window=True)
    assert next_burst([], T0, LEAD) is None


@dataclass
class RecordingPools:
    opened: list[tuple[datetime, bool, float]] = field(default_factory=list)
    world: World | None = None
    fail: bool = False

    async def open_ahead(self, *, window: bool, within: float) -> None:
        assert self.world is not None
        self.opened.append((self.world.clock.now(), window, within))
        if self.fail:
            raise OSError("no route to host")


def world_with_pools(pools: RecordingPools) -> World:
    w = World()
    pools.world = w
    w.engine = Engine(w.store, w.dr, w.clock, POLICY, hvac=w.hvac, max_concurrency=2, pools=pools)
    return w


async def test_the_pools_open_a_lead_before_each_submission_and_window_start() -> None:
    pools = RecordingPools()
    w = world_with_pools(pools)
    w.store.add(plan_event("ev", START))
    await w.run_until(START + timedelta(minutes=5))
    within = ahead.LEAD.total_seconds() / 2
    assert pools.opened == [
        (START - POLICY.submit_lead - ahead.LEAD, False, within),  # before its POST
        (START - ahead.LEAD, True, within),  # before its status poll and PUTs
    ]


async def test_a_pool_that_fails_to_open_delays_nothing() -> None:
    pools = RecordingPools(fail=True)
    w = world_with_pools(pools)
    w.store.add(plan_event("ev", START))
    with capture_logs() as logs:
        await w.run_until(START + timedelta(minutes=5))
    assert len(pools.opened) == 2
    assert [e["event"] for e in logs].count("engine.open_ahead_failed") == 2
    assert w.store.status("ev") == Status.ACTIVE


async def test_without_pools_the_engine_wakes_as_before() -> None:
    """The same ticks, the pools' opening aside (the deterministic simulation has none)."""
    wakes: list[list[datetime]] = []
    for pools in (None, RecordingPools()):
        w = World() if pools is None else world_with_pools(pools)
        w.store.add(plan_event("ev", START))
        seen: list[datetime] = []
        for _ in range(200):
            decision = await w.engine.tick()
            seen.append(w.clock.now())
            if w.clock.now() >= START + timedelta(minutes=2):
                break
            w.clock.set(max(decision.next_wake, w.clock.now()))
        wakes.append(seen)
    opening = {START - POLICY.submit_lead - ahead.LEAD, START - ahead.LEAD}
    assert [t for t in wakes[1] if t not in opening] == wakes[0]
