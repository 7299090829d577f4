"""Hypothesis: the controller's invariants over random facilities, occupants, faults and crashes.

DESIGN.md "HVAC control" and rule 2:

- every setpoint sent is either a DR setpoint inside the event's bounds and
  the facility's range, moved the load-shedding way, or a stored original;
- after ``end + restore_stagger`` (the daemon running, BECON healthy after
  the window) nothing is left at a DR setpoint and nothing is open;
- restores happen inside ``[end, end + restore_stagger]`` (or from a cancel);
- without faults, no facility is sent its DR setpoint twice under
  ``respect``, whatever crash (between calls, or in the middle of the
  start's fan-out) and restart happened.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace
from datetime import timedelta
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.domain.events import Signal, TempUnit
from scheduler.domain.hvac import FacilityKey, FacilityState, Mode
from scheduler.domain.lifecycle import Status
from scheduler.domain.setpoints import event_bounds
from scheduler.domain.units import exact, resolution
from scheduler.hvac.planning import Settings
from tests.support.fakes.hvac import T0, event, load_control
from tests.support.harness.hvac_rig import Rig

WINDOW = timedelta(minutes=30)
SETTINGS = Settings(
    verify_interval=timedelta(minutes=5),
    restore_stagger=timedelta(minutes=10),
    restore_spacing=timedelta(seconds=30),
    max_concurrency=3,
)
RANGES = {TempUnit.C: (18.0, 30.0), TempUnit.F: (64.0, 86.0)}


def _grid_value(unit: TempUnit) -> st.SearchStrategy[float]:
    low, high = RANGES[unit]
    step = resolution(unit)
    steps = int((Fraction(high) - Fraction(low)) / step)
    return st.integers(0, steps).map(lambda i: float(Fraction(low) + i * step))


@st.composite
def facilities(draw: st.DrawFn, index: int) -> FacilityState:
    kind = draw(st.sampled_from(["IDU", "IDU", "IDU", "AHU", "ODU"]))
    ident = f"{kind}-{index:02d}"
    if kind == "ODU":
        return FacilityState(ident, kind, True, Mode.FAN, None, None)
    unit = draw(st.sampled_from(TempUnit))
    return FacilityState(
        ident,
        kind,
        draw(st.booleans() | st.just(True)),
        draw(st.sampled_from(list(Mode))),
        draw(_grid_value(unit)),
        unit,
        RANGES[unit],
    )


@st.composite
def signals(draw: st.DrawFn) -> Signal:
    unit = draw(st.sampled_from(TempUnit))
    low_limit, high_limit = (18, 30) if unit == TempUnit.C else (64, 86)
    width = 1 if unit == TempUnit.C else 2  # a grid point of either unit always fits
    low = draw(st.integers(low_limit, high_limit - width))
    high = draw(st.integers(low + width, high_limit))
    offset = draw(st.sampled_from([0.5, 1, 1.5, 2, 3, 4, 6]))
    return load_control(max_temp=high, min_temp=low, offset=offset, unit=unit)


@dataclass(frozen=True)
class Occupant:
    at: timedelta
    index: int
    change: str
    value: int


@dataclass(frozen=True)
class Scenario:
    states: list[FacilityState]
    signal: Signal
    policy: str
    occupants: list[Occupant]
    offline: set[int]
    fail_puts: int
    lose_answers: int
    crash_at: timedelta | None
    crash_in_start: int | None
    cancel_at: timedelta | None

    @property
    def faulty(self) -> bool:
        return bool(self.offline or self.fail_puts or self.lose_answers)


@st.composite
def scenarios(draw: st.DrawFn, faults: bool = True) -> Scenario:
    count = draw(st.integers(1, 8))
    states = [draw(facilities(i)) for i in range(count)]
    minutes = st.integers(1, int(WINDOW.total_seconds() // 60) - 1).map(
        lambda m: timedelta(minutes=m)
    )
    occupants = draw(
        st.lists(
            st.builds(
                Occupant,
                minutes,
                st.integers(0, count - 1),
                st.sampled_from(["setpoint", "mode", "power"]),
                st.integers(0, 100),
            ),
            max_size=4,
        )
    )
    return Scenario(
        states=states,
        signal=draw(signals()),
        policy=draw(st.sampled_from(["respect", "reassert"])),
        occupants=occupants,
        offline=draw(st.sets(st.integers(0, count - 1), max_size=2)) if faults else set(),
        fail_puts=draw(st.integers(0, 2)) if faults else 0,
        lose_answers=draw(st.integers(0, 2)) if faults else 0,
        crash_at=draw(st.none() | minutes),
        crash_in_start=draw(st.none() | st.integers(0, 2)),
        cancel_at=draw(st.none() | minutes),
    )


def _occupy(rig: Rig, key: FacilityKey, occupant: Occupant) -> None:
    state = rig.becon.states[key]
    if occupant.change == "power":
        rig.becon.occupant(key, power_on=not state.power_on)
    elif occupant.change == "mode":
        modes = list(Mode)
        rig.becon.occupant(key, mode=modes[occupant.value % len(modes)])
    elif state.unit is not None:
        low, high = RANGES[state.unit]
        step = resolution(state.unit)
        steps = int((Fraction(high) - Fraction(low)) / step)
        value = Fraction(low) + (occupant.value % (steps + 1)) * step
        rig.becon.occupant(key, set_temp=float(value))


async def _play(case: Scenario) -> tuple[Rig, list[FacilityKey], timedelta]:
    rig = Rig(settings=replace(SETTINGS, override=case.policy))  # type: ignore[arg-type]  # one of the two policies' literals
    keys = rig.becon.add("S1", "GW1", *case.states)
    plan = event(minutes=WINDOW.total_seconds() / 60, signal=case.signal)
    await rig.prepare(plan)
    rig.becon.offline = {keys[i] for i in case.offline}
    rig.becon.fail_puts, rig.becon.lose_answers = case.fail_puts, case.lose_answers
    rig.store.statuses["ev"] = Status.ACTIVE
    rig.clock.set(T0)
    if case.crash_in_start is not None:
        rig.becon.crash_after_puts = case.crash_in_start
        with contextlib.suppress(BaseExceptionGroup):  # killed in the middle of the fan-out
            await rig.hvac.start(plan, rig.now)
        rig.becon.crash_after_puts = None
        await asyncio.sleep(0)
        await rig.new_controller().reconcile(rig.now)
    else:
        await rig.hvac.start(plan, rig.now)
    stop_at = case.cancel_at or WINDOW
    happenings: list[tuple[timedelta, Occupant | None]] = [(o.at, o) for o in case.occupants]
    if case.crash_at is not None:
        happenings.append((case.crash_at, None))
    for at, what in sorted(happenings, key=lambda h: h[0]):
        if at >= stop_at:
            break
        await rig.run_until(T0 + at)
        if what is None:
            await rig.new_controller().reconcile(rig.now)
        else:
            _occupy(rig, keys[what.index], what)
    await rig.run_until(T0 + stop_at - timedelta(microseconds=1))
    rig.becon.offline.clear()  # BECON is healthy after the window
    rig.becon.fail_puts = rig.becon.lose_answers = 0
    rig.clock.set(T0 + stop_at)
    reason = "canceled by the DR service" if case.cancel_at else "window ended"
    rig.store.statuses["ev"] = Status.CANCELED if case.cancel_at else Status.COMPLETED
    await rig.hvac.stop(plan, rig.now, reason)
    await rig.run_until(T0 + stop_at + SETTINGS.restore_stagger)
    return rig, keys, stop_at


def _check_sent_values(rig: Rig, case: Scenario) -> None:
    records = {r.key: r for r in rig.store.of("ev")}
    for put in rig.becon.puts:
        record = records[put.key]
        assert put.reason != "out_of_range", f"sent {put.value} outside the range of {put.key}"
        if put.value == record.original:
            continue  # a restore
        assert record.unit is not None
        assert put.unit == record.unit
        bounds = event_bounds(case.signal, record.unit)
        assert bounds.lo <= exact(put.value) <= bounds.hi, f"{put} outside the event bounds"
    for record in records.values():
        if record.target is None or record.original is None:
            continue
        cooling = record.mode in (Mode.COOL, Mode.DRY) or (
            record.mode == Mode.AUTO and record.target > record.original
        )
        assert (record.target > record.original) == cooling, f"{record} adds load"


def _check_restored(rig: Rig, keys: list[FacilityKey], case: Scenario, stop_at: timedelta) -> None:
    assert rig.store.open_records() == []
    last: dict[FacilityKey, tuple[str, float | None]] = {}
    for kind, key, value in rig.becon.history:
        last[key] = (kind, value)
    records = {r.key: r for r in rig.store.of("ev")}
    for key, (kind, value) in last.items():
        if kind == "put":
            assert value == records[key].original, f"{key} left at {value}: {records[key]}"
    end = T0 + stop_at
    for put in rig.becon.puts:
        record = records[put.key]
        if put.outcome != "success" or put.value != record.original:
            continue
        assert put.at <= end + SETTINGS.restore_stagger
        released = "the DR setpoint no longer applies" in record.detail  # a mode change
        assert put.at >= end or released, f"restored early: {record}"
        if released:
            index = keys.index(put.key)
            assert any(o.change == "mode" and o.index == index for o in case.occupants)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_bounds_and_restores_hold_whatever_happens(case: Scenario) -> None:
    rig, keys, stop_at = asyncio.run(_play(case))
    _check_sent_values(rig, case)
    _check_restored(rig, keys, case, stop_at)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(faults=False))
def test_no_facility_is_controlled_twice_without_a_cause(case: Scenario) -> None:
    rig, keys, stop_at = asyncio.run(_play(replace(case, policy="respect")))
    records = {r.key: r for r in rig.store.of("ev")}
    for key in keys:
        record = records.get(key)
        mine = [p for p in rig.becon.puts if p.key == key]
        if record is None:
            assert mine == []
            continue
        targets = [p for p in mine if p.value == record.target]
        assert len(targets) <= 1, f"{key} sent its DR setpoint {len(targets)} times"
        restores = [p for p in mine if p.value == record.original]
        assert len(restores) <= 1, f"{key} restored {len(restores)} times"
    _check_restored(rig, keys, case, stop_at)
