"""A change while pending, its first request deleted, and the daemon gone until the window ended.

The re-submission is two steps (DELETE the old request, POST the new
revision), each behind its own intent row. A daemon killed between them
leaves the event ``pending`` with a request id the DR service no longer has.
Restarted in time it re-submits (the DELETE answers 404, the revision is
sent); restarted after the window it must not send a revision whose window
is over, nor poll the deleted request forever: the event failed (its window
was missed), like any event the daemon could not submit in time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.domain.intents import Intent, IntentKind
from scheduler.domain.lifecycle import Status
from tests.support.fakes.engine import plan_event
from tests.support.harness.engine import World, world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
START = T0 + timedelta(minutes=50)


async def _changed_then_killed_after(w: World, step: str) -> None:
    """Pending, changed, then the daemon dies after ``step`` of the re-submission."""
    w.apply(plan_event("ev", START))
    await w.run_until(T0 + timedelta(minutes=1))
    assert w.status("ev") == Status.PENDING
    w.apply(plan_event("ev", START, minutes=35))  # revision 2: delete and re-submit
    delete = Intent("ev", IntentKind.DELETE, "ev", 1)
    w.store.begin_intent(delete, None, w.clock.now())  # what Resubmit records first
    await w.api.delete("ev")
    if step == "delete-ended":
        w.store.end_intent(delete, "deleted", None, w.clock.now())


async def test_killed_between_delete_and_post_restarted_in_time_re_submits(db_url: str) -> None:
    async with world(db_url, T0) as w:
        await _changed_then_killed_after(w, "delete-ended")
        w.clock.set(START + timedelta(minutes=1))  # window open: the revision still goes
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(START + timedelta(hours=2))
        assert w.status("ev") == Status.COMPLETED
        assert await w.calls("POST", "ev-r2") == 1


async def test_killed_between_delete_and_post_restarted_after_the_window_fails(
    db_url: str,
) -> None:
    async with world(db_url, T0) as w:
        await _changed_then_killed_after(w, "delete-ended")
        w.clock.set(START + timedelta(minutes=40))  # the changed window (35 min) is over
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(START + timedelta(hours=2))
        assert w.status("ev") == Status.FAILED
        assert await w.calls("POST", "ev-r2") == 0
        assert "its window is over" in w.timeline("ev")[-1].detail


async def test_killed_mid_delete_restarted_after_the_window_fails(db_url: str) -> None:
    async with world(db_url, T0) as w:
        await _changed_then_killed_after(w, "delete-sent")  # its intent is still open
        w.clock.set(START + timedelta(minutes=40))
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(START + timedelta(hours=2))
        assert w.status("ev") == Status.FAILED
        assert await w.calls("POST", "ev-r2") == 0
        assert w.store.open_intents() == []


async def test_changed_then_down_until_after_the_window_the_first_revision_ran(
    db_url: str,
) -> None:
    """Nothing deleted before the crash: the DR service ran revision 1, and says so."""
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", START))
        await w.run_until(T0 + timedelta(minutes=1))
        w.apply(plan_event("ev", START, minutes=35))
        w.clock.set(START + timedelta(minutes=40))
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(START + timedelta(hours=2))
        assert w.status("ev") == Status.COMPLETED
        assert await w.calls("POST", "ev-r2") == 0
        notes = [t.detail for t in w.timeline("ev") if "not applied" in t.detail]
        assert len(notes) == 1, w.timeline("ev")
        assert "runs revision 1" in notes[0]
