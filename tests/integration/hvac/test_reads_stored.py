"""Every HVAC read during an event is stored as evidence (``hvac_reads``), on SQLite and
PostgreSQL: the prefetch baseline and each verification, with what the facility said."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.domain.control_records import ControlState
from scheduler.domain.hvac_reads import ReadPhase
from scheduler.store.reads import HvacReadRow, ReadStore, reads_for
from tests.support.harness.hvac import GATEWAYS, SITES, UNITS, config, peak, world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
START = T0 + timedelta(minutes=10)
END = START + timedelta(minutes=30)


async def test_prefetch_and_every_verification_read_are_stored(db_url: str) -> None:
    async with world(db_url, T0, config("respect")) as w:
        w.apply(peak("ev", START, minutes=30))
        await w.run_until(START + timedelta(seconds=1))
        applied = [r for r in w.records("ev") if r.state is ControlState.APPLIED]
        moved = next(r for r in applied if r.unit is not None)
        await w.occupant(moved.key, setTemp=moved.original)
        await w.run_until(END + timedelta(minutes=15))
        shown = await w.facilities()
        with Session(w.store.engine) as session:
            reads = reads_for(session, ["ev"])

    prefetch = [r for r in reads if r.phase is ReadPhase.PREFETCH]
    assert len(prefetch) == SITES * GATEWAYS * UNITS, "one baseline read per facility"
    assert all(r.ok and r.at == START - timedelta(seconds=60) for r in prefetch)
    base = {r.key: r for r in prefetch}
    assert all(base[r.key].set_temp == r.original for r in applied)

    verify = [r for r in reads if r.phase is ReadPhase.VERIFY]
    during = Counter(r.at for r in verify if r.at < END)
    # Every applied facility at +5, +10, ... +25 min (the moved one drops out once opted out).
    assert sorted(during) == [START + timedelta(minutes=m) for m in (5, 10, 15, 20, 25)]
    assert during[START + timedelta(minutes=5)] == len(applied)
    assert during[START + timedelta(minutes=10)] == len(applied) - 1
    first = {r.key: r for r in verify if r.at == START + timedelta(minutes=5)}
    assert first[moved.key].set_temp == moved.original, "the occupant's change, as read"
    assert all(first[r.key].set_temp == r.target for r in applied if r.key != moved.key)
    assert all(r.room_temp is not None and r.mode and r.power_on for r in first.values())
    # Restores are read too (after the end); the last read of each matches the simulator.
    last = {r.key: r for r in verify}
    restored = [r for r in applied if r.key != moved.key]
    assert all(last[r.key].at >= END for r in restored)
    assert all(last[r.key].room_temp == shown[r.key]["roomTemp"] for r in restored)


def test_reads_older_than_the_retention_are_purged(db_url: str) -> None:
    from scheduler.domain.hvac import FacilityKey
    from scheduler.domain.hvac_reads import HvacRead
    from scheduler.store import open_engine
    from scheduler.store.migrate import upgrade
    from scheduler.store.plan_apply import apply_plan

    upgrade(db_url)
    engine = open_engine(db_url)
    try:
        apply_plan(engine, [peak("ev", START)], T0)
        key = FacilityKey("S001", "GW-01", "IDU", "IDU-0001")
        store = ReadStore(engine, timedelta(days=30))
        old = HvacRead("ev", key, START, ReadPhase.VERIFY, ok=False)
        store.record_reads([old])
        store.record_reads(
            [HvacRead("ev", key, START + timedelta(days=31), ReadPhase.VERIFY, True)]
        )
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(HvacReadRow)) == 1
        keep = ReadStore(engine, timedelta(0))  # 0: kept forever
        keep.record_reads([old])
        keep.record_reads(
            [HvacRead("ev", key, START + timedelta(days=900), ReadPhase.VERIFY, True)]
        )
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(HvacReadRow)) == 3
    finally:
        engine.dispose()
