"""The setpoint arithmetic: decide_setpoint against DESIGN.md "HVAC control" and the DR spec."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scheduler.domain.events import AIR_CONDITIONER, LOAD_CONTROL, Signal, TempUnit
from scheduler.domain.hvac import AutoMode, Direction, FacilityKey, FacilityState, Mode
from scheduler.domain.setpoints import Change, Skip, decide_setpoint, event_bounds
from scheduler.domain.units import (
    ceil_to_grid,
    convert_temperature,
    exact,
    floor_to_grid,
    is_on_grid,
    resolution,
)

C, F = TempUnit.C, TempUnit.F
COOL, HEAT, AUTO, DRY, FAN = Mode.COOL, Mode.HEAT, Mode.AUTO, Mode.DRY, Mode.FAN
RANGES = {C: (16.0, 30.0), F: (60.0, 86.0)}


def sig(
    lo: float | None = None,
    hi: float | None = None,
    offset: float | None = None,
    unit: TempUnit | None = None,
) -> Signal:
    return Signal(
        "s1", LOAD_CONTROL, "x-loadControlLevelOffset", (AIR_CONDITIONER,), lo, hi, offset, unit
    )


def fac(
    set_temp: float | None,
    unit: TempUnit = C,
    mode: Mode | None = COOL,
    rng: tuple[float, float] | str | None = "default",
    power: bool = True,
    kind: str = "IDU",
) -> FacilityState:
    set_range = RANGES[unit] if rng == "default" else rng
    assert not isinstance(set_range, str)
    return FacilityState("IDU-0101", kind, power, mode, set_temp, unit, set_range)


@dataclass(frozen=True)
class Case:
    signal: Signal
    state: FacilityState
    expected: float | str  # a target, or a fragment of the skip reason
    auto_mode: AutoMode = "skip"


CASES: dict[str, Case] = {
    # units: °C and °F facilities x °C, °F and unit-less events
    "C facility, F event defaults": Case(sig(), fac(24.0), 26.0),
    "C facility, C event": Case(sig(20, 28, 2, C), fac(24.0), 26.0),
    "C facility, C event, heat": Case(sig(18, 28, 2, C), fac(22.0, mode=HEAT), 20.0),
    "F facility, F event": Case(sig(64, 86, 4, F), fac(74.0, F), 78.0),
    "F facility, C event": Case(sig(None, 27, 2, C), fac(74.0, F), 78.0),  # 77.6 -> 78
    "F facility, C event, heat": Case(sig(18, None, 2, C), fac(70.0, F, HEAT), 66.0),
    "F facility, heat raised to the event min": Case(sig(20, None, 2, C), fac(70.0, F, HEAT), 68.0),
    "offset converts as a difference": Case(sig(offset=5, unit=C), fac(70.0, F), 79.0),
    "unit missing means F": Case(sig(None, None, 4, None), fac(74.0, F), 78.0),
    "C event, missing fields take F defaults": Case(sig(hi=25, unit=C), fac(24.0), 25.0),
    # min == max: exactly that value, offset ignored
    "min == max, F event on C facility": Case(sig(77, 77, 16, F), fac(23.0), 25.0),
    "min == max, C event on F facility": Case(sig(25, 25, unit=C), fac(72.0, F), 77.0),
    "min == max off the grid: skipped, never outside": Case(
        sig(75, 75, unit=F), fac(22.0), "no 0.5 °C step within the event bounds 23.89 °C..23.89 °C"
    ),
    # issue 10: 26 °C is 78.8 °F; the nearest °F step (79 °F) would add heating load
    "heat at exactly 26 °C on a °F unit: skipped": Case(
        sig(26, 26, unit=C), fac(80.0, F, HEAT), "no 1 °F step within the event bounds"
    ),
    "cool at exactly 26 °C on a °F unit: skipped": Case(
        sig(26, 26, unit=C), fac(74.0, F), "no 1 °F step within the event bounds"
    ),
    "window narrower than a step: skipped": Case(
        sig(24.1, 24.4, unit=C), fac(22.0), "no 0.5 °C step within the event bounds"
    ),
    "min == max, heat": Case(sig(20, 20, unit=C), fac(22.0, mode=HEAT), 20.0),
    "min == max outside the facility range": Case(
        sig(86, 86), fac(24.0, rng=(16.0, 28.0)), "lie outside the facility's setTempRange"
    ),
    "min == max already there": Case(sig(24, 24, unit=C), fac(24.0), "no change needed"),
    "min == max would add load": Case(sig(22, 22, unit=C), fac(24.0), "would add load"),
    # clamping by the event bounds, both ways
    "cool capped at the event max": Case(sig(None, 25, 3, C), fac(24.0), 25.0),
    "cool raised to the event min": Case(sig(22, None, 2, C), fac(18.0), 22.0),
    "heat kept at the event min": Case(sig(19, None, 3, C), fac(20.0, mode=HEAT), 19.0),
    "heat capped at the event max": Case(sig(None, 22, 2, C), fac(26.0, mode=HEAT), 22.0),
    # clamping by the facility's range, both ways
    "cool capped at the facility max": Case(
        sig(offset=3, unit=C), fac(24.0, rng=(16.0, 25.0)), 25.0
    ),
    "heat kept at the facility min": Case(
        sig(offset=4, unit=C), fac(22.0, mode=HEAT, rng=(20.0, 30.0)), 20.0
    ),
    "facility range off the grid shrinks inwards": Case(
        sig(offset=3, unit=C), fac(24.0, rng=(16.0, 25.8)), 25.5
    ),
    "no facility range: event bounds alone": Case(sig(), fac(24.0, rng=None), 26.0),
    # rounding at bounds
    "nearest would cross the event max": Case(sig(None, 26.4, 2.3, C), fac(24.0), 26.0),
    "nearest would cross the event min": Case(sig(19.6, None, 2.3, C), fac(22.0, mode=HEAT), 20.0),
    "C max on F grid floors": Case(sig(None, 26, 2.5, C), fac(76.0, F), 78.0),  # 78.8 °F
    "F max on C grid floors": Case(sig(None, 79, 9, F), fac(24.0), 26.0),  # 26.11 °C
    "tie rounds up when cooling": Case(sig(offset=2.25, unit=C), fac(24.0), 26.5),
    "tie rounds down when heating": Case(sig(offset=2.25, unit=C), fac(24.0, mode=HEAT), 21.5),
    "original off the grid": Case(sig(offset=2, unit=C), fac(24.3), 26.5),  # 26.3 -> 26.5
    "off the grid, no offset: never rounds down": Case(sig(offset=0, unit=C), fac(24.2), 24.5),
    "off the grid, no offset: never rounds up": Case(
        sig(offset=0, unit=C), fac(24.4, mode=HEAT), 24.0
    ),
    "F facility off the grid, tiny offset": Case(sig(offset=0.1), fac(74.2, F), 75.0),
    # modes, power, types
    "powered off": Case(sig(), fac(24.0, power=False), "powered off"),
    "fan": Case(sig(), fac(24.0, mode=FAN), "mode fan has no setpoint"),
    "dry cools": Case(sig(), fac(24.0, mode=DRY), 26.0),
    "auto skipped": Case(sig(), fac(24.0, mode=AUTO), "auto mode skipped (hvac.auto_mode: skip)"),
    "auto as cool": Case(sig(), fac(24.0, mode=AUTO), 26.0, "cool"),
    "auto as heat": Case(sig(), fac(22.0, mode=AUTO), 20.0, "heat"),  # 19.78 -> 20
    "no mode": Case(sig(), fac(24.0, mode=None), "reports no operation mode"),
    "ODU has no setpoint": Case(sig(), fac(None, rng=None, kind="ODU"), "type ODU has no setpoint"),
    "ODU off: the type says it first": Case(
        sig(), fac(None, rng=None, power=False, kind="ODU"), "type ODU has no setpoint"
    ),
    # conflicting constraints: never add load wins
    "cool above the event max": Case(sig(None, 26, 2, C), fac(29.0), "above the allowed maximum"),
    "heat below the event min": Case(
        sig(18, None, 2, C), fac(16.0, mode=HEAT), "below the allowed min"
    ),
    "cool at the facility max": Case(sig(), fac(30.0), "as far as the bounds allow"),
    "event above the facility range, cool": Case(
        sig(80, 86), fac(24.0, rng=(16.0, 26.0)), "lie outside the facility's setTempRange"
    ),
    "event below the facility range, heat": Case(
        sig(62, 66), fac(24.0, mode=HEAT, rng=(20.0, 30.0)), "lie outside the facility's"
    ),
    "event below the facility range, cool": Case(
        sig(62, 66), fac(24.0, rng=(20.0, 30.0)), "lie outside the facility's"
    ),
    "inverted event bounds": Case(sig(80, 70), fac(24.0), "event bounds inverted"),
    "range without a grid point": Case(sig(), fac(24.0, rng=(24.1, 24.4)), "holds no 0.5 °C step"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decide_setpoint(case: Case) -> None:
    decision = decide_setpoint(case.signal, case.state, auto_mode=case.auto_mode)
    if isinstance(case.expected, str):
        assert isinstance(decision, Skip), decision
        assert case.expected in decision.reason
    else:
        assert isinstance(decision, Change), decision
        assert decision.target == case.expected
        assert decision.original == case.state.set_temp
        assert decision.unit == case.state.unit


def test_change_reason_says_what_was_done() -> None:
    decision = decide_setpoint(sig(None, 25, 3, C), fac(24.0))
    assert isinstance(decision, Change)
    assert decision.reason == "cool: 24 °C + offset 3 °C -> 25 °C (capped at 25 °C)"
    rounded = decide_setpoint(sig(), fac(24.0))
    assert isinstance(rounded, Change)
    assert "26.22 °C rounded to the 0.5 °C step" in rounded.reason
    limited = decide_setpoint(sig(70, 86), fac(24.0, rng=(16.0, 26.0)))
    assert isinstance(limited, Change)
    assert "event bounds limited to the facility's range 16 °C..26 °C" in limited.reason
    snapped = decide_setpoint(sig(75, 75), fac(22.0))
    assert isinstance(snapped, Skip)
    assert snapped.reason == (
        "no 0.5 °C step within the event bounds 23.89 °C..23.89 °C (75 °F..75 °F): "
        "a setpoint would leave them"
    )


def test_change_becomes_the_controlled_record() -> None:
    decision = decide_setpoint(sig(), fac(24.0))
    assert isinstance(decision, Change)
    key = FacilityKey("S001", "GW-01", "IDU", "IDU-0101")
    record = decision.controlled(key, COOL)
    assert (record.original, record.target, record.direction) == (24.0, 26.0, Direction.COOL)
    assert record.apply().set_temp == 26.0
    assert record.restore().set_temp == 24.0


def test_event_bounds_apply_dr_spec_defaults() -> None:
    bounds = event_bounds(sig(), C)
    assert (bounds.lo, bounds.hi, bounds.offset) == (
        Fraction(160, 9),
        Fraction(30),
        Fraction(20, 9),
    )
    assert not bounds.exact_value
    assert event_bounds(sig(30, None, unit=C), F).exact_value  # 30 °C == default 86 °F


# --- properties -------------------------------------------------------------------------------

# Temperatures with one decimal, as written in plans and reported by BECON.
c_temps = st.integers(100, 350).map(lambda n: n / 10)
f_temps = st.integers(500, 950).map(lambda n: n / 10)


@st.composite
def signals(draw: st.DrawFn) -> Signal:
    unit = draw(st.sampled_from([C, F, None]))
    # Offsets from 0 up: small ones are outside the DR spec's 4-16 °F, but the rules must hold.
    temps, offsets = (c_temps, st.integers(0, 90)) if unit == C else (f_temps, st.integers(0, 160))
    lo, hi = draw(st.none() | temps), draw(st.none() | temps)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    if draw(st.booleans()) and lo is not None:
        hi = lo  # min == max
    offset = draw(st.none() | st.sampled_from([0, 0.1, 0.2, 0.3]) | offsets.map(lambda n: n / 10))
    return sig(lo, hi, offset, unit)


@st.composite
def states(draw: st.DrawFn) -> FacilityState:
    unit = draw(st.sampled_from([C, F]))
    temps = c_temps if unit == C else f_temps
    rng = draw(st.none() | st.tuples(temps, temps).map(lambda t: (min(t), max(t))))
    mode = draw(st.sampled_from([*Mode, None]))
    return FacilityState("IDU-1", "IDU", draw(st.booleans()), mode, draw(temps), unit, rng)


def direction_of(state: FacilityState, auto_mode: AutoMode) -> Direction | None:
    mode = state.mode.value if state.mode else None
    name = {"cool": "cool", "dry": "cool", "heat": "heat", "auto": auto_mode}.get(mode or "")
    return Direction(name) if name in ("cool", "heat") else None


def grid_between(lo: Fraction, hi: Fraction, step: Fraction) -> bool:
    return ceil_to_grid(lo, step) <= floor_to_grid(hi, step)


auto_modes = st.sampled_from(["skip", "cool", "heat"])


@given(signals(), states(), auto_modes)
def test_target_keeps_every_rule(signal: Signal, state: FacilityState, auto_mode: AutoMode) -> None:
    decision = decide_setpoint(signal, state, auto_mode=auto_mode)
    direction = direction_of(state, auto_mode)
    if not state.power_on or direction is None:
        assert isinstance(decision, Skip)
        return
    if not isinstance(decision, Change):
        return
    assert state.set_temp is not None
    assert state.unit is not None
    target, original, step = exact(decision.target), exact(state.set_temp), resolution(state.unit)
    assert is_on_grid(target, step)
    assert (target - original) * direction.sign > 0, "never adds load, never a no-op"
    if state.set_temp_range is not None:
        assert exact(state.set_temp_range[0]) <= target <= exact(state.set_temp_range[1])
    bounds = event_bounds(signal, state.unit)
    if state.set_temp_range is not None:
        lo = max(bounds.lo, exact(state.set_temp_range[0]))
        hi = min(bounds.hi, exact(state.set_temp_range[1]))
    else:
        lo, hi = bounds.lo, bounds.hi
    assert bounds.lo <= target <= bounds.hi, "never outside the event bounds"
    assert grid_between(lo, hi, step)


@given(signals(), states(), auto_modes)
def test_rounding_never_leaves_the_bounds_nor_adds_load(
    signal: Signal, state: FacilityState, auto_mode: AutoMode
) -> None:
    """Issue 10: with no grid point inside the bounds, the nearest one may lie on either side."""
    decision = decide_setpoint(signal, state, auto_mode=auto_mode)
    if not isinstance(decision, Change):
        return
    assert state.unit is not None
    assert state.set_temp is not None
    bounds = event_bounds(signal, state.unit)
    target = exact(decision.target)
    assert bounds.lo <= target <= bounds.hi, f"{target} outside {bounds.lo}..{bounds.hi}"
    direction = direction_of(state, auto_mode)
    assert direction is not None
    assert (target - exact(state.set_temp)) * direction.sign > 0, "adds load"


@given(signals(), states())
def test_a_skip_is_never_silent(signal: Signal, state: FacilityState) -> None:
    decision = decide_setpoint(signal, state, auto_mode="cool")
    assert decision.reason


@given(
    st.sampled_from([C, F]),
    st.sampled_from([C, F]),
    st.integers(0, 60),
    st.integers(0, 60),
    st.sampled_from([COOL, HEAT]),
)
def test_min_equal_max_gives_that_exact_value_when_representable(
    event_unit: TempUnit, unit: TempUnit, value_steps: int, original_steps: int, mode: Mode
) -> None:
    step = resolution(event_unit)
    value = float((60 if event_unit == F else 16) + value_steps * step)
    original = float((60 if unit == F else 16) + original_steps * resolution(unit))
    in_facility_unit = convert_temperature(value, event_unit, unit)
    assume(is_on_grid(in_facility_unit, resolution(unit)))
    state = fac(original, unit, mode, rng=None)
    decision = decide_setpoint(sig(value, value, 16, event_unit), state)
    sheds = (in_facility_unit - exact(original)) * (1 if mode == COOL else -1)
    if sheds > 0:
        assert isinstance(decision, Change)
        assert exact(decision.target) == in_facility_unit
    else:
        assert isinstance(decision, Skip)
