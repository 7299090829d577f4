"""HVAC control end to end: the engine, the store, the real clients and the simulator.

2 sites x 3 gateways x 20 units (the simulator's inventory: every kind of
facility, °C and °F gateways), one VEN mapped to all six gateways.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.config_values import settings_from
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.domain.shaping import Ramp, Shaping, facility_start
from tests.support.harness.hvac import GATEWAYS, SITES, UNITS, World, config, peak, world

S = ControlState
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
START = T0 + timedelta(minutes=10)
END = START + timedelta(hours=1)
STAGGER = timedelta(minutes=10)


def by_state(records: list[ControlRecord]) -> Counter[ControlState]:
    return Counter(r.state for r in records)


async def _started(w: World) -> list[ControlRecord]:
    w.apply(peak("ev", START))
    await w.run_until(START + timedelta(seconds=1))
    assert w.status("ev") == Status.ACTIVE
    return w.records("ev")


async def test_all_changed_at_start_verified_and_restored_at_the_end(db_url: str) -> None:
    async with world(db_url, T0) as w:
        records = await _started(w)
        assert len(records) == SITES * GATEWAYS * UNITS
        applied = [r for r in records if r.state is S.APPLIED]
        assert len(applied) > SITES * GATEWAYS * 5
        assert set(by_state(records)) == {S.APPLIED, S.SKIPPED}
        skipped = {r.reason.split(" ")[0] for r in records if r.state is S.SKIPPED}
        assert {"powered", "mode", "type", "auto"} <= skipped
        shown = await w.facilities()
        assert all(shown[r.key]["setTemp"] == r.target for r in applied)

        assert w.transport is not None
        prefetch = [p for at, p in w.transport.state_reads() if at < START]
        assert len(prefetch) == SITES * GATEWAYS, "one gateway-wide state call per gateway"
        puts = await w.controls()
        groups = {(r.key.site, r.key.gateway, r.key.facility_type) for r in applied}
        assert len(puts) == len(groups), "one PUT per gateway and type"
        assert all(p["time"] == START.isoformat() for p in puts)
        assert all(len(p["controls"]) <= 100 for p in puts)

        await w.run_until(START + timedelta(minutes=11))
        verifies = [at for at, _ in w.transport.state_reads() if at > START]
        assert sorted(set(verifies)) == [
            START + timedelta(minutes=5),
            START + timedelta(minutes=10),
        ]
        assert len(await w.controls()) == len(groups), "nothing to re-apply"

        await w.run_until(END + STAGGER)
        assert w.status("ev") == Status.COMPLETED
        after = {r.key: r for r in w.records("ev")}
        assert set(by_state(list(after.values()))) == {S.RESTORED, S.SKIPPED}
        shown = await w.facilities()
        assert all(shown[r.key]["setTemp"] == r.original for r in applied)
        restores = (await w.controls())[len(groups) :]
        times = {datetime.fromisoformat(p["time"]) for p in restores}
        assert min(times) == END
        assert max(times) == END + STAGGER
        assert len(times) > 5, "spread over the stagger"


async def test_occupant_override_respected(db_url: str) -> None:
    async with world(db_url, T0, config("respect")) as w:
        records = await _started(w)
        moved = next(r for r in records if r.state is S.APPLIED and r.unit is not None)
        await w.occupant(moved.key, setTemp=moved.original)  # back to where it was
        await w.run_until(END + STAGGER)
        record = next(r for r in w.records("ev") if r.key == moved.key)
        assert record.state is S.OPTED_OUT
        assert "hvac.override: respect" in record.detail
        assert (await w.sent())[(moved.key, moved.original)] == 0, "never restored by us"


async def test_occupant_override_reasserted(db_url: str) -> None:
    async with world(db_url, T0, config("reassert")) as w:
        records = await _started(w)
        moved = next(r for r in records if r.state is S.APPLIED and r.unit is not None)
        await w.occupant(moved.key, setTemp=moved.original)
        await w.run_until(START + timedelta(minutes=6))
        assert (await w.facilities())[moved.key]["setTemp"] == moved.target
        assert (await w.sent())[(moved.key, moved.target)] == 2
        await w.run_until(END + STAGGER)
        assert (await w.facilities())[moved.key]["setTemp"] == moved.original
        record = next(r for r in w.records("ev") if r.key == moved.key)
        assert record.state is S.RESTORED


async def test_remote_cancel_mid_window_restores(db_url: str) -> None:
    async with world(db_url, T0) as w:
        records = await _started(w)
        await w.run_until(START + timedelta(minutes=20))
        (await w.admin.post("/_sim/dr/requests/ev/cancel")).raise_for_status()
        canceled_by = START + timedelta(minutes=21)
        await w.run_until(canceled_by)
        assert w.status("ev") == Status.CANCELED
        await w.run_until(canceled_by + STAGGER)
        shown = await w.facilities()
        for record in records:
            if record.state is S.APPLIED:
                assert shown[record.key]["setTemp"] == record.original
        final = w.records("ev")
        assert set(by_state(final)) == {S.RESTORED, S.SKIPPED}
        assert all("canceled by the DR service" in r.detail for r in final if r.state is S.RESTORED)


@pytest.mark.parametrize("crash_at", [timedelta(minutes=7), timedelta(minutes=50)])
async def test_crash_mid_window_then_restart_after_the_end(
    db_url: str, crash_at: timedelta
) -> None:
    async with world(db_url, T0) as w:
        records = await _started(w)
        await w.run_until(START + crash_at)
        w.crash()
        w.clock.set(END + timedelta(hours=2))  # down through the end of the window
        back = w.clock.now()
        before = len(await w.controls())
        await w.restart()
        applied = [r for r in records if r.state is S.APPLIED]
        await w.run_until(back + STAGGER)
        shown = await w.facilities()
        assert all(shown[r.key]["setTemp"] == r.original for r in applied)
        sent = await w.sent()
        for record in applied:
            assert sent[(record.key, record.target)] == 1, f"{record.key} controlled twice"
            assert sent[(record.key, record.original)] == 1, f"{record.key} restored twice"
        # Issue 15: the overdue restores are spread over the stagger from the restart,
        # not one rebound step (the time of every PUT from the simulator's control log).
        times = sorted(datetime.fromisoformat(p["time"]) for p in (await w.controls())[before:])
        assert times[0] == back
        assert times[-1] == back + STAGGER
        assert len(set(times)) > 5
        await w.run_until(w.clock.now() + STAGGER)
        assert w.status("ev") == Status.COMPLETED
        assert await w.sent() == sent, "nothing more was sent after the stagger"
        assert set(by_state(w.records("ev"))) == {S.RESTORED, S.SKIPPED}


async def test_restart_inside_the_window_keeps_control(db_url: str) -> None:
    async with world(db_url, T0) as w:
        records = await _started(w)
        w.crash()
        w.clock.set(START + timedelta(minutes=30))
        await w.restart()
        await w.run_until(START + timedelta(minutes=31))
        applied = [r for r in records if r.state is S.APPLIED]
        now = {r.key: r for r in w.records("ev")}
        assert all(now[r.key].state is S.APPLIED for r in applied)
        await w.run_until(END + STAGGER)
        sent = await w.sent()
        assert all(sent[(r.key, r.target)] == 1 for r in applied)
        assert set(by_state(w.records("ev"))) == {S.RESTORED, S.SKIPPED}


async def test_over_a_real_socket(sqlite_url: str) -> None:
    async with world(sqlite_url, T0, socket=True) as w:
        records = await _started(w)
        applied = [r for r in records if r.state is S.APPLIED]
        shown = await w.facilities()
        assert applied
        assert all(shown[r.key]["setTemp"] == r.target for r in applied)
        await w.run_until(END + STAGGER)
        shown = await w.facilities()
        assert all(shown[r.key]["setTemp"] == r.original for r in applied)


async def test_restart_between_prepare_and_start_starts_control(db_url: str) -> None:
    """Issue 10 bug 1: prepare skipped some facilities (ODUs, units off); the crash came before
    the start; the restart is inside the window: every facility still planned is controlled."""
    async with world(db_url, T0) as w:
        w.apply(peak("ev", START))
        await w.run_until(START - timedelta(seconds=30))
        prepared = w.records("ev")
        assert {S.PLANNED, S.SKIPPED} == set(by_state(prepared))
        w.clock.set(START + timedelta(seconds=1))
        assert w.status("ev") == Status.STANDBY
        active = Transition("ev", Status.STANDBY, Status.ACTIVE, w.clock.now(), Source.API, "")
        assert w.store.record(active)  # the poll's answer was recorded...
        w.crash()  # ...and the daemon died before HVAC control started
        w.clock.set(START + timedelta(seconds=20))
        await w.restart()
        await w.run_until(START + timedelta(seconds=40))
        now = {r.key: r for r in w.records("ev")}
        planned = [r for r in prepared if r.state is S.PLANNED]
        assert all(now[r.key].state is S.APPLIED for r in planned)
        shown = await w.facilities()
        assert all(shown[r.key]["setTemp"] == now[r.key].target for r in planned)
        await w.run_until(END + STAGGER)
        assert set(by_state(w.records("ev"))) == {S.RESTORED, S.SKIPPED}


async def test_an_events_restore_stagger_times_every_restore_put(db_url: str) -> None:
    """``restore: {stagger: 3m}`` (issue 15): the restores leave over 3 min, not 10."""
    stagger = timedelta(minutes=3)
    async with world(db_url, T0) as w:
        w.apply(replace(peak("ev", START), shaping=Shaping(restore_stagger=stagger)))
        await w.run_until(START + timedelta(seconds=1))
        starts = len(await w.controls())
        await w.run_until(END + STAGGER)
        times = sorted(datetime.fromisoformat(p["time"]) for p in (await w.controls())[starts:])
        assert times[0] == END
        assert times[-1] == END + stagger
        assert len(set(times)) == 7, "30 s slots over 3 min"
        assert set(by_state(w.records("ev"))) == {S.RESTORED, S.SKIPPED}


async def test_randomize_start_times_every_start_put(db_url: str) -> None:
    """``randomize_start: 10m`` (issue 15): each facility's PUT at its own drawn slot."""
    spread = timedelta(minutes=10)
    async with world(db_url, T0) as w:
        w.apply(replace(peak("ev", START), shaping=Shaping(randomize_start=spread)))
        await w.run_until(START + spread)
        records = {r.key: r for r in w.records("ev")}
        applied = [r for r in records.values() if r.state is S.APPLIED]
        assert len(applied) > SITES * GATEWAYS * 5
        slot = settings_from(w.config).restore_spacing
        starts = {
            r.key: facility_start("ev", r.key, START, END, spread, slot=slot) for r in applied
        }
        seen: dict[tuple[object, float], datetime] = {}
        for put in await w.controls():
            for control in put["controls"]:
                where = (put["site"], put["gateway"], put["facility_type"])
                key = FacilityKey(*where, control["facilityId"])
                seen[(key, float(control["setTemp"]))] = datetime.fromisoformat(put["time"])
        assert all(seen[(r.key, r.target)] == starts[r.key] for r in applied)
        assert len(set(starts.values())) > 10, "spread over the slots, not one step"
        assert max(starts.values()) < START + spread


async def test_ramp_times_every_restore_step(db_url: str) -> None:
    """``restore: {stagger: 0s, ramp: 1F/2m}``: each unit back in verified steps, on time."""
    every = timedelta(minutes=2)
    shaping = Shaping(restore_stagger=timedelta(0), ramp=Ramp(1, TempUnit.F, every))
    async with world(db_url, T0) as w:
        w.apply(replace(peak("ev", START), shaping=shaping))
        await w.run_until(END + timedelta(minutes=40))
        records = [r for r in w.records("ev") if r.state is S.RESTORED]
        assert len(records) > SITES * GATEWAYS * 5
        timeline: dict[FacilityKey, list[tuple[datetime, float]]] = {}
        for put in await w.controls():
            at = datetime.fromisoformat(put["time"])
            for control in put["controls"]:
                where = (put["site"], put["gateway"], put["facility_type"])
                key = FacilityKey(*where, control["facilityId"])
                timeline.setdefault(key, []).append((at, float(control["setTemp"])))
        shown = await w.facilities()
        for record in records:
            steps = timeline[record.key][1:]  # after the DR setpoint
            values = [v for _, v in steps]
            assert values[-1] == record.original
            assert shown[record.key]["setTemp"] == record.original
            assert [at for at, _ in steps] == [END + every * i for i in range(len(steps))]
            distances = [abs(record.original - v) for v in [timeline[record.key][0][1], *values]]
            assert all(a > b for a, b in itertools.pairwise(distances)), "each step closer"
            assert len(steps) > 1, "ramped, not one step"


async def test_a_range_narrowed_before_the_start_fails_that_unit_without_retries(
    db_url: str,
) -> None:
    """BECON's ``out_of_range`` through the real client is a failure no retry cures: the
    adapter says ``refused`` (its Contract), the controller stops at ``failed``."""
    async with world(db_url, T0) as w:
        w.apply(peak("ev", START))
        await w.run_until(START - timedelta(seconds=30))  # prefetched: the DR setpoints known
        records = w.records("ev")
        planned = next(r for r in records if r.target is not None and r.unit is TempUnit.F)
        unit = w.simulator.becon.inventory.find(
            planned.key.facility_id, planned.key.site, planned.key.gateway
        )
        assert unit is not None
        assert unit.set_temp is not None
        unit.set_temp_range = (unit.set_temp, unit.set_temp)  # the DR setpoint is outside now
        await w.run_until(START + timedelta(minutes=2))
        record = next(r for r in w.records("ev") if r.key == planned.key)
        assert (record.state, record.detail) == (S.FAILED, "BECON: out_of_range")
        tried = (await w.sent())[(planned.key, planned.target)]
        assert tried == 1, "no retry of a refusal"
