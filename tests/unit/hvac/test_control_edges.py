"""Edge cases of HVAC control found by review (issue 10), each reproduced on the fakes first.

- bug 1: a restart between prepare and start, with a skipped facility, starts control;
- bug 4: two events never hold one facility, and duplicates never crash a stop;
- bug 5: a failed database write leaves memory as it was; the restore comes back;
- bug 10: a restore refused for good ends (``restore_failed``) and frees the facility.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from scheduler.domain.control_records import HELD, ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey, FacilityState, Mode
from scheduler.domain.lifecycle import Status
from scheduler.errors import StoreError
from tests.support.fakes.hvac import T0, Target, event, idu, no_setpoint
from tests.support.harness.hvac_rig import SETTINGS, Rig

S = ControlState


def rig_with(*states: FacilityState) -> tuple[Rig, list[FacilityKey]]:
    rig = Rig()
    keys = rig.becon.add("S1", "GW1", *states)
    return rig, keys


# -- bug 1: restart between prepare and start ------------------------------------


async def test_restart_between_prepare_and_start_with_a_skipped_facility_starts_control() -> None:
    rig, keys = rig_with(idu("IDU-1", 74), no_setpoint("ODU-1"))
    plan = event()
    await rig.prepare(plan)
    assert rig.store.states("ev") == {keys[0]: S.PLANNED, keys[1]: S.SKIPPED}
    rig.store.statuses["ev"] = Status.ACTIVE  # recorded; the daemon died before the start
    rig.clock.set(T0 + timedelta(seconds=20))
    await rig.new_controller().reconcile(rig.now)
    assert rig.becon.sent(keys[0]) == [78]
    assert rig.store.record("ev", keys[0]).state is S.APPLIED


async def test_an_event_whose_control_started_is_not_started_again() -> None:
    rig, keys = rig_with(idu("IDU-1", 74), idu("IDU-OFF", power=False))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.advance(timedelta(minutes=1))
    assert rig.store.unstarted_events(rig.now) == []
    await rig.new_controller().reconcile(rig.now)
    assert rig.becon.sent(keys[0]) == [78]


# -- bug 4: one facility, one holder ----------------------------------------------


async def test_a_late_start_racing_another_events_claim_never_holds_the_facility_twice() -> None:
    """B's gateway was unread at prepare; its late read races A's start on the same unit."""
    rig = Rig(targets=[Target("CE-01", "S1", "GW1"), Target("CE-02", "S1", "GW1")])
    key = rig.becon.add("S1", "GW1", idu("IDU-1", 74))[0]
    a, b = event("a"), event("b", vens=["CE-02"])
    await rig.prepare(a)
    rig.becon.unreadable.add(("S1", "GW1"))
    await rig.prepare(b)
    rig.becon.unreadable.clear()
    rig.store.statuses.update(a=Status.ACTIVE, b=Status.ACTIVE)
    rig.clock.set(T0)

    b_writing, a_waiting = threading.Event(), threading.Event()

    def pause_b(records: Sequence[ControlRecord]) -> None:
        if any(r.event_id == "b" for r in records):
            b_writing.set()
            assert a_waiting.wait(5), "A's start never came"

    rig.store.on_insert.append(pause_b)
    late = asyncio.create_task(rig.hvac.start(b, rig.now))
    assert await asyncio.to_thread(b_writing.wait, 5)
    first = asyncio.create_task(rig.hvac.start(a, rig.now))
    for _ in range(20):  # A reaches the database (where B's write is in progress)
        await asyncio.sleep(0)
    a_waiting.set()
    await asyncio.gather(late, first)

    held = [r for r in rig.store.records.values() if r.key == key and r.state in HELD]
    assert len(held) == 1, held
    assert rig.becon.sent(key) == [78], "one DR setpoint PUT for one facility"
    for plan in (a, b):
        await rig.hvac.stop(plan, plan.end, "window ended")
    rig.clock.set(a.end)
    await rig.run_until(a.end + SETTINGS.restore_stagger)
    assert rig.becon.setpoint(key) == 74


async def test_duplicate_holds_already_in_the_store_do_not_crash_stop_or_reconcile() -> None:
    """Records a bug-4 race left before the fix: both events at a DR setpoint on one unit."""
    rig, keys = rig_with(idu("IDU-1", 82))
    rig.store.unique_holds = False  # a database from before migration 0003
    a, b = event("a"), event("b", vens=["CE-02"])
    for plan in (a, b):
        rig.store.add_event(plan, Status.ACTIVE)
    base = ControlRecord(
        "a",
        keys[0],
        S.APPLIED,
        window_end=a.end,
        created_at=T0,
        updated_at=T0,
        unit=TempUnit.F,
        mode=Mode.COOL,
        original=74,
        target=78,
        applied_at=T0,
        due_at=T0 + timedelta(minutes=5),
    )
    second = replace(
        base, event_id="b", original=78, target=82, created_at=T0 + timedelta(seconds=1)
    )
    rig.store.insert([base, second])
    rig.clock.set(a.end + timedelta(minutes=1))
    hvac = rig.new_controller()
    await hvac.reconcile(rig.now)  # both windows are over: both restore at once
    await rig.run_until(rig.now + SETTINGS.restore_stagger)
    assert {r.state.is_open for r in rig.store.records.values()} == {False}
    assert rig.becon.setpoint(keys[0]) == 74, "the first original comes back last"


# -- bug 5: the database before memory --------------------------------------------


async def _at_last_restore_slot(rig: Rig) -> tuple[list[FacilityKey], object]:
    keys = rig.becon.add("S1", "GW1", idu("IDU-1", 74), idu("IDU-2", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.stop(plan)  # IDU-1 is restored at the end, IDU-2 in the last slot
    assert rig.becon.setpoint(keys[0]) == 74
    assert rig.store.record("ev", keys[1]).due_at == plan.end + SETTINGS.restore_stagger
    rig.clock.set(plan.end + SETTINGS.restore_stagger)
    return keys, plan


async def test_a_failed_write_at_a_restore_slot_leaves_memory_as_it_was_and_retries() -> None:
    rig = Rig()
    keys, _plan = await _at_last_restore_slot(rig)
    rig.store.saves_ok = [False]
    with pytest.raises(StoreError):
        await rig.hvac.tick(rig.now)
    assert rig.becon.setpoint(keys[1]) == 78, "nothing sent without its record"
    assert await rig.hvac.due(rig.now) == rig.now, "still due at its slot"
    await rig.run_until(rig.now + timedelta(minutes=5))
    assert rig.becon.setpoint(keys[1]) == 74
    assert rig.store.record("ev", keys[1]).state is S.RESTORED


async def test_a_failed_write_of_a_restore_answer_is_settled_by_reading() -> None:
    rig = Rig()
    keys, _plan = await _at_last_restore_slot(rig)
    rig.store.saves_ok = [True, False]  # the restore's intent is written, its answer is not
    with pytest.raises(StoreError):
        await rig.hvac.tick(rig.now)
    assert rig.becon.setpoint(keys[1]) == 74
    due = await rig.hvac.due(rig.now)
    assert due is not None, "never restoring without a due time"
    assert due <= rig.now + SETTINGS.retry_base
    await rig.run_until(rig.now + timedelta(minutes=5))
    record = rig.store.record("ev", keys[1])
    assert record.state is S.RESTORED
    assert rig.becon.sent(keys[1]) == [78, 74], "settled by reading, not sent again"


async def test_a_start_whose_answer_and_resync_fail_still_restores_after_a_failed_stop() -> None:
    """Simulation seed 20186 (``--long``): the start's PUT landed, writing its answer
    failed, so the event's memory was loaded from the store again, which holds the record
    as it was written before the PUT, with no due time (in flight). The stop's write
    failed as well. Memory must still have the record looked at, so that once the store
    works the window's end restores the unit, not a restart an hour later."""
    rig = Rig()
    (key,) = rig.becon.add("S1", "GW1", idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    rig.store.saves_ok = [False, False]  # the PUT's answer; the next write (the resync's)
    with pytest.raises(StoreError):
        await rig.start(plan)
    assert rig.becon.setpoint(key) == 78
    rig.store.saves_ok = [False]  # the stop's write, if it has one
    with contextlib.suppress(StoreError):
        await rig.stop(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger + timedelta(minutes=5))
    assert rig.becon.setpoint(key) == 74
    assert rig.store.record("ev", key).state is S.RESTORED


# -- bug 10: a restore refused for good -------------------------------------------


async def test_a_restore_of_a_removed_facility_ends_with_its_reason() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    del rig.becon.states[keys[0]]  # removed from the site during the window
    await rig.stop(plan)
    await rig.run_until(plan.end + timedelta(hours=1))
    record = rig.store.record("ev", keys[0])
    assert record.state is S.RESTORE_FAILED
    assert "not_found" in record.detail
    assert await rig.hvac.due(rig.now) is None, "not retried forever"


async def test_a_restore_out_of_range_after_a_range_change_frees_the_facility() -> None:
    rig = Rig(targets=[Target("CE-01", "S1", "GW1"), Target("CE-02", "S1", "GW1")])
    key = rig.becon.add("S1", "GW1", idu("IDU-1", 74))[0]
    first = event("a", minutes=30)
    await rig.prepare(first)
    await rig.start(first)
    rig.becon.occupant(key, set_temp_range=(76.0, 86.0))  # 74 °F is no longer allowed
    await rig.stop(first)
    await rig.run_until(first.end + timedelta(minutes=20))
    record = rig.store.record("a", key)
    assert record.state is S.RESTORE_FAILED
    assert "restore failed: BECON: out_of_range" in record.detail
    second = event("b", T0 + timedelta(hours=2), vens=["CE-02"])
    await rig.prepare(second)
    await rig.start(second)
    assert rig.store.record("b", key).state is S.APPLIED, "a later event may take it"


async def test_a_transient_restore_failure_is_still_retried() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.becon.offline.add(keys[0])
    await rig.stop(plan)
    record = rig.store.record("ev", keys[0])
    assert (record.state, record.due_at) == (S.RESTORING, plan.end + timedelta(seconds=5))
    rig.becon.offline.clear()
    await rig.run_until(plan.end + timedelta(minutes=1))
    assert rig.store.record("ev", keys[0]).state is S.RESTORED
    assert rig.becon.setpoint(keys[0]) == 74


async def test_a_start_after_a_restart_does_not_start_a_started_event_again() -> None:
    """The engine calls start again after a restart (bug 1); the records say it started."""
    rig, keys = rig_with(idu("IDU-1", 74), idu("IDU-2", 74, power=False))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.advance(timedelta(minutes=2))
    rig.becon.occupant(keys[0], set_temp=71.0)
    await rig.run_until(T0 + timedelta(minutes=5))
    assert rig.store.record("ev", keys[0]).state is S.OPTED_OUT
    rig.becon.occupant(keys[1], power_on=True)  # switched on since the start
    hvac = rig.new_controller()
    await hvac.reconcile(rig.now)
    await hvac.start(plan, rig.now)
    assert rig.becon.sent(keys[1]) == [], "control started once, at the window's start"
    assert rig.becon.sent(keys[0]) == [78]


async def test_a_failed_write_in_a_cancel_is_made_good_by_the_next_tick() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.advance(timedelta(minutes=12))
    rig.store.saves_ok = [False]
    with pytest.raises(StoreError):
        await rig.hvac.stop(plan, rig.now, "canceled locally")
    assert rig.store.record("ev", keys[0]).state is S.APPLIED, "memory and store agree"
    await rig.hvac.tick(rig.now + timedelta(seconds=15))
    record = rig.store.record("ev", keys[0])
    assert (record.state, rig.becon.setpoint(keys[0])) == (S.RESTORED, 74)
    assert "canceled locally" in record.detail
