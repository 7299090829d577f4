"""Unit conversions, resolution grids and bound-keeping rounding (scheduler.domain.units)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.events import TempUnit
from scheduler.domain.units import (
    c_to_f,
    ceil_to_grid,
    convert_difference,
    convert_temperature,
    delta_c_to_f,
    delta_f_to_c,
    exact,
    f_to_c,
    floor_to_grid,
    format_temperature,
    is_on_grid,
    nearest_on_grid,
    resolution,
    round_within,
    within_tolerance,
)

C, F = TempUnit.C, TempUnit.F
HALF = Fraction(1, 2)
#: Temperatures written with one decimal, as in plans and BECON states.
decimals = st.integers(-400, 1200).map(lambda n: n / 10)
steps = st.sampled_from([HALF, Fraction(1)])


@pytest.mark.parametrize(
    ("celsius", "fahrenheit"),
    [(0, 32), (100, 212), (-40, -40), (25, 77), (30, 86), (26, Fraction(394, 5))],
)
def test_temperatures_convert_both_ways(celsius: Fraction, fahrenheit: Fraction) -> None:
    assert c_to_f(celsius) == fahrenheit
    assert f_to_c(fahrenheit) == celsius


def test_floats_are_read_as_the_decimal_written() -> None:
    # 78.8 °F is exactly 26 °C; the binary float 78.8 is slightly less.
    assert exact(78.8) == Fraction(394, 5)
    assert f_to_c(78.8) == 26
    assert floor_to_grid(f_to_c(78.8), HALF) == 26


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_temperatures_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        exact(bad)


def test_differences_have_no_zero_point() -> None:
    assert delta_c_to_f(2) == Fraction(18, 5)
    assert delta_f_to_c(4) == Fraction(20, 9)
    assert convert_difference(5, C, F) == 9  # not 41: an offset is not a temperature
    assert convert_temperature(5, C, F) == 41


def test_same_unit_is_the_identity() -> None:
    assert convert_temperature(24.5, C, C) == Fraction(49, 2)
    assert convert_difference(3, F, F) == 3


@given(decimals)
def test_difference_round_trips_f_c_f(delta: float) -> None:
    assert delta_c_to_f(delta_f_to_c(delta)) == exact(delta)
    assert convert_difference(convert_difference(delta, F, C), C, F) == exact(delta)


@given(decimals)
def test_temperature_round_trips_c_f_c(value: float) -> None:
    assert f_to_c(c_to_f(value)) == exact(value)


def test_resolution_per_unit() -> None:
    assert resolution(C) == HALF
    assert resolution(F) == 1


@pytest.mark.parametrize(
    ("value", "step", "floor", "ceil", "nearest_up", "nearest_down"),
    [
        (Fraction("26.2"), HALF, 26, Fraction("26.5"), 26, 26),
        (Fraction("26.25"), HALF, 26, Fraction("26.5"), Fraction("26.5"), 26),
        (Fraction("26.5"), HALF, Fraction("26.5"), Fraction("26.5"), Fraction("26.5"), 26.5),
        (Fraction("79.5"), Fraction(1), 79, 80, 80, 79),
        (Fraction("-0.3"), HALF, Fraction("-0.5"), 0, Fraction("-0.5"), Fraction("-0.5")),
    ],
)
def test_grid_rounding(
    value: Fraction,
    step: Fraction,
    floor: Fraction,
    ceil: Fraction,
    nearest_up: Fraction,
    nearest_down: Fraction,
) -> None:
    assert floor_to_grid(value, step) == floor
    assert ceil_to_grid(value, step) == ceil
    assert nearest_on_grid(value, step, ties="up") == nearest_up
    assert nearest_on_grid(value, step, ties="down") == nearest_down
    assert is_on_grid(floor, step)


@pytest.mark.parametrize(
    ("value", "lo", "hi", "step", "expected"),
    [
        (26.3, 24, 26.4, HALF, 26),  # nearest (26.5) would cross max
        (19.7, 19.6, 22, HALF, 20),  # nearest (19.5) would cross min
        (79.6, 70, 79.7, Fraction(1), 79),
        (25, 24, 30, HALF, 25),  # inside and on the grid: itself
        (40, 24, 30, HALF, 30),  # beyond: the bound
        (26.2, 26.1, 26.4, HALF, None),  # no grid point inside
    ],
)
def test_round_within_never_crosses_a_bound(
    value: float, lo: float, hi: float, step: Fraction, expected: float | None
) -> None:
    result = round_within(value, lo, hi, step)
    assert result == (None if expected is None else exact(expected))


@given(decimals, decimals, decimals, steps, st.sampled_from(["up", "down"]))
def test_round_within_is_the_nearest_grid_point_inside(
    value: float, a: float, b: float, step: Fraction, ties: str
) -> None:
    lo, hi = sorted((exact(a), exact(b)))
    result = round_within(value, lo, hi, step, ties="up" if ties == "up" else "down")
    inside = [ceil_to_grid(lo, step) + i * step for i in range(int((hi - lo) / step) + 2)]
    inside = [g for g in inside if lo <= g <= hi]
    if not inside:
        assert result is None
        return
    assert result is not None
    assert lo <= result <= hi
    assert is_on_grid(result, step)
    assert abs(result - exact(value)) == min(abs(g - exact(value)) for g in inside)


def test_tolerance_is_half_the_resolution() -> None:
    assert within_tolerance(26.25, 26, C)
    assert not within_tolerance(26.3, 26, C)
    assert within_tolerance(78.5, 78, F)
    assert not within_tolerance(78.6, 78, F)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(26, C, "26 °C"), (26.5, C, "26.5 °C"), (f_to_c(80), C, "26.67 °C"), (-0.001, F, "0 °F")],
)
def test_format_temperature(value: float, unit: TempUnit, text: str) -> None:
    assert format_temperature(value, unit) == text
