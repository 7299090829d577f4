"""A fresh database never takes over an event already active at the DR service
(issue 16, finding 3): the facilities may sit at their DR setpoints, and reading
them now would store those as their "originals"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.domain.lifecycle import Status
from scheduler.engine.runner import Engine
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.fakes.engine import RecordingHvac, plan_event
from tests.support.harness.engine import POLICY, world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


async def test_an_active_event_found_by_a_fresh_database_gets_no_hvac_control(
    tmp_path: Path,
) -> None:
    event = plan_event("ev", T0 + timedelta(hours=2))
    async with world(f"sqlite:///{tmp_path / 'lost.db'}", T0) as w:
        w.apply(event)
        await w.run_until(T0 + timedelta(hours=2, minutes=10))
        assert w.status("ev") == Status.ACTIVE
        assert ("start", "ev") in w.hvac.calls

        fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"  # the old one was deleted
        upgrade(fresh_url)
        sql = open_engine(fresh_url)
        try:
            store, hvac = DaemonStore(sql), RecordingHvac()
            w.store, w.hvac = store, hvac
            w.engine = Engine(store, w.api, w.clock, POLICY, hvac=hvac)
            w.apply(event)
            await w.run_until(T0 + timedelta(hours=3, minutes=10))
            assert w.status("ev") == Status.FAILED
            assert "holds no record of submitting it" in w.timeline("ev")[-1].detail
            assert ("start", "ev") not in hvac.calls
        finally:
            sql.dispose()
