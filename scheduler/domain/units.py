"""Temperatures in °F and °C: conversions, resolution grids, rounding that keeps to bounds.

Arithmetic is exact (:class:`fractions.Fraction`): a bound such as 78.8 °F is
exactly 26 °C, and a float rounding error must never push a setpoint across
it. Floats coming from JSON or YAML are read as the decimal they were written
as (``78.8`` is 394/5, not the binary float just below it).

DR spec "POST /requests" Contract: bounds convert as temperatures, the offset
as a temperature *difference* (ΔF = ΔC × 9/5). BECON facilities take
setpoints in steps of 0.5 °C or 1 °F (DESIGN.md "HVAC control").
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from scheduler.domain.events import TempUnit

Number = float | int | Fraction

#: Ties go up or down when a value lies exactly between two grid points.
Ties = Literal["up", "down"]

_NINE_FIFTHS = Fraction(9, 5)
_FREEZING_F = Fraction(32)

#: The setpoint step of a facility working in each unit (DESIGN.md).
RESOLUTION: dict[TempUnit, Fraction] = {TempUnit.C: Fraction(1, 2), TempUnit.F: Fraction(1)}


def exact(value: Number) -> Fraction:
    """``value`` as an exact fraction; a float is read as its shortest decimal form."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"temperature must be finite, got {value!r}")
        return Fraction(repr(value))
    return Fraction(value)


def c_to_f(celsius: Number) -> Fraction:
    """A temperature: F = C × 9/5 + 32."""
    return exact(celsius) * _NINE_FIFTHS + _FREEZING_F


def f_to_c(fahrenheit: Number) -> Fraction:
    """A temperature: C = (F − 32) × 5/9."""
    return (exact(fahrenheit) - _FREEZING_F) / _NINE_FIFTHS


def delta_c_to_f(delta: Number) -> Fraction:
    """A difference: ΔF = ΔC × 9/5 (no 32: a difference has no zero point)."""
    return exact(delta) * _NINE_FIFTHS


def delta_f_to_c(delta: Number) -> Fraction:
    """A difference: ΔC = ΔF × 5/9."""
    return exact(delta) / _NINE_FIFTHS


def convert_temperature(value: Number, source: TempUnit, dest: TempUnit) -> Fraction:
    """A temperature from ``source`` to ``dest`` unit (the identity when they are equal)."""
    if source == dest:
        return exact(value)
    return c_to_f(value) if source == TempUnit.C else f_to_c(value)


def convert_difference(value: Number, source: TempUnit, dest: TempUnit) -> Fraction:
    """A temperature difference (an offset, a tolerance) from ``source`` to ``dest``."""
    if source == dest:
        return exact(value)
    return delta_c_to_f(value) if source == TempUnit.C else delta_f_to_c(value)


def resolution(unit: TempUnit) -> Fraction:
    """The setpoint step in ``unit``: 0.5 °C or 1 °F."""
    return RESOLUTION[unit]


def floor_to_grid(value: Number, step: Fraction) -> Fraction:
    """The largest multiple of ``step`` not above ``value``."""
    return math.floor(exact(value) / step) * step


def ceil_to_grid(value: Number, step: Fraction) -> Fraction:
    """The smallest multiple of ``step`` not below ``value``."""
    return math.ceil(exact(value) / step) * step


def is_on_grid(value: Number, step: Fraction) -> bool:
    return (exact(value) / step).denominator == 1


def nearest_on_grid(value: Number, step: Fraction, *, ties: Ties = "up") -> Fraction:
    """The multiple of ``step`` nearest ``value``; an exact tie goes the ``ties`` way."""
    below = floor_to_grid(value, step)
    above = below + step
    distance_below, distance_above = exact(value) - below, above - exact(value)
    if distance_below == distance_above:
        return above if ties == "up" else below
    return below if distance_below < distance_above else above


def round_within(
    value: Number, lo: Number, hi: Number, step: Fraction, *, ties: Ties = "up"
) -> Fraction | None:
    """The grid point nearest ``value`` that lies inside ``[lo, hi]``, or None if none does.

    When nearest rounding would leave the interval (79.6 with ``hi`` 79.7 on a
    1 °F grid), the result is the grid point just inside instead: a rounded
    setpoint never crosses a bound.
    """
    inner_lo, inner_hi = ceil_to_grid(lo, step), floor_to_grid(hi, step)
    if inner_lo > inner_hi:
        return None
    return min(max(nearest_on_grid(value, step, ties=ties), inner_lo), inner_hi)


def within_tolerance(a: Number, b: Number, unit: TempUnit) -> bool:
    """Equal for a facility's purposes: no more than half a resolution step apart."""
    return abs(exact(a) - exact(b)) <= resolution(unit) / 2


def format_temperature(value: Number, unit: TempUnit) -> str:
    """For reasons and logs: ``26.5 °C``, ``79 °F``, ``26.67 °C`` (two decimals at most)."""
    text = f"{float(exact(value)):.2f}".rstrip("0").rstrip(".")
    return f"{'0' if text == '-0' else text} °{unit.value}"
