"""The HVAC controller over in-memory fakes: prepare, start, verify, retry, restore, reconcile."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from scheduler.domain.control_records import ControlState
from scheduler.domain.events import PlanEvent, TempUnit
from scheduler.domain.hvac import FacilityKey, FacilityState, Mode
from scheduler.domain.lifecycle import Status
from scheduler.domain.shaping import Ramp, Shaping, facility_start
from scheduler.metrics import isolated_metrics
from tests.support.fakes.hvac import T0, Target, event, idu, no_setpoint
from tests.support.harness.hvac_rig import SETTINGS, Rig

S = ControlState


def rig_with(*states: FacilityState, gateway: str = "GW1") -> tuple[Rig, list[FacilityKey]]:
    rig = Rig()
    keys = rig.becon.add("S1", gateway, *states)
    return rig, keys


async def test_prepare_reads_each_gateway_once_and_start_sends_only_puts() -> None:
    rig = Rig(targets=[Target("CE-01", "S1", "GW1"), Target("CE-01", "S1", "GW2", ("IDU",))])
    keys = rig.becon.add("S1", "GW1", *(idu(f"IDU-{i:03d}", 74) for i in range(150)))
    keys += rig.becon.add("S1", "GW2", idu("IDU-900", 75), idu("AHU-1", 75, facility_type="AHU"))
    plan = event()
    await rig.prepare(plan)
    assert rig.becon.reads == [("S1", "GW1", None), ("S1", "GW2", ("IDU",))]
    assert {r.state for r in rig.store.of("ev")} == {S.PLANNED}
    assert rig.becon.puts == []
    reads_before = len(rig.becon.reads)
    await rig.start(plan)
    assert len(rig.becon.reads) == reads_before, "the start costs PUTs only"
    assert [len(b.controls) for b in rig.becon.put_calls] == [100, 50, 1]
    assert all(rig.store.record("ev", k).state is S.APPLIED for k in keys[:151])
    assert rig.becon.setpoint(keys[0]) == 78
    assert all(p.at == T0 for p in rig.becon.puts)


async def test_every_record_is_an_intent_before_the_first_put_leaves() -> None:
    rig, _keys = rig_with(*(idu(f"IDU-{i}", 74) for i in range(5)))
    seen: list[set[ControlState]] = []
    rig.becon.on_put.append(lambda batch: seen.append({r.state for r in rig.store.of("ev")}))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    assert seen == [{S.INTENT}]
    assert rig.store.intents_marked == [("ev", T0)]


async def test_concurrency_stays_within_the_bound() -> None:
    rig = Rig(targets=[Target("CE-01", "S1", f"GW{g}") for g in range(20)])
    for g in range(20):
        rig.becon.add("S1", f"GW{g}", idu(f"IDU-{g}", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    assert len(rig.becon.put_calls) == 20
    assert 1 < rig.becon.max_in_flight <= SETTINGS.max_concurrency


async def test_skipped_facilities_say_why() -> None:
    rig, _keys = rig_with(
        idu("IDU-OFF", power=False),
        idu("IDU-FAN", mode=Mode.FAN),
        idu("IDU-AUTO", mode=Mode.AUTO),
        no_setpoint("ODU-1"),
    )
    plan = event()
    await rig.whole_window(plan)
    reasons = {r.key.facility_id: (r.state, r.reason) for r in rig.store.of("ev")}
    assert reasons == {
        "IDU-OFF": (S.SKIPPED, "powered off"),
        "IDU-FAN": (S.SKIPPED, "mode fan has no setpoint"),
        "IDU-AUTO": (S.SKIPPED, "auto mode skipped (hvac.auto_mode: skip)"),
        "ODU-1": (S.SKIPPED, "type ODU has no setpoint"),
    }
    assert rig.becon.puts == []


async def test_restores_are_spread_over_the_stagger_in_a_fixed_order() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(40)))
    plan = event()
    await rig.whole_window(plan)
    restores = [p for p in rig.becon.puts if p.value == 74]
    assert len(restores) == 40
    assert all(plan.end <= p.at <= plan.end + SETTINGS.restore_stagger for p in restores)
    assert [p.key for p in restores] == sorted(keys)
    assert len({p.at for p in restores}) == 21, "30 s slots over 10 min"
    assert all(rig.becon.setpoint(k) == 74 for k in keys)
    assert {r.state for r in rig.store.of("ev")} == {S.RESTORED}
    assert all(r.restored == 74 for r in rig.store.of("ev"))


async def test_an_events_restore_stagger_wins_over_the_config() -> None:
    """``restore: {stagger: 4m}`` on the event (issue 15), hvac.restore_stagger is 10m."""
    rig, _keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(40)))
    plan = replace(event(), shaping=Shaping(restore_stagger=timedelta(minutes=4)))
    await rig.whole_window(plan)
    restores = [p for p in rig.becon.puts if p.value == 74]
    assert len(restores) == 40
    assert min(p.at for p in restores) == plan.end
    assert max(p.at for p in restores) == plan.end + timedelta(minutes=4)
    assert len({p.at for p in restores}) == 9, "30 s slots over 4 min"


def randomized(spread: timedelta = timedelta(minutes=10)) -> PlanEvent:
    return replace(event(), shaping=Shaping(randomize_start=spread))


def expected_starts(keys: list[FacilityKey], plan: PlanEvent) -> dict[FacilityKey, datetime]:
    spread = plan.shaping.randomize_start if plan.shaping else None
    slot = SETTINGS.restore_spacing
    return {k: facility_start("ev", k, plan.start, plan.end, spread, slot=slot) for k in keys}


async def test_randomize_start_sends_each_facility_at_its_own_start() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(40)))
    plan = randomized()
    await rig.prepare(plan)
    await rig.start(plan)
    starts = expected_starts(keys, plan)
    at_once = {k for k, at in starts.items() if at == plan.start}
    assert {p.key for p in rig.becon.puts} == at_once
    waiting = {r.key for r in rig.store.of("ev") if r.state is S.INTENT}
    assert waiting == set(keys) - at_once, "the others wait as intents, in the store"
    await rig.run_until(plan.start + timedelta(minutes=10))
    applies = [p for p in rig.becon.puts if p.value == 78]
    assert sorted(p.key for p in applies) == sorted(keys), "each once"
    assert all(p.at == starts[p.key] for p in applies)
    assert len({p.at for p in applies}) > 10, "spread, not one step"
    assert all(plan.start <= p.at < plan.start + timedelta(minutes=10) for p in applies)


async def test_a_randomized_start_after_the_window_is_not_started() -> None:
    """hvac.randomize_start may exceed a short window: those units are left alone."""
    rig = Rig(settings=replace(SETTINGS, randomize_start=timedelta(hours=1)))
    keys = rig.becon.add("S1", "GW1", *(idu(f"IDU-{i:02d}", 74) for i in range(20)))
    plan = event(minutes=10)
    await rig.whole_window(plan)
    late = [r for r in rig.store.of("ev") if r.state is S.SKIPPED]
    assert late, "some drew a start after the 10 min window"
    assert all("randomized start falls after the window" in r.detail for r in late)
    assert all(rig.becon.sent(r.key) == [] for r in late)
    assert {r.state for r in rig.store.of("ev")} == {S.SKIPPED, S.RESTORED}
    assert all(rig.becon.setpoint(k) == 74 for k in keys)


async def test_randomized_starts_survive_a_restart() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(40)))
    plan = randomized()
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.run_until(plan.start + timedelta(minutes=4))
    await rig.new_controller().reconcile(rig.now)
    await rig.start(plan)  # the restarted engine starts the active event again
    await rig.run_until(plan.start + timedelta(minutes=10))
    starts = expected_starts(keys, plan)
    applies = [p for p in rig.becon.puts if p.value == 78]
    assert sorted(p.key for p in applies) == sorted(keys)
    late = [p for p in applies if starts[p.key] > plan.start + timedelta(minutes=4)]
    assert late, "some started after the restart"
    assert all(p.at == starts[p.key] for p in late)


async def test_a_delayed_facility_changed_by_its_occupant_is_decided_afresh() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(10)))
    plan = randomized()
    await rig.prepare(plan)
    await rig.start(plan)
    starts = expected_starts(keys, plan)
    key = max(keys, key=lambda k: starts[k])
    assert starts[key] > plan.start
    rig.becon.occupant(key, set_temp=76)
    await rig.run_until(plan.start + timedelta(minutes=10))
    assert rig.becon.sent(key) == [80], "76 + 4, from what it showed at its own start"


def ramped(every: timedelta = timedelta(minutes=2)) -> PlanEvent:
    ramp = Ramp(1, TempUnit.F, every)
    return replace(event(), shaping=Shaping(restore_stagger=timedelta(0), ramp=ramp))


async def through_the_end(rig: Rig, plan: PlanEvent) -> None:
    """Prefetch, start, the window, its end; the ramp has not begun."""
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.run_until(plan.end - timedelta(microseconds=1))
    await rig.stop(plan)


async def test_ramp_walks_back_one_verified_step_at_a_time() -> None:
    rig, keys = rig_with(idu("IDU-1", 74), idu("IDU-2", 23.0, unit=TempUnit.C))
    plan = ramped()
    await through_the_end(rig, plan)
    await rig.run_until(plan.end + timedelta(minutes=30))
    end, two = plan.end, timedelta(minutes=2)
    assert [(p.at, p.value) for p in rig.becon.puts if p.key == keys[0]] == [
        (plan.start, 78),
        (end, 77),
        (end + two, 76),
        (end + 2 * two, 75),
        (end + 3 * two, 74),
    ]
    # °C unit: 1 °F is 0.56 °C, a 0.5 °C step; 23 + 2.22 -> 25 °C, back in 0.5 °C steps.
    assert rig.becon.sent(keys[1]) == [25.0, 24.5, 24.0, 23.5, 23.0]
    assert {r.state for r in rig.store.of("ev")} == {S.RESTORED}


async def test_hvac_restore_ramp_is_the_default_ramp() -> None:
    rig = Rig(settings=replace(SETTINGS, ramp=Ramp(2, TempUnit.F, timedelta(minutes=3))))
    rig.becon.add("S1", "GW1", idu("IDU-1", 74))
    plan = replace(event(), shaping=Shaping(restore_stagger=timedelta(0)))
    await through_the_end(rig, plan)
    await rig.run_until(plan.end + timedelta(minutes=30))
    assert [(p.at, p.value) for p in rig.becon.puts] == [
        (plan.start, 78),
        (plan.end, 76),
        (plan.end + timedelta(minutes=3), 74),
    ]


async def test_an_occupant_change_mid_ramp_ends_it_under_respect() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = ramped()
    await through_the_end(rig, plan)
    await rig.run_until(plan.end + timedelta(minutes=1))
    assert rig.becon.sent(keys[0]) == [78, 77]
    rig.becon.occupant(keys[0], set_temp=72)
    await rig.run_until(plan.end + timedelta(minutes=30))
    assert rig.becon.sent(keys[0]) == [78, 77], "no step after the occupant's change"
    assert rig.becon.setpoint(keys[0]) == 72
    assert rig.store.record("ev", keys[0]).state is S.OPTED_OUT


async def test_a_failed_ramp_step_is_tried_again_not_taken_for_an_occupant() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = ramped()
    await through_the_end(rig, plan)
    await rig.run_until(plan.end + timedelta(minutes=1))
    rig.becon.offline.add(keys[0])
    await rig.run_until(plan.end + timedelta(minutes=2, seconds=30))
    rig.becon.offline.clear()
    await rig.run_until(plan.end + timedelta(minutes=30))
    assert rig.becon.sent(keys[0]) == [78, 77, 76, 75, 74]
    assert rig.store.record("ev", keys[0]).state is S.RESTORED


async def test_a_restart_mid_ramp_goes_on_from_the_step_it_was_at() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = ramped()
    await through_the_end(rig, plan)
    await rig.run_until(plan.end + timedelta(minutes=3))
    await rig.new_controller().reconcile(rig.now)
    await rig.run_until(plan.end + timedelta(minutes=30))
    assert rig.becon.sent(keys[0]) == [78, 77, 76, 75, 74]


async def test_release_mid_window_restores_everything_and_control_resumes_at_restart() -> None:
    """hvac.on_stop: restore (issue 15): SIGTERM mid-window, then drsched runs again."""
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(12)))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.becon.occupant(keys[0], set_temp=70)  # the occupant's, left alone under respect
    rig.clock.advance(timedelta(minutes=20))
    said = await rig.hvac.release(rig.now)
    assert said == "12 facilities under control: 1 opted_out, 11 restored; 11 resume at restart"
    assert all(rig.becon.setpoint(k) == 74 for k in keys[1:])
    assert rig.becon.setpoint(keys[0]) == 70
    rig.clock.advance(timedelta(minutes=1))
    await rig.new_controller().reconcile(rig.now)
    await rig.run_until(rig.now + timedelta(seconds=1))
    assert all(rig.becon.setpoint(k) == 78 for k in keys[1:]), "control resumed"
    await rig.run_until(plan.end - timedelta(microseconds=1))
    await rig.stop(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger)
    assert all(rig.becon.sent(k) == [78, 74, 78, 74] for k in keys[1:])


async def test_release_during_randomized_starts_leaves_the_waiting_ones_to_resume() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(20)))
    plan = randomized()
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.run_until(plan.start + timedelta(minutes=4))
    controlled = [k for k in keys if rig.becon.setpoint(k) == 78]
    assert 0 < len(controlled) < 20
    said = await rig.hvac.release(rig.now)
    n = len(controlled)
    assert said == f"{n} facilities under control: {n} restored; {n} resume at restart"
    assert all(rig.becon.setpoint(k) == 74 for k in keys)
    assert {r.state for r in rig.store.of("ev")} == {S.INTENT}, "none failed, all resume"
    rig.clock.advance(timedelta(minutes=1))
    await rig.new_controller().reconcile(rig.now)
    await rig.run_until(plan.start + timedelta(minutes=10))
    assert all(rig.becon.setpoint(k) == 78 for k in keys), "every unit controlled again"


async def test_release_mid_stagger_restores_what_is_left_at_once() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(20)))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.run_until(plan.end - timedelta(microseconds=1))
    await rig.stop(plan)
    await rig.run_until(plan.end + timedelta(minutes=3))
    left = [k for k in keys if rig.becon.setpoint(k) == 78]
    assert 0 < len(left) < 20
    said = await rig.hvac.release(rig.now)
    n = len(left)
    assert said == f"{n} facilities under control: {n} restored; 0 resume at restart"
    assert all(rig.becon.setpoint(k) == 74 for k in keys)
    assert {r.state for r in rig.store.of("ev")} == {S.RESTORED}
    assert await rig.hvac.release(rig.now) == "no facility under control"


async def test_the_controller_ends_control_at_the_window_end_without_a_stop() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger)
    assert rig.becon.setpoint(keys[0]) == 74
    assert rig.store.record("ev", keys[0]).state is S.RESTORED


async def test_verify_reads_every_interval_and_finds_nothing_to_do() -> None:
    rig, _keys = rig_with(idu("IDU-1", 74), idu("IDU-2", 72))
    plan = event(minutes=30)
    await rig.prepare(plan)
    await rig.start(plan)
    ticks = await rig.run_until(plan.end - timedelta(seconds=1))
    assert ticks == [T0 + timedelta(minutes=m) for m in (5, 10, 15, 20, 25)]
    assert len(rig.becon.put_calls) == 1


async def test_occupant_change_under_respect_is_an_opt_out_not_restored() -> None:
    rig, keys = rig_with(idu("IDU-1", 74), idu("IDU-2", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.advance(timedelta(minutes=2))
    rig.becon.occupant(keys[0], set_temp=71.0)
    await rig.run_until(plan.end - timedelta(seconds=1))
    await rig.stop(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger)
    opted = rig.store.record("ev", keys[0])
    assert opted.state is S.OPTED_OUT
    assert "occupant changed the setpoint to 71 °F" in opted.detail
    assert rig.becon.setpoint(keys[0]) == 71
    assert rig.becon.sent(keys[0]) == [78]
    assert rig.store.record("ev", keys[1]).state is S.RESTORED


async def test_occupant_change_under_reassert_is_applied_again() -> None:
    rig = Rig(settings=SETTINGS.__class__(**{**SETTINGS.__dict__, "override": "reassert"}))
    keys = rig.becon.add("S1", "GW1", idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.advance(timedelta(minutes=2))
    rig.becon.occupant(keys[0], set_temp=72.0)
    await rig.run_until(T0 + timedelta(minutes=6))
    assert rig.becon.setpoint(keys[0]) == 78
    assert rig.becon.sent(keys[0]) == [78, 78]
    await rig.run_until(plan.end - timedelta(seconds=1))
    await rig.stop(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger)
    assert rig.becon.setpoint(keys[0]) == 74


async def test_mode_change_releases_the_facility_at_once() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.becon.occupant(keys[0], mode=Mode.HEAT)
    await rig.run_until(T0 + timedelta(minutes=5))
    record = rig.store.record("ev", keys[0])
    assert record.state is S.RESTORED
    assert "mode changed from cool to heat" in record.detail
    assert rig.becon.setpoint(keys[0]) == 74


async def test_an_offline_facility_is_retried_with_backoff_until_it_answers() -> None:
    rig, keys = rig_with(idu("IDU-1", 74), idu("IDU-2", 74))
    rig.becon.offline.add(keys[0])
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    record = rig.store.record("ev", keys[0])
    assert (record.state, record.detail) == (S.RETRYING, "attempt 1: offline")
    assert record.due_at == T0 + timedelta(seconds=5)
    await rig.run_until(T0 + timedelta(seconds=5))
    assert rig.store.record("ev", keys[0]).due_at == T0 + timedelta(seconds=15)
    rig.becon.offline.clear()
    await rig.run_until(T0 + timedelta(seconds=15))
    applied = rig.store.record("ev", keys[0])
    assert applied.state is S.APPLIED
    assert applied.detail == "applied at attempt 3"
    assert rig.becon.setpoint(keys[0]) == 78


async def test_a_facility_offline_all_window_ends_failed_and_untouched() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    rig.becon.offline.add(keys[0])
    plan = event(minutes=10)
    await rig.whole_window(plan)
    record = rig.store.record("ev", keys[0])
    assert record.state is S.FAILED
    assert record.detail.startswith("never applied")
    assert rig.becon.setpoint(keys[0]) == 74


async def test_a_refusal_that_cannot_change_is_not_retried() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    rig.becon.occupant(keys[0], set_temp_range=(64.0, 76.0))  # range shrank since the prefetch
    await rig.start(plan)
    record = rig.store.record("ev", keys[0])
    assert (record.state, record.detail) == (S.FAILED, "BECON: out_of_range")
    assert await rig.hvac.due(rig.now) is None


async def test_a_lost_answer_is_settled_by_reading_not_by_sending_again() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    rig.becon.lose_answers = 1
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    assert rig.store.record("ev", keys[0]).state is S.RETRYING
    await rig.run_until(T0 + timedelta(seconds=5))
    assert rig.store.record("ev", keys[0]).state is S.APPLIED
    assert rig.becon.sent(keys[0]) == [78]


async def test_a_failed_call_retries_its_facilities_from_a_fresh_state() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    rig.becon.fail_puts = 1
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.becon.occupant(keys[0], set_temp=75.0)  # meanwhile, before anything of ours landed
    await rig.run_until(T0 + timedelta(seconds=5))
    record = rig.store.record("ev", keys[0])
    assert (record.state, record.original, record.target) == (S.APPLIED, 75, 79)
    await rig.run_until(plan.end - timedelta(seconds=1))
    await rig.stop(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger)
    assert rig.becon.setpoint(keys[0]) == 75


async def test_a_cancel_mid_window_restores_from_now() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i}", 74) for i in range(3)))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.advance(timedelta(minutes=12))
    await rig.stop(plan, "canceled by the DR service")
    await rig.run_until(rig.now + SETTINGS.restore_stagger)
    assert all(rig.becon.setpoint(k) == 74 for k in keys)
    restore_times = [p.at for p in rig.becon.puts if p.value == 74]
    assert restore_times[0] == T0 + timedelta(minutes=12)
    assert max(restore_times) <= T0 + timedelta(minutes=22)
    assert "canceled by the DR service" in rig.store.record("ev", keys[0]).detail


async def test_stop_before_start_leaves_everything_alone() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.hvac.stop(plan, rig.now, "canceled locally")
    record = rig.store.record("ev", keys[0])
    assert (record.state, record.detail) == (S.SKIPPED, "not started: canceled locally")
    await rig.start(plan)  # a late start after a stop sends nothing
    assert rig.becon.puts == []


async def test_points_are_idempotent() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.start(plan)
    await rig.hvac.prepare(plan, rig.now)
    await rig.run_until(plan.end - timedelta(seconds=1))
    await rig.stop(plan)
    await rig.stop(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger)
    await rig.stop(plan)
    assert rig.becon.sent(keys[0]) == [78, 74]


async def test_start_without_prepare_reads_first() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    rig.store.add_event(plan)
    await rig.start(plan)
    assert rig.becon.sent(keys[0]) == [78]


async def test_a_gateway_unreadable_at_prepare_is_read_again_at_start() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    rig.becon.unreadable.add(("S1", "GW1"))
    plan = event()
    await rig.prepare(plan)
    assert rig.store.of("ev") == []
    rig.becon.unreadable.clear()
    await rig.start(plan)
    assert rig.store.record("ev", keys[0]).state is S.APPLIED


async def test_a_facility_held_by_another_event_is_skipped() -> None:
    rig = Rig(targets=[Target("CE-01", "S1", "GW1"), Target("CE-02", "S1", "GW1")])
    keys = rig.becon.add("S1", "GW1", idu("IDU-1", 74))
    first, second = event("a"), event("b", T0 + timedelta(minutes=10), vens=["CE-02"])
    await rig.prepare(first)
    await rig.start(first)
    await rig.prepare(second)
    await rig.start(second)
    assert rig.store.record("b", keys[0]).reason == "under control of event a"
    assert rig.becon.sent(keys[0]) == [78]


async def test_events_without_load_control_or_mapping_are_left_alone() -> None:
    rig, _keys = rig_with(idu("IDU-1", 74))
    other_ven = event(vens=["CE-09"])
    await rig.prepare(other_ven)
    await rig.start(other_ven)
    assert rig.store.records == {}
    assert rig.becon.reads == []


async def test_celsius_facility_under_a_fahrenheit_event() -> None:
    rig, keys = rig_with(idu("IDU-C", 24.0, unit=TempUnit.C))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    record = rig.store.record("ev", keys[0])
    assert (record.original, record.target, record.unit) == (24.0, 26.0, TempUnit.C)
    assert rig.becon.setpoint(keys[0]) == 26.0


async def test_gauge_counts_facilities_under_control() -> None:
    with isolated_metrics() as m:
        rig, _keys = rig_with(*(idu(f"IDU-{i}", 74) for i in range(3)), idu("OFF", power=False))
        plan = event()
        await rig.prepare(plan)
        await rig.start(plan)
        assert m.facilities_under_control._value.get() == 3
        assert m.control_actions.labels("apply", "ok")._value.get() == 3
        assert m.control_actions.labels("apply", "skipped")._value.get() == 1
        await rig.run_until(plan.end - timedelta(seconds=1))
        await rig.stop(plan)
        await rig.run_until(plan.end + SETTINGS.restore_stagger)
        assert m.facilities_under_control._value.get() == 0
        assert m.control_actions.labels("restore", "ok")._value.get() == 3


# -- restarts ------------------------------------------------------------------


async def test_restart_inside_the_window_keeps_control_and_verifies() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.advance(timedelta(minutes=7))
    hvac = rig.new_controller()
    await hvac.reconcile(rig.now)
    assert rig.store.record("ev", keys[0]).state is S.APPLIED
    assert rig.becon.reads[-1] == ("S1", "GW1", ("IDU", "IDU-1")), "its overdue verify, at once"
    assert await hvac.due(rig.now) == T0 + timedelta(minutes=12)
    await rig.run_until(plan.end - timedelta(seconds=1))
    await rig.stop(plan)
    await rig.run_until(plan.end + SETTINGS.restore_stagger)
    assert rig.becon.sent(keys[0]) == [78, 74]


async def test_restart_after_the_end_restores_the_overdue_over_the_stagger() -> None:
    """Issue 15: a crash through the end must not become one rebound step for every unit."""
    rig, keys = rig_with(*(idu(f"IDU-{i}", 74) for i in range(30)))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.clock.set(plan.end + timedelta(hours=2))  # down through the end
    back = rig.now
    await rig.new_controller().reconcile(rig.now)
    first = [p for p in rig.becon.puts if p.value == 74]
    assert 0 < len(first) < len(keys), "some at once, not all"
    assert all(p.at == back for p in first)
    await rig.run_until(back + SETTINGS.restore_stagger)
    restores = [p for p in rig.becon.puts if p.value == 74]
    assert all(rig.becon.sent(k) == [78, 74] for k in keys)
    assert min(p.at for p in restores) == back
    assert max(p.at for p in restores) == back + SETTINGS.restore_stagger
    assert len({p.at for p in restores}) == 21, "30 s slots over 10 min"
    assert {r.state for r in rig.store.of("ev")} == {S.RESTORED}


async def test_restart_mid_stagger_spreads_only_what_is_overdue() -> None:
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(20)))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.run_until(plan.end - timedelta(seconds=1))
    await rig.stop(plan)
    await rig.run_until(plan.end + timedelta(minutes=2))
    done = {p.key for p in rig.becon.puts if p.value == 74}
    rig.clock.set(plan.end + timedelta(minutes=5))  # down from minute 2 to minute 5
    back = rig.now
    await rig.new_controller().reconcile(back)
    await rig.run_until(plan.end + timedelta(hours=1))
    late = [p for p in rig.becon.puts if p.value == 74 and p.key not in done]
    assert 0 < len(done) < 20
    assert all(rig.becon.sent(k) == [78, 74] for k in keys)
    overdue = [p for p in late if p.at < plan.end + timedelta(minutes=10)]
    assert len({p.at for p in overdue}) > 1, "the overdue ones are spread, not sent at once"
    assert max(p.at for p in late) <= back + SETTINGS.restore_stagger


async def test_restart_past_the_stagger_restores_in_what_was_left_of_it() -> None:
    """Invariant 5 (sim seed 109): a crash mid-stagger delays restores, adds no stagger.

    Down from minute 2 to minute 18 after the end: what was still to restore
    had 8 minutes of the stagger left, so it is restored within 8 minutes of
    the restart (end + stagger + downtime), still spread, not over a whole new
    stagger (which held units at their DR setpoint 2 minutes longer).
    """
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(20)))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    await rig.run_until(plan.end - timedelta(seconds=1))
    await rig.stop(plan)
    crash = plan.end + timedelta(minutes=2)
    await rig.run_until(crash)
    done = {p.key for p in rig.becon.puts if p.value == 74}
    rig.clock.set(plan.end + timedelta(minutes=18))  # past end + stagger
    back = rig.now
    await rig.new_controller().reconcile(back)
    await rig.run_until(plan.end + timedelta(hours=1))
    late = [p for p in rig.becon.puts if p.value == 74 and p.key not in done]
    assert 0 < len(done) < 20
    assert all(rig.becon.sent(k) == [78, 74] for k in keys)
    assert len({p.at for p in late}) > 1, "the overdue ones are spread, not sent at once"
    left = plan.end + SETTINGS.restore_stagger - crash
    assert max(p.at for p in late) <= back + left


async def test_restart_after_a_cancel_restores_in_what_was_left_of_its_stagger() -> None:
    """Sim seed 7661: restores begun by a cancel keep that schedule's end after a crash.

    The stagger began at the cancel, long before the window's end: measured from the
    end, a restart spread what was overdue over a whole new stagger and held units at
    their DR setpoint past cancel + stagger + downtime.
    """
    rig, keys = rig_with(*(idu(f"IDU-{i:02d}", 74) for i in range(20)))
    plan = event(minutes=120)
    await rig.prepare(plan)
    await rig.start(plan)
    canceled = plan.start + timedelta(minutes=5)
    await rig.run_until(canceled)
    rig.store.statuses[plan.event_id] = Status.CANCELED
    await rig.stop(plan, "canceled")
    crash = canceled + timedelta(minutes=2)
    await rig.run_until(crash)
    done = {p.key for p in rig.becon.puts if p.value == 74}
    rig.clock.set(canceled + timedelta(minutes=18))  # past cancel + stagger, inside the window
    back = rig.now
    await rig.new_controller().reconcile(back)
    await rig.run_until(back + timedelta(hours=1))
    late = [p for p in rig.becon.puts if p.value == 74 and p.key not in done]
    assert 0 < len(done) < 20
    assert all(rig.becon.sent(k) == [78, 74] for k in keys)
    left = canceled + SETTINGS.restore_stagger - crash
    assert max(p.at for p in late) <= back + left


@pytest.mark.parametrize("landed", [0, 1, 2])
async def test_crash_mid_start_then_restart_sends_nothing_twice(landed: int) -> None:
    rig = Rig(targets=[Target("CE-01", "S1", f"GW{g}") for g in range(3)])
    keys = [rig.becon.add("S1", f"GW{g}", idu(f"IDU-{g}", 74))[0] for g in range(3)]
    rig.settings = SETTINGS.__class__(**{**SETTINGS.__dict__, "max_concurrency": 1})
    rig.new_controller()
    plan = event()
    await rig.prepare(plan)
    rig.becon.crash_after_puts = landed
    with pytest.raises(BaseExceptionGroup):
        await rig.start(plan)
    assert {r.state for r in rig.store.of("ev")} >= {S.INTENT}
    rig.becon.crash_after_puts = None
    rig.clock.advance(timedelta(seconds=30))
    await rig.new_controller().reconcile(rig.now)
    assert all(rig.becon.sent(k) == [78] for k in keys)
    assert {r.state for r in rig.store.of("ev")} == {S.APPLIED}


async def test_crash_after_prepare_then_restart_inside_the_window_starts() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    rig.store.statuses["ev"] = Status.ACTIVE
    rig.clock.set(T0 + timedelta(seconds=20))
    await rig.new_controller().reconcile(rig.now)
    assert rig.becon.sent(keys[0]) == [78]


async def test_restart_after_a_canceled_event_restores_it() -> None:
    rig, keys = rig_with(idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    await rig.start(plan)
    rig.store.statuses["ev"] = Status.CANCELED  # recorded, then the crash before the stop
    rig.clock.advance(timedelta(minutes=3))
    await rig.new_controller().reconcile(rig.now)
    assert rig.becon.setpoint(keys[0]) == 74
