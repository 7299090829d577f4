"""Load shaping rules (issue 15): pre-conditioning, randomised starts, ramped restores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scheduler.domain.events import AIR_CONDITIONER, LOAD_CONTROL, Signal, TempUnit
from scheduler.domain.hvac import FacilityKey, FacilityState, Mode
from scheduler.domain.setpoints import (
    Change,
    Envelope,
    Skip,
    control_envelope,
    decide_setpoint,
)
from scheduler.domain.shaping import (
    Phase,
    PreCondition,
    Ramp,
    RampVerdict,
    Shaping,
    Window,
    facility_start,
    facility_timeline,
    precondition_setpoint,
    ramp_observation,
    ramp_setpoints,
    ramp_steps,
    recovery_schedule,
    start_delay,
)
from scheduler.domain.units import (
    convert_difference,
    convert_temperature,
    exact,
    is_on_grid,
    resolution,
)

C, F = TempUnit.C, TempUnit.F
COOL, HEAT = Mode.COOL, Mode.HEAT
T0 = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
KEY = FacilityKey("S001", "GW-01", "IDU", "IDU-0101")


def sig(lo: float | None = None, hi: float | None = None, unit: TempUnit | None = None) -> Signal:
    return Signal(
        "s1", LOAD_CONTROL, "x-loadControlLevelOffset", (AIR_CONDITIONER,), lo, hi, 4, unit
    )


def fac(
    set_temp: float,
    unit: TempUnit = F,
    mode: Mode = COOL,
    rng: tuple[float, float] | None = None,
) -> FacilityState:
    return FacilityState("IDU-0101", "IDU", True, mode, set_temp, unit, rng)


def envelope(signal: Signal, state: FacilityState) -> Envelope:
    found = control_envelope(signal, state)
    assert isinstance(found, Envelope), found
    return found


# -- pre-conditioning: table ----------------------------------------------------


@dataclass(frozen=True)
class PreCase:
    signal: Signal
    state: FacilityState
    offset: float
    unit: TempUnit
    expected: float | str  # the pre-condition setpoint, or a fragment of the skip


PRE_CASES = {
    "cool °F: 2F cooler": PreCase(sig(64, 86), fac(76), 2, F, 74.0),
    "cool °F: stops at min_temp": PreCase(sig(75, 86), fac(76), 3, F, 75.0),
    "cool °F: already at min_temp": PreCase(sig(76, 86), fac(76), 2, F, "already at or below"),
    "cool °F: below min_temp already": PreCase(sig(78, 86), fac(76), 2, F, "already at or below"),
    "cool °F: facility range floor": PreCase(sig(64, 86), fac(76, rng=(75, 86)), 4, F, 75.0),
    "cool °C unit, offset in F": PreCase(sig(64, 86), fac(24.0, C), 2, F, 23.0),
    "cool °C: 1F rounds toward original": PreCase(sig(64, 86), fac(24.0, C), 1, F, 23.5),
    "cool °C: 0.5C": PreCase(sig(64, 86), fac(24.0, C), 0.5, C, 23.5),
    "cool °C: °F min 74 = 23.33 °C": PreCase(sig(74, 86), fac(24.0, C), 2, C, 23.5),
    "cool °F, offset 1C = 1.8F: never more": PreCase(sig(64, 86), fac(76), 1, C, 75.0),
    "cool: event min 23 °C = 73.4 °F": PreCase(sig(23, 30, C), fac(76), 3, F, 74.0),
    "heat °F: 2F warmer": PreCase(sig(64, 86), fac(68, mode=HEAT), 2, F, 70.0),
    "heat °F: stops at max_temp": PreCase(sig(64, 69), fac(68, mode=HEAT), 3, F, 69.0),
    "heat °F: above max_temp already": PreCase(
        sig(64, 66), fac(68, mode=HEAT), 2, F, "at or above"
    ),
    "heat °C: range ceiling": PreCase(sig(64, 86), fac(20.0, C, HEAT, (16, 20.5)), 2, C, 20.5),
    "cool off-grid original": PreCase(sig(64, 86), fac(23.3, C), 1, C, 22.5),
}


@pytest.mark.parametrize("case", PRE_CASES.values(), ids=PRE_CASES.keys())
def test_precondition_table(case: PreCase) -> None:
    result = precondition_setpoint(
        envelope(case.signal, case.state),
        case.state.set_temp or 0,
        PreCondition(timedelta(hours=1), case.offset, case.unit),
    )
    if isinstance(case.expected, str):
        assert isinstance(result, Skip), result
        assert case.expected in result.reason
    else:
        assert isinstance(result, Change), result
        assert result.target == case.expected
        assert result.original == case.state.set_temp


# -- randomised start -------------------------------------------------------------


def test_start_delay_is_deterministic_and_within_spread() -> None:
    spread = timedelta(minutes=10)
    first = start_delay("ev-1", KEY, spread)
    assert first == start_delay("ev-1", KEY, spread)
    assert timedelta(0) <= first < spread
    assert start_delay("ev-1", KEY, None) == timedelta(0)
    assert start_delay("ev-1", KEY, timedelta(0)) == timedelta(0)


def test_start_delays_spread_over_the_window() -> None:
    """1,000 facilities: every tenth of the spread gets some, none gets a fifth of them."""
    spread = timedelta(minutes=10)
    keys = [FacilityKey("S", "GW", "IDU", f"IDU-{i:04d}") for i in range(1000)]
    buckets = [0] * 10
    for key in keys:
        buckets[int(start_delay("ev-1", key, spread) / spread * 10)] += 1
    assert min(buckets) > 50, buckets
    assert max(buckets) < 200, buckets
    other = [start_delay("ev-2", key, spread) for key in keys]
    assert other != [start_delay("ev-1", key, spread) for key in keys]


def test_facility_start_never_after_the_end() -> None:
    end = T0 + timedelta(minutes=1)
    assert facility_start("ev", KEY, T0, end, timedelta(hours=1)) <= end


# -- ramp: table ------------------------------------------------------------------


RAMP_CASES = {
    "no ramp: one step": (78.0, 74.0, F, None, (74.0,)),
    "1F steps": (78.0, 74.0, F, Ramp(1, F, timedelta(minutes=5)), (77.0, 76.0, 75.0, 74.0)),
    "2F steps, last short": (79.0, 74.0, F, Ramp(2, F, timedelta(minutes=5)), (77.0, 75.0, 74.0)),
    "°C unit, 1F step = 0.5C": (
        26.0,
        24.0,
        C,
        Ramp(1, F, timedelta(minutes=5)),
        (25.5, 25.0, 24.5, 24.0),
    ),
    "°C unit, 0.4C step: one grid step": (
        25.0,
        24.0,
        C,
        Ramp(0.4, C, timedelta(minutes=5)),
        (24.5, 24.0),
    ),
    "°F unit, 1C step = 1.8F -> 1F": (
        77.0,
        74.0,
        F,
        Ramp(1, C, timedelta(minutes=5)),
        (76.0, 75.0, 74.0),
    ),
    "heating ramps up": (66.0, 69.0, F, Ramp(1, F, timedelta(minutes=5)), (67.0, 68.0, 69.0)),
    "off-grid original": (26.0, 24.3, C, Ramp(1, C, timedelta(minutes=5)), (25.0, 24.3)),
    "step larger than the gap": (75.0, 74.0, F, Ramp(5, F, timedelta(minutes=5)), (74.0,)),
}


@pytest.mark.parametrize(
    ("target", "original", "unit", "ramp", "expected"), RAMP_CASES.values(), ids=RAMP_CASES.keys()
)
def test_ramp_table(
    target: float, original: float, unit: TempUnit, ramp: Ramp | None, expected: tuple[float, ...]
) -> None:
    assert ramp_setpoints(target, original, unit, ramp) == expected


def test_ramp_steps_in_time() -> None:
    steps = ramp_steps(78.0, 76.0, F, Ramp(1, F, timedelta(minutes=5)), T0)
    assert [(s.at, s.set_temp, s.phase) for s in steps] == [
        (T0, 77.0, Phase.RAMP),
        (T0 + timedelta(minutes=5), 76.0, Phase.RESTORE),
    ]


@pytest.mark.parametrize(
    ("observed", "policy", "verdict"),
    [
        (77.0, "respect", RampVerdict.CONTINUE),
        (77.4, "respect", RampVerdict.CONTINUE),  # within half a step
        (72.0, "respect", RampVerdict.ENDED),
        (72.0, "reassert", RampVerdict.RETRY),
    ],
)
def test_ramp_observation(observed: float, policy: str, verdict: RampVerdict) -> None:
    assert ramp_observation(observed, 77.0, F, policy) is verdict  # type: ignore[arg-type]  # literal from the table


# -- one facility's timeline ------------------------------------------------------


def window(restore_after: timedelta = timedelta(0)) -> Window:
    end = T0 + timedelta(hours=2)
    return Window("ev-1", T0, end, end + restore_after)


def test_timeline_without_shaping_is_the_plain_control() -> None:
    control = decide_setpoint(sig(64, 86), fac(74))
    steps = facility_timeline(window(), KEY, 74.0, control, None, Shaping())
    assert [(s.at, s.set_temp, s.phase) for s in steps] == [
        (T0, 78.0, Phase.CONTROL),
        (T0 + timedelta(hours=2), 74.0, Phase.RESTORE),
    ]


def test_timeline_with_every_strategy() -> None:
    state = fac(74)
    shaping = Shaping(
        PreCondition(timedelta(hours=1), 2, F),
        timedelta(minutes=10),
        timedelta(minutes=10),
        Ramp(2, F, timedelta(minutes=5)),
    )
    control = decide_setpoint(sig(64, 86), state)
    pre = precondition_setpoint(envelope(sig(64, 86), state), 74.0, shaping.pre_condition)  # type: ignore[arg-type]  # set above
    steps = facility_timeline(window(timedelta(minutes=3)), KEY, 74.0, control, pre, shaping)
    begin = facility_start("ev-1", KEY, T0, T0 + timedelta(hours=2), timedelta(minutes=10))
    restore = T0 + timedelta(hours=2, minutes=3)
    expected = [(T0 - timedelta(hours=1), 72.0, Phase.PRE_CONDITION)]
    if begin > T0:
        expected.append((T0, 74.0, Phase.RELEASE))
    expected += [
        (begin, 78.0, Phase.CONTROL),
        (restore, 76.0, Phase.RAMP),
        (restore + timedelta(minutes=5), 74.0, Phase.RESTORE),
    ]
    assert [(s.at, s.set_temp, s.phase) for s in steps] == expected


def test_timeline_skipped_facility_is_released_after_pre_conditioning() -> None:
    """Pre-conditioned but no DR setpoint (already at max): back to the original at start."""
    state = fac(74)
    shaping = Shaping(PreCondition(timedelta(hours=1), 2, F))
    control = Skip("no change needed")
    pre = precondition_setpoint(envelope(sig(64, 86), state), 74.0, shaping.pre_condition)  # type: ignore[arg-type]  # set above
    steps = facility_timeline(window(), KEY, 74.0, control, pre, shaping)
    assert [(s.at, s.set_temp, s.phase) for s in steps] == [
        (T0 - timedelta(hours=1), 72.0, Phase.PRE_CONDITION),
        (T0, 74.0, Phase.RELEASE),
    ]


# -- restarts ---------------------------------------------------------------------


def test_recovery_spreads_only_the_overdue() -> None:
    keys = [FacilityKey("S", "GW", "IDU", f"IDU-{i:02d}") for i in range(10)]
    now = T0 + timedelta(hours=1)
    due = [(k, T0) for k in keys[:8]] + [(k, now + timedelta(minutes=30)) for k in keys[8:]]
    plan = dict(
        recovery_schedule(due, now, timedelta(minutes=10), min_spacing=timedelta(minutes=1))
    )
    overdue = sorted(plan[k] for k in keys[:8])
    assert overdue[0] == now
    assert overdue[-1] == now + timedelta(minutes=10)
    assert len(set(overdue)) == 8  # not all at once
    assert all(plan[k] == now + timedelta(minutes=30) for k in keys[8:])


def test_recovery_gives_the_overdue_only_what_was_left_of_the_stagger() -> None:
    """A crash 4 min into a 10 min stagger: the rest is restored within 6 min of the restart."""
    keys = [FacilityKey("S", "GW", "IDU", f"IDU-{i:02d}") for i in range(6)]
    now = T0 + timedelta(hours=1)
    due = [(k, T0 + timedelta(minutes=4 + i)) for i, k in enumerate(keys)]
    plan = dict(
        recovery_schedule(
            due,
            now,
            timedelta(minutes=10),
            min_spacing=timedelta(minutes=1),
            until=T0 + timedelta(minutes=10),
        )
    )
    assert min(plan.values()) == now
    assert max(plan.values()) == now + timedelta(minutes=6)
    assert len(set(plan.values())) == 6  # still spread


# -- Shaping values ---------------------------------------------------------------


def test_shaping_round_trips_through_its_content() -> None:
    shaping = Shaping(
        PreCondition(timedelta(hours=1), 2, F),
        timedelta(minutes=10),
        timedelta(0),
        Ramp(0.5, C, timedelta(minutes=2)),
    )
    assert Shaping.from_content(shaping.content()) == shaping
    assert Shaping.from_content(None) is None


def test_shaping_defaults_fill_key_by_key() -> None:
    defaults = Shaping(
        None, timedelta(minutes=5), timedelta(minutes=10), Ramp(1, F, timedelta(minutes=5))
    )
    mine = Shaping(randomize_start=timedelta(0))
    merged = mine.over(defaults)
    assert merged.randomize_start == timedelta(0)  # an explicit zero wins
    assert merged.restore_stagger == timedelta(minutes=10)
    assert merged.ramp == defaults.ramp


# -- invariants (hypothesis) ------------------------------------------------------

units = st.sampled_from([C, F])


@st.composite
def controlled_states(draw: st.DrawFn) -> tuple[Signal, FacilityState]:
    unit = draw(units)
    step = resolution(unit)
    lo_f = draw(st.integers(64, 86))
    hi_f = draw(st.integers(lo_f, 86))
    signal_unit = draw(st.sampled_from([None, F, C]))
    if signal_unit is C:
        lo, hi = (float(convert_temperature(v, F, C)) for v in (lo_f, hi_f))
        signal = sig(round(lo, 1), round(hi, 1), C)
    else:
        signal = sig(lo_f, hi_f, signal_unit)
    base = convert_temperature(draw(st.integers(55, 90)), F, unit)
    original = float(round(base / step) * step + draw(st.sampled_from([0, 0, Fraction(1, 10)])))
    range_lo = float(convert_temperature(draw(st.integers(50, 75)), F, unit))
    range_hi = float(convert_temperature(draw(st.integers(76, 95)), F, unit))
    mode = draw(st.sampled_from([COOL, HEAT]))
    return signal, FacilityState("IDU-1", "IDU", True, mode, original, unit, (range_lo, range_hi))


@given(controlled_states(), st.floats(0.5, 10), units)
def test_precondition_stays_in_bounds_and_only_adds_load_before(
    case: tuple[Signal, FacilityState], offset: float, unit: TempUnit
) -> None:
    """Never outside the event bounds or facility range; only the load-adding way; on grid."""
    signal, state = case
    env = control_envelope(signal, state)
    assume(isinstance(env, Envelope))
    assert isinstance(env, Envelope)
    assert state.set_temp is not None
    result = precondition_setpoint(
        env, state.set_temp, PreCondition(timedelta(hours=1), offset, unit)
    )
    if isinstance(result, Skip):
        return
    target, original = exact(result.target), exact(state.set_temp)
    assert env.lo <= target <= env.hi
    assert is_on_grid(target, resolution(env.unit))
    assert abs(target - original) <= convert_difference(offset, unit, env.unit)  # never more
    if env.direction.value == "cool":
        assert target < original
    else:
        assert target > original


@given(
    st.integers(-40, 40),
    st.integers(1, 20),
    units,
    st.one_of(st.none(), st.builds(Ramp, st.floats(0.1, 10), units, st.just(timedelta(minutes=5)))),
    st.sampled_from([0, Fraction(3, 10)]),
)
def test_every_ramp_step_moves_toward_the_original_and_never_past_it(
    target_steps: int, gap_steps: int, unit: TempUnit, ramp: Ramp | None, off_grid: Fraction
) -> None:
    step = resolution(unit)
    target = target_steps * step + 70
    original = target + (gap_steps * step + off_grid) * (1 if target_steps % 2 else -1)
    values = [exact(v) for v in ramp_setpoints(float(target), float(original), unit, ramp)]
    assert values[-1] == original
    previous = target
    for value in values:
        assert abs(original - value) < abs(original - previous)  # strictly closer
        assert min(target, original) <= value <= max(target, original)  # never past it
        previous = value
    assert all(is_on_grid(v, step) for v in values[:-1])


@given(controlled_states(), st.integers(0, 3600), st.integers(0, 3600), st.booleans())
def test_timeline_never_adds_load_during_the_window(
    case: tuple[Signal, FacilityState], spread_s: int, pre_s: int, with_pre: bool
) -> None:
    """Inside [start, end) a setpoint is the original or sheds load; pre-conditioning before."""
    signal, state = case
    assert state.set_temp is not None
    env = control_envelope(signal, state)
    assume(isinstance(env, Envelope))
    assert isinstance(env, Envelope)
    shaping = Shaping(
        PreCondition(timedelta(seconds=pre_s + 900), 2, F) if with_pre else None,
        timedelta(seconds=spread_s),
        None,
        Ramp(1, F, timedelta(minutes=5)),
    )
    control = decide_setpoint(signal, state)
    pre = (
        precondition_setpoint(env, state.set_temp, shaping.pre_condition)
        if shaping.pre_condition
        else None
    )
    w = window()
    original, sign = exact(state.set_temp), env.direction.sign
    for s in facility_timeline(w, KEY, state.set_temp, control, pre, shaping):
        value = exact(s.set_temp)
        if s.phase is Phase.PRE_CONDITION:
            assert s.at < w.start
            assert (value - original) * sign < 0
            assert env.lo <= value <= env.hi
        elif w.start <= s.at < w.end:
            assert (value - original) * sign >= 0
            if s.phase is Phase.CONTROL:
                assert env.lo <= value <= env.hi
                assert s.at >= w.start
        else:
            assert s.phase in (Phase.RAMP, Phase.RESTORE)
