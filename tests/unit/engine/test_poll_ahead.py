"""A start's poll leaves half a round trip before the start, once (issue 14).

The DR service reads the status when a GET reaches it: a poll that leaves at
the start sees ``active`` only half a round trip later, and the first PUT
waits a whole round trip after the start.
"""

from __future__ import annotations

from datetime import timedelta

from scheduler.domain.lifecycle import Status
from scheduler.engine.round_trips import RoundTrips
from tests.support.fakes.engine import T0, plan_event
from tests.support.harness.engine_on_fakes import World

START = T0 + timedelta(minutes=30)
WAY = timedelta(milliseconds=40)


async def _run_to_the_start(w: World) -> tuple[int, int]:
    """GETs before the start's fast zone, and GETs from there to one second after the start."""
    w.store.add(plan_event("ev", START))
    await w.run_until(START - timedelta(seconds=3))
    before = w.dr.calls.count(("GET", "ev"))
    await w.run_until(START + timedelta(seconds=1))
    return before, w.dr.calls.count(("GET", "ev")) - before


def _active_at(w: World) -> timedelta:
    active = next(t for t in w.store.transitions if t.to_status is Status.ACTIVE)
    return active.at - START


async def test_the_start_s_poll_reaches_the_dr_service_at_the_start() -> None:
    w = World()
    w.dr.way = WAY
    _, near = await _run_to_the_start(w)
    assert _active_at(w) == WAY  # left WAY before the start, read at it, back WAY after
    assert near == 1
    assert w.hvac.calls[-1] == ("start", "ev")


async def test_without_a_round_trip_measured_the_poll_leaves_at_the_start() -> None:
    w = World()  # the fake answers at once: no trip, no lead
    _, near = await _run_to_the_start(w)
    assert _active_at(w) == timedelta(0)
    assert near == 1


async def test_a_poll_that_arrives_too_early_is_followed_by_one_at_the_start() -> None:
    """Trips shorter at the start than measured: one GET more, the start seen as before."""
    w = World()
    w.dr.way = WAY
    w.store.add(plan_event("ev", START))
    await w.run_until(START - timedelta(seconds=3))
    w.dr.way = WAY / 4  # the early GET reads ``standby`` before the start
    before = w.dr.calls.count(("GET", "ev"))
    await w.run_until(START + timedelta(seconds=1))
    assert w.dr.calls.count(("GET", "ev")) - before == 2
    assert _active_at(w) == WAY / 4  # the start's own poll, at the start


def test_the_lead_is_half_the_shortest_recent_trip_within_its_bound() -> None:
    trips = RoundTrips(kept=3)
    assert trips.one_way() == timedelta(0)
    for ms in (90, 60, 200):
        trips.observe(timedelta(milliseconds=ms))
    assert trips.one_way() == timedelta(milliseconds=30)
    trips.observe(timedelta(milliseconds=120))  # 90 ages out, 60 stays
    assert trips.one_way() == timedelta(milliseconds=30)
    for _ in range(3):
        trips.observe(timedelta(seconds=5))  # a slow service: the lead is bounded
    assert trips.one_way() == timedelta(milliseconds=500)
    trips.observe(timedelta(seconds=-1))  # a wall clock stepped back: no lead
    assert trips.one_way() == timedelta(0)
