"""Nothing goes out for a canceled event or after the window: real store, DR simulator, fake clock.

Issue 10 bugs 3 and 6 and issue 16 finding 4, end to end through the engine,
the SQL store (SQLite and PostgreSQL) and the simulator's DR service.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.domain.lifecycle import Source, Status
from tests.support.fakes.engine import plan_event
from tests.support.harness.engine import world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
START = T0 + timedelta(minutes=50)
END = START + timedelta(minutes=30)


async def test_cancel_recorded_while_down_and_refused_starts_no_hvac(db_url: str) -> None:
    """Bug 3: pending here, active there; the DELETE is refused; HVAC must not start."""
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", START))
        await w.run_until(T0 + timedelta(minutes=1))
        assert w.status("ev") == Status.PENDING
        w.store.request_cancel("ev", w.clock.now())  # `events cancel` while the daemon is down
        w.clock.set(START + timedelta(minutes=2))
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(START + timedelta(minutes=3))
        assert await w.calls("DELETE", "ev") == 1
        assert ("start", "ev") not in w.hvac.calls
        assert w.status("ev") == Status.CANCELED
        assert w.timeline("ev")[-1].source == Source.ADMIN


async def test_cancel_while_submitting_never_posts(db_url: str) -> None:
    """Bug 6: the POST never landed (404 at reconcile) and a cancel is recorded: no POST."""
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", START))
        w.transport.mode = "post-never-lands"
        await w.engine.tick()
        assert w.status("ev") == Status.SUBMITTING
        w.transport.mode = "ok"
        w.store.request_cancel("ev", w.clock.now())
        w.new_engine()
        await w.engine.start_up()
        await w.run_until(T0 + timedelta(minutes=5))
        assert await w.calls("POST", "ev") == 0
        assert w.status("ev") == Status.CANCELED
        assert "never reached the DR service" in w.timeline("ev")[-1].detail
        assert w.store.open_intents() == []


async def test_request_gone_at_the_dr_service_ends_failed_after_the_window(db_url: str) -> None:
    """Issue 16 finding 4: 404 on poll mid-window; after it: failed, reason in the timeline."""
    async with world(db_url, T0) as w:
        w.apply(plan_event("ev", START))
        await w.run_until(START + timedelta(minutes=5))
        assert w.status("ev") == Status.ACTIVE
        (await w.sim.post("/_sim/dr/reset")).raise_for_status()  # the service lost it
        await w.run_until(END - timedelta(seconds=1))
        assert w.status("ev") == Status.ACTIVE
        await w.run_until(END + timedelta(minutes=2))
        assert w.status("ev") == Status.FAILED
        last = w.timeline("ev")[-1]
        assert "no longer at the DR service (404 on poll)" in last.detail
        assert any(c == "stop" for c, _ in w.hvac.calls)
