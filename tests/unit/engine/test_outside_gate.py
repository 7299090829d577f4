"""Nothing reaches the outside world for an event whose cancel is recorded or whose window is over.

Regression tests for issue 10 bugs 2, 3 and 6 and issue 16 finding 4, on the
engine over the in-memory fakes: every POST, DELETE and HVAC start asks one
pure rule (``scheduler.domain.outside.may_touch_outside``).
"""

from __future__ import annotations

from datetime import timedelta

from scheduler.domain.lifecycle import Source, Status
from tests.support.fakes.engine import T0, plan_event
from tests.support.harness.engine_on_fakes import World

START = T0 + timedelta(minutes=30)
END = START + timedelta(minutes=30)


async def _pending(w: World) -> None:
    w.store.add(plan_event("ev", START))
    await w.run_until(T0 + timedelta(minutes=1))
    assert w.store.status("ev") == Status.PENDING


async def test_dr_service_still_active_after_the_end_starts_no_hvac() -> None:
    """Bug 2: daemon down through the window; the DR service says active 30 s after endTs."""
    w = World()
    await _pending(w)
    w.clock.set(END + timedelta(seconds=30))
    w.dr.reported["ev"] = Status.ACTIVE
    w.engine = w.new_engine()
    await w.engine.start_up()
    await w.run_until(END + timedelta(seconds=40))
    assert w.store.status("ev") == Status.ACTIVE  # what the DR service says, recorded
    assert ("start", "ev") not in w.hvac.calls


async def test_cancel_refused_while_pending_never_starts_hvac() -> None:
    """Bug 3: a cancel recorded while pending, DELETE refused (already active there)."""
    w = World()
    await _pending(w)
    w.store.cancel("ev")  # recorded while the daemon is down
    w.clock.set(START + timedelta(minutes=1))
    w.engine = w.new_engine()
    await w.engine.start_up()
    await w.run_until(START + timedelta(minutes=2))
    assert w.dr.calls.count(("DELETE", "ev")) == 1
    assert ("start", "ev") not in w.hvac.calls
    assert w.store.status("ev") == Status.CANCELED
    assert w.store.transitions[-1].source == Source.ADMIN


async def test_cancel_while_submitting_does_not_post_after_a_404() -> None:
    """Bug 6: the POST never landed; a cancel is recorded; reconcile must not POST."""
    w = World()
    w.store.add(plan_event("ev", START))
    w.dr.fail_next_create = True
    await w.engine.tick()
    assert w.store.status("ev") == Status.SUBMITTING
    w.store.cancel("ev")
    w.engine = w.new_engine()
    await w.engine.start_up()
    await w.run_until(T0 + timedelta(minutes=5))
    assert w.dr.posts("ev") == 0
    assert w.store.status("ev") == Status.CANCELED
    assert not w.store.open_intents()
    assert "request ev never reached the DR service" in w.store.details("ev")[-1]


async def test_request_gone_at_the_dr_service_fails_after_the_window() -> None:
    """Issue 16 finding 4: 404 on poll while active; after the window: failed, HVAC stopped."""
    w = World()
    await _pending(w)
    await w.run_until(START + timedelta(minutes=5))
    assert w.store.status("ev") == Status.ACTIVE
    w.dr.deleted.add("ev")  # the DR service lost it
    await w.run_until(START + timedelta(minutes=10))
    assert w.store.status("ev") == Status.ACTIVE  # inside the window: keep asking
    await w.run_until(END + timedelta(minutes=2))
    assert w.store.status("ev") == Status.FAILED
    last = w.store.transitions[-1]
    assert "no longer at the DR service" in last.detail
    assert "404" in last.detail
    assert any(c == "stop" for c, _ in w.hvac.calls)
