"""The controller pre-conditioning on the fakes (issue 15): crashes, occupants, restarts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from scheduler.domain.control_records import ControlState
from scheduler.domain.events import PlanEvent, TempUnit
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.lifecycle import Status
from scheduler.domain.shaping import PreCondition, Shaping
from scheduler.errors import StoreError
from scheduler.hvac.verification import START_GRACE
from tests.support.fakes.hvac import T0, event, idu
from tests.support.harness.hvac_rig import Rig

S = ControlState
LEAD = timedelta(minutes=30)
PRE_AT = T0 - LEAD


def pre_conditioned() -> PlanEvent:
    shaping = Shaping(pre_condition=PreCondition(LEAD, 2, TempUnit.F))
    return replace(event(), shaping=shaping)


async def begin(rig: Rig, plan: PlanEvent) -> None:
    """The engine's prepare at ``start − duration``."""
    rig.store.add_event(plan, Status.PENDING)
    rig.clock.set(PRE_AT)
    await rig.hvac.prepare(plan, rig.now)


async def fail_after_the_claim(rig: Rig) -> tuple[list[FacilityKey], PlanEvent]:
    """Three units; the prepare's claim is written and the write after it fails."""
    keys = rig.becon.add("S1", "GW1", *(idu(f"IDU-{i}", 74) for i in range(3)))
    plan = pre_conditioned()
    rig.store.saves_ok = [False]  # the write after the claim
    with pytest.raises(StoreError):
        await begin(rig, plan)
    return keys, plan


async def test_pre_conditioning_then_the_dr_setpoint_at_the_start() -> None:
    rig = Rig(start=PRE_AT)
    keys = rig.becon.add("S1", "GW1", *(idu(f"IDU-{i}", 74) for i in range(3)))
    plan = pre_conditioned()
    await begin(rig, plan)
    assert all(rig.becon.sent(k) == [72] for k in keys)
    assert all(r.state is S.APPLIED and r.pre_at == PRE_AT for r in rig.store.of("ev"))
    await rig.run_until(T0)
    await rig.start(plan)  # the engine's start, once the DR service says active
    assert all(rig.becon.sent(k) == [72, 78] for k in keys), "once each"
    assert [p.at for p in rig.becon.puts if p.value == 78] == [T0] * 3


async def test_a_crash_after_the_claim_waits_for_the_start() -> None:
    """Between the claim and the pre-conditioning write: the intents carry no
    pre-conditioning yet, and none gets a DR setpoint before the window."""
    rig = Rig(start=PRE_AT)
    keys, plan = await fail_after_the_claim(rig)
    assert all(r.state is S.INTENT and r.pre_target is None for r in rig.store.of("ev"))
    rig.clock.set(PRE_AT + timedelta(minutes=1))
    await rig.new_controller().reconcile(rig.now)
    await rig.run_until(T0 + timedelta(minutes=1))
    assert rig.becon.puts == [], "nothing until the DR service runs it: no pre-conditioning"
    await rig.start(plan)
    assert all(rig.becon.sent(k) == [78] for k in keys)


async def test_a_failed_write_after_the_claim_then_the_start_controls_every_unit() -> None:
    """The claim is written, the write after it fails, and the daemon goes on (no restart):
    the start finds the facilities held in the store and still gives each its DR setpoint
    (simulation seed 1198, batched: one unit left uncontrolled for its whole window)."""
    rig = Rig(start=PRE_AT)
    keys, plan = await fail_after_the_claim(rig)
    await rig.run_until(T0)
    assert rig.becon.puts == [], "nothing before the DR service runs it"
    await rig.start(plan)
    await rig.run_until(T0 + timedelta(minutes=1))
    assert all(rig.becon.sent(k) == [78] for k in keys)
    assert all(r.state is S.APPLIED for r in rig.store.of("ev"))


async def test_an_occupant_change_during_pre_conditioning_is_respected() -> None:
    rig = Rig(start=PRE_AT)
    (key,) = rig.becon.add("S1", "GW1", idu("IDU-1", 74))
    plan = pre_conditioned()
    await begin(rig, plan)
    rig.clock.set(PRE_AT + timedelta(minutes=10))
    rig.becon.occupant(key, set_temp=76.0)
    await rig.run_until(T0 + timedelta(minutes=1))
    await rig.start(plan)
    (record,) = rig.store.of("ev")
    assert record.state is S.OPTED_OUT
    assert rig.becon.sent(key) == [72]
    assert rig.becon.setpoint(key) == 76


async def test_a_restart_during_pre_conditioning_resumes_without_sending_twice() -> None:
    rig = Rig(start=PRE_AT)
    keys = rig.becon.add("S1", "GW1", *(idu(f"IDU-{i}", 74) for i in range(3)))
    plan = pre_conditioned()
    await begin(rig, plan)
    rig.clock.set(PRE_AT + timedelta(minutes=12))
    await rig.new_controller().reconcile(rig.now)
    await rig.run_until(T0)
    await rig.start(plan)  # the restarted engine's start, once the DR service says active
    assert all(rig.becon.sent(k) == [72, 78] for k in keys)
    await rig.stop(plan)
    await rig.run_until(plan.end + rig.settings.restore_stagger)
    assert all(rig.becon.setpoint(k) == 74 for k in keys)
    assert {r.state for r in rig.store.of("ev")} == {S.RESTORED}


async def test_no_dr_setpoint_until_the_dr_service_runs_the_event() -> None:
    """Seed 1818: the plan's window began (a change moved it earlier, not yet accepted),
    the DR service's did not: the pre-conditioned units get their original back after
    the grace, and their DR setpoint only once the DR service says ``active``."""
    rig = Rig(start=PRE_AT)
    keys = rig.becon.add("S1", "GW1", *(idu(f"IDU-{i}", 74) for i in range(3)))
    plan = pre_conditioned()
    await begin(rig, plan)
    await rig.run_until(T0 + START_GRACE - timedelta(seconds=1))
    assert all(rig.becon.sent(k) == [72] for k in keys), "kept while the start's poll is due"
    await rig.run_until(T0 + timedelta(minutes=3))
    assert all(rig.becon.sent(k) == [72, 74] for k in keys), "released, no DR setpoint"
    assert all(r.state is S.INTENT and r.preconditioning for r in rig.store.of("ev"))
    await rig.start(plan)
    assert all(rig.becon.sent(k) == [72, 74, 78] for k in keys)
    assert all(r.state is S.APPLIED for r in rig.store.of("ev"))


async def test_a_start_within_the_grace_sends_one_put_per_unit() -> None:
    rig = Rig(start=PRE_AT)
    keys = rig.becon.add("S1", "GW1", *(idu(f"IDU-{i}", 74) for i in range(3)))
    plan = pre_conditioned()
    await begin(rig, plan)
    await rig.run_until(T0 + timedelta(seconds=5))
    await rig.start(plan)
    assert all(rig.becon.sent(k) == [72, 78] for k in keys)
