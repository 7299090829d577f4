"""A change applied while the database said pending, refused by the DR service.

``plan apply`` accepts a change while the stored status is ``pending``; if the
daemon only gets to it once the request is ``standby`` at the DR service
(it was down, or slow), the DELETE is refused and the first revision runs.
That outcome is right, but it must be in the event's timeline: before, the
last word there was "the daemon deletes the request and re-submits".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.domain.lifecycle import Source, Status
from tests.support.fakes.engine import plan_event
from tests.support.harness.engine import world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


async def test_change_refused_by_the_dr_service_is_in_the_timeline(db_url: str) -> None:
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", T0 + timedelta(minutes=50)))
        await w.run_until(T0 + timedelta(minutes=1))
        assert w.status("ev") == Status.PENDING
        w.apply(plan_event("ev", T0 + timedelta(minutes=55)))  # accepted: pending here
        w.clock.set(T0 + timedelta(minutes=46))  # the daemon was down; standby there
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(T0 + timedelta(minutes=47))
        assert w.status("ev") == Status.STANDBY
        assert await w.calls("DELETE", "ev") == 1
        assert await w.calls("POST", "ev-r2") == 0
        notes = [t for t in w.timeline("ev") if "not applied" in t.detail]
        assert len(notes) == 1, [t.detail for t in w.timeline("ev")]
        assert notes[0].source == Source.API
        assert "revision 2" in notes[0].detail
        assert "runs revision 1" in notes[0].detail
        await w.run_until(T0 + timedelta(hours=2))
        assert w.status("ev") == Status.COMPLETED
        assert len([t for t in w.timeline("ev") if "not applied" in t.detail]) == 1


async def test_hvac_follows_the_revision_the_dr_service_runs(db_url: str) -> None:
    """Issue 10: after a refused change, control follows revision 1 (what runs), not 2."""
    first = plan_event("ev", T0 + timedelta(minutes=50))
    async with world(db_url, T0) as w:
        w.apply(first)
        await w.run_until(T0 + timedelta(minutes=1))
        w.apply(plan_event("ev", T0 + timedelta(minutes=70), minutes=60))  # accepted: pending
        w.clock.set(T0 + timedelta(minutes=46))  # the daemon was down; standby there
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(T0 + timedelta(hours=3))
        assert w.status("ev") == Status.COMPLETED
        given = {call: (event, now) for call, event, now in w.hvac.given}
        assert set(given) == {"prepare", "start", "stop"}
        for call in ("prepare", "start", "stop"):
            assert (given[call][0].start, given[call][0].end) == (first.start, first.end), call
        assert first.start - timedelta(minutes=2) <= given["prepare"][1] < first.start
        assert first.start <= given["start"][1] < first.start + timedelta(minutes=1)
        assert first.end <= given["stop"][1] < first.end + timedelta(minutes=1)
