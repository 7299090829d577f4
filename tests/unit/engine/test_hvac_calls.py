"""The engine's HVAC calls read the content the DR service runs once per revision and request."""

from __future__ import annotations

from datetime import timedelta

from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import Status
from tests.support.fakes.engine import T0, FakeStore, plan_event
from tests.support.harness.engine_on_fakes import World


class CountingStore(FakeStore):
    """Counts the reads of the running content."""

    reads: int = 0

    def running_event(self, event_id: str) -> PlanEvent:
        self.reads += 1
        return super().running_event(event_id)


def _world() -> World:
    w = World()
    w.store = CountingStore()
    w.engine = w.new_engine()
    return w


async def test_prepare_start_and_stop_share_one_read() -> None:
    """At a system-wide start, each of 200 reads put a round of the store before a PUT."""
    w = _world()
    event = plan_event("ev", T0 + timedelta(minutes=30))
    w.store.add(event)
    await w.engine.tick()  # submitted (its POST reads the content too)
    assert isinstance(w.store, CountingStore)
    submitted = w.store.reads
    await w.run_until(T0 + timedelta(hours=1))
    assert w.store.status("ev") == Status.COMPLETED
    assert [call for call, _, _ in w.hvac.given] == ["prepare", "start", "stop"]
    assert all(given == event for _, given, _ in w.hvac.given)
    assert w.store.reads == submitted + 1


async def test_a_resubmitted_revision_is_read_again() -> None:
    """Changed while pending after its prepare: re-submitted, then prepared and started anew."""
    w = _world()
    w.dr.standby_lead = timedelta(seconds=30)  # still pending at the prepare (60 s before)
    first = plan_event("ev", T0 + timedelta(minutes=30))
    w.store.add(first)
    await w.run_until(T0 + timedelta(minutes=29, seconds=10))
    assert [call for call, _, _ in w.hvac.given] == ["prepare"]
    changed = plan_event("ev", T0 + timedelta(minutes=30), minutes=40)
    w.store.change(changed)
    await w.run_until(T0 + timedelta(minutes=31))
    assert ("POST", "ev-r2") in w.dr.calls
    given = [(call, event) for call, event, _ in w.hvac.given]
    assert given == [("prepare", first), ("prepare", changed), ("start", changed)]
