"""``pre_condition`` end to end (issue 15): the engine, the store, the real clients, the simulator.

Every PUT's time comes from the simulator's control log: the pre-conditioning
setpoint at ``start − duration``, the DR setpoint at the start, the original
back over the stagger from the end; a cancel or a crash during
pre-conditioning puts the original back or carries on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from scheduler.config_values import settings_from
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import PlanEvent, TempUnit
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.lifecycle import Status
from scheduler.domain.shaping import PreCondition, Shaping, facility_start
from scheduler.domain.units import convert_difference
from scheduler.reports.records import records
from scheduler.store.evidence import evidence_of
from tests.support.harness.hvac import World, peak, world

S = ControlState
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
LEAD = timedelta(minutes=30)
PRE = T0 + timedelta(minutes=10)
START = PRE + LEAD
END = START + timedelta(hours=1)
STAGGER = timedelta(minutes=10)
OFFSET_F = 2.0


def _event() -> PlanEvent:
    shaping = Shaping(pre_condition=PreCondition(LEAD, OFFSET_F, TempUnit.F))
    return replace(peak("ev", START), shaping=shaping)


async def _puts(w: World) -> dict[FacilityKey, list[tuple[datetime, float]]]:
    """Each facility's PUTs, in order: (time, setpoint), successful ones only."""
    timeline: dict[FacilityKey, list[tuple[datetime, float]]] = {}
    for put in await w.controls():
        at = datetime.fromisoformat(put["time"])
        ok = {r.get("facilityId") for r in put["results"] if r.get("result") == "success"}
        for control in put["controls"]:
            if control["facilityId"] not in ok:
                continue
            where = (put["site"], put["gateway"], put["facility_type"])
            key = FacilityKey(*where, control["facilityId"])
            timeline.setdefault(key, []).append((at, float(control["setTemp"])))
    return timeline


def _pre_conditioned(records: list[ControlRecord]) -> list[ControlRecord]:
    return [r for r in records if r.pre_target is not None]


def _within_offset(record: ControlRecord) -> bool:
    """Cooler when cooling, warmer when heating, never more than the offset."""
    assert record.original is not None
    assert record.pre_target is not None
    assert record.unit is not None
    limit = float(convert_difference(OFFSET_F, TempUnit.F, record.unit))
    moved = abs(record.pre_target - record.original)
    return 0 < moved <= limit + 1e-9


async def test_pre_condition_puts_at_lead_then_dr_setpoint_at_start_then_restore(
    db_url: str,
) -> None:
    async with world(db_url, T0) as w:
        w.apply(_event())
        await w.run_until(PRE + timedelta(seconds=1))
        during = w.records("ev")
        pre = _pre_conditioned(during)
        assert len(pre) > 10, "most controllable units are pre-conditioned"
        assert all(r.state is S.APPLIED and r.target == r.pre_target for r in pre)
        assert all(r.pre_at == PRE for r in pre)
        assert all(_within_offset(r) for r in pre)
        cooling = [r for r in pre if r.mode is not None and r.mode.value == "cool"]
        assert cooling
        assert all((r.pre_target or 0) < (r.original or 0) for r in cooling)
        shown = await w.facilities()
        assert all(shown[r.key]["setTemp"] == r.pre_target for r in pre)
        # the rest are held too (one holder from the pre-conditioning start), waiting
        held = {r.key for r in during if r.state in (S.INTENT, S.APPLIED)}
        assert held >= {r.key for r in pre}

        await w.run_until(END + STAGGER)
        assert w.status("ev") == Status.COMPLETED
        final = {r.key: r for r in w.records("ev")}
        timeline = await _puts(w)
        for record in pre:
            after = final[record.key]
            assert after.state is S.RESTORED, after
            assert after.pre_target == record.pre_target, "the evidence keeps it"
            steps = timeline[record.key]
            assert steps[0] == (PRE, record.pre_target)
            assert steps[1] == (START, after.target), "the DR setpoint at the start"
            assert after.target != after.pre_target
            restore_at, value = steps[2]
            assert value == record.original
            assert END <= restore_at <= END + STAGGER
            assert len(steps) == 3
        with Session(w.store.engine) as session:
            evidence = evidence_of(session, "ev")
        shown_pre = {
            r["facility"]: (r["pre_target"], r["pre_at"])
            for r in records([evidence])
            if r["record"] == "facility" and r["pre_target"]
        }
        assert shown_pre == {str(r.key): (str(r.pre_target), PRE.isoformat()) for r in pre}, (
            "the report says which were pre-conditioned, from when, to what"
        )


async def test_a_cancel_during_pre_conditioning_restores_the_original(db_url: str) -> None:
    async with world(db_url, T0) as w:
        w.apply(_event())
        await w.run_until(PRE + timedelta(minutes=5))
        pre = _pre_conditioned(w.records("ev"))
        assert pre
        w.store.request_cancel("ev", w.clock.now())
        await w.run_until(PRE + timedelta(minutes=5) + STAGGER + timedelta(minutes=1))
        assert w.status("ev") == Status.CANCELED
        shown = await w.facilities()
        final = {r.key: r for r in w.records("ev")}
        for record in pre:
            assert shown[record.key]["setTemp"] == record.original
            assert final[record.key].state is S.RESTORED
        assert not [r for r in final.values() if r.state.is_open]
        await w.run_until(END + STAGGER)
        timeline = await _puts(w)
        later = [at for steps in timeline.values() for at, _ in steps if at >= START]
        assert not later, "nothing sent for a canceled event"


@pytest.mark.parametrize("restart_at", [timedelta(minutes=5), timedelta(minutes=45)])
async def test_a_restart_during_pre_conditioning_carries_on(
    db_url: str, restart_at: timedelta
) -> None:
    """Back before the start: control resumes; back after the end: restored over the stagger."""
    async with world(db_url, T0) as w:
        w.apply(_event())
        await w.run_until(PRE + timedelta(minutes=2))
        pre = _pre_conditioned(w.records("ev"))
        assert pre
        w.crash()
        w.clock.set(PRE + restart_at)
        await w.restart()
        await w.run_until(END + STAGGER + timedelta(minutes=2))
        shown = await w.facilities()
        final = {r.key: r for r in w.records("ev")}
        timeline = await _puts(w)
        for record in pre:
            assert shown[record.key]["setTemp"] == record.original
            assert final[record.key].state is S.RESTORED
            values = [v for _, v in timeline[record.key]]
            assert values.count(record.pre_target) == 1, "never sent twice"
            if PRE + restart_at < START:
                assert (START, final[record.key].target) in timeline[record.key]
        assert not [r for r in final.values() if r.state.is_open]


async def test_with_randomize_start_a_unit_is_released_until_its_own_start(db_url: str) -> None:
    """``randomize_start`` too: pre-conditioned, original back at the window start, DR
    setpoint at the unit's drawn start (the window never holds a pre-conditioning value)."""
    spread = timedelta(minutes=10)
    pre = PreCondition(LEAD, OFFSET_F, TempUnit.F)
    shaping = Shaping(pre_condition=pre, randomize_start=spread)
    async with world(db_url, T0) as w:
        w.apply(replace(peak("ev", START), shaping=shaping))
        await w.run_until(END + STAGGER)
        final = _pre_conditioned(w.records("ev"))
        assert len(final) > 10
        slot = settings_from(w.config).restore_spacing
        timeline = await _puts(w)
        released = 0
        for record in final:
            begin = facility_start("ev", record.key, START, END, spread, slot=slot)
            steps = timeline[record.key]
            assert steps[0] == (PRE, record.pre_target)
            if begin > START:
                released += 1
                assert steps[1] == (START, record.original), "released at the window start"
                assert steps[2] == (begin, record.target), "its DR setpoint at its own start"
            else:
                assert steps[1] == (START, record.target)
            assert steps[-1][1] == record.original
            assert record.state is S.RESTORED
        assert released > 5


async def test_a_change_while_pre_conditioning_moves_control_to_the_new_window(
    db_url: str,
) -> None:
    """Changed while pending (deleted and re-submitted): the pre-conditioned units follow the
    new window: no DR setpoint at the old start, the DR setpoint at the new one."""
    shift = timedelta(minutes=10)
    async with world(db_url, T0) as w:
        w.apply(_event())
        await w.run_until(PRE + timedelta(minutes=5))
        pre = _pre_conditioned(w.records("ev"))
        assert pre
        moved = replace(_event(), start=START + shift, end=END + shift)
        w.apply(moved)
        await w.run_until(END + shift + STAGGER)
        assert w.status("ev") == Status.COMPLETED
        final = {r.key: r for r in w.records("ev")}
        timeline = await _puts(w)
        for record in pre:
            steps = timeline[record.key]
            assert steps[0] == (PRE, record.pre_target)
            assert steps[1] == (START + shift, final[record.key].target), steps
            assert steps[2][1] == record.original
            assert END + shift <= steps[2][0] <= END + shift + STAGGER
            assert final[record.key].state is S.RESTORED
        assert not [at for steps in timeline.values() for at, _ in steps if at == START]
