"""The DR setpoint of one facility: :func:`decide_setpoint` returns a Change or a Skip.

Rules from DESIGN.md "HVAC control during an active window" and the DR spec
(POST /requests, LOAD_CONTROL), applied in this order:

1. Eligibility. A facility without a setpoint (no ``setTemp``: ``ODU``,
   ``AIRCARE``), powered off, in ``fan`` mode, or in ``auto`` mode while
   ``hvac.auto_mode`` is ``skip`` is skipped with the reason. ``dry`` counts
   as cooling: a dehumidifying unit cools towards its setpoint, so raising
   it sheds load as in ``cool``. ``auto`` follows ``hvac.auto_mode``.
2. Units. Missing signal fields take the DR spec's defaults (min 64 °F,
   max 86 °F, offset 4 °F; no unit means °F). Bounds convert into the
   facility's unit as temperatures, the offset as a difference.
3. Event window: the bounds shrink inwards to the facility's grid (0.5 °C,
   1 °F). When no grid point lies inside them (``minTemp == maxTemp`` on a
   value the facility cannot show, or a very narrow window) the facility is
   skipped with the reason: the grid point on the load-shedding side would
   leave the bounds (26 °C on a °F unit is 78.8 °F: 79 °F is above the max,
   78 °F below the min), and the other side would add load (issue 10).
4. Facility range: the window is clamped into ``setTempRange`` (shrunk
   inwards to the grid). It is a hard limit (BECON rejects ``out_of_range``),
   so it applies after the event bounds. An event window entirely outside
   the range is a Skip: no setpoint would satisfy both, and a setpoint is
   never sent outside the event's bounds.
5. Wish: ``minTemp == maxTemp`` asks for exactly that value (the offset is
   ignored); otherwise cooling asks for ``original + offset``, heating for
   ``original − offset``.
6. Never add load: cooling never lowers a setpoint, heating never raises
   one. If the window lies entirely on the wrong side of the original, this
   rule wins and the facility is skipped rather than moved the wrong way.
7. Rounding: the wish goes to the nearest grid point inside what remains,
   ties towards shedding load, never across a bound. Equal to the original
   means nothing to do: a Skip.

A facility that reports ``setTemp`` but no ``setTempRange`` is controlled
within the event bounds alone (BECON would reject an out-of-range value for
that facility only).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from scheduler.domain.events import Signal, TempUnit
from scheduler.domain.hvac import AutoMode, Controlled, Direction, FacilityKey, FacilityState, Mode
from scheduler.domain.units import (
    Ties,
    ceil_to_grid,
    convert_difference,
    convert_temperature,
    exact,
    floor_to_grid,
    format_temperature,
    resolution,
    round_within,
)

#: DR spec, POST /requests: defaults of a LOAD_CONTROL signal, in °F.
DEFAULT_MIN_TEMP_F = 64
DEFAULT_MAX_TEMP_F = 86
DEFAULT_TEMP_OFFSET_F = 4

_Window = tuple[Fraction, Fraction]


@dataclass(frozen=True)
class Change:
    """Move the setpoint from ``original`` to ``target`` (both in ``unit``)."""

    original: float
    target: float
    unit: TempUnit
    reason: str

    def controlled(self, key: FacilityKey, mode: Mode) -> Controlled:
        """The record to store before the PUT (DESIGN.md rule 2, "intent before effect")."""
        return Controlled(key, self.original, self.target, self.unit, mode)


@dataclass(frozen=True)
class Skip:
    """Leave the facility alone, and say why (shown by ``drsched hvac status``)."""

    reason: str


Decision = Change | Skip


@dataclass(frozen=True)
class EventBounds:
    """A LOAD_CONTROL signal's bounds and offset in one unit, defaults applied."""

    lo: Fraction
    hi: Fraction
    offset: Fraction
    unit: TempUnit
    #: The unit the event was written in (for reasons that quote its bounds).
    given: TempUnit | None = None

    @property
    def exact_value(self) -> bool:
        """DR spec: "when minTemp == maxTemp, the target temperature is exactly that value"."""
        return self.lo == self.hi


def event_bounds(signal: Signal, unit: TempUnit) -> EventBounds:
    """The signal's minTemp, maxTemp and tempOffset in ``unit`` (DR spec defaults in °F)."""
    given = signal.unit or TempUnit.F

    def temperature(value: float | None, default_f: int) -> Fraction:
        if value is None:
            return convert_temperature(default_f, TempUnit.F, unit)
        return convert_temperature(value, given, unit)

    offset = (
        convert_difference(DEFAULT_TEMP_OFFSET_F, TempUnit.F, unit)
        if signal.temp_offset is None
        else convert_difference(signal.temp_offset, given, unit)
    )
    return EventBounds(
        temperature(signal.min_temp, DEFAULT_MIN_TEMP_F),
        temperature(signal.max_temp, DEFAULT_MAX_TEMP_F),
        offset,
        unit,
        given,
    )


def decide_setpoint(
    signal: Signal, state: FacilityState, *, auto_mode: AutoMode = "skip"
) -> Decision:
    """The DR setpoint of ``state``'s facility under ``signal``, or why it is left alone."""
    found = _controllable(signal, state, auto_mode)
    if isinstance(found, Skip):
        return found
    direction, bounds, set_temp, _ = found
    return _decide(set_temp, state.set_temp_range, direction, bounds)


def _controllable(
    signal: Signal, state: FacilityState, auto_mode: AutoMode
) -> tuple[Direction, EventBounds, float, TempUnit] | Skip:
    """Rule 1 and the event's bounds in the facility's unit, or why it has no DR setpoint."""
    if state.set_temp is None or state.unit is None:
        return Skip(f"type {state.facility_type} has no setpoint")
    if not state.power_on:
        return Skip("powered off")
    direction = _direction(state.mode, auto_mode)
    if isinstance(direction, Skip):
        return direction
    bounds = event_bounds(signal, state.unit)
    if bounds.lo > bounds.hi:
        low, high = (format_temperature(v, state.unit) for v in (bounds.lo, bounds.hi))
        return Skip(f"event bounds inverted: min {low} > max {high}")
    return direction, bounds, state.set_temp, state.unit


@dataclass(frozen=True)
class Envelope:
    """Where a facility's setpoint may go under an event: rules 1 to 4, on the grid.

    Load shaping (:mod:`scheduler.domain.shaping`) works inside it: the
    event's bounds clamped into the facility's range, in the facility's unit.
    """

    direction: Direction
    lo: Fraction
    hi: Fraction
    unit: TempUnit
    bounds: EventBounds


def control_envelope(
    signal: Signal, state: FacilityState, *, auto_mode: AutoMode = "skip"
) -> Envelope | Skip:
    """Rules 1 to 4 for ``state``'s facility: its direction and window, or why it has none."""
    found = _controllable(signal, state, auto_mode)
    if isinstance(found, Skip):
        return found
    direction, bounds, _, unit = found
    work = _Work(direction, bounds, [])
    window = _event_window(work)
    if isinstance(window, Skip):
        return window
    limited = _facility_window(window, state.set_temp_range, work)
    if isinstance(limited, Skip):
        return limited
    return Envelope(direction, limited[0], limited[1], unit, bounds)


def _direction(mode: Mode | None, auto_mode: AutoMode) -> Direction | Skip:
    """Rule 1: which way sheds load in this mode, or why the mode has none."""
    if mode in (Mode.COOL, Mode.DRY):
        return Direction.COOL
    if mode == Mode.HEAT:
        return Direction.HEAT
    if mode == Mode.AUTO:
        if auto_mode == "skip":
            return Skip("auto mode skipped (hvac.auto_mode: skip)")
        return Direction(auto_mode)
    if mode is None:
        return Skip("reports no operation mode")
    return Skip(f"mode {mode.value} has no setpoint")


@dataclass
class _Work:
    """What the steps of one decision share: the direction, the bounds, notes for the reason."""

    direction: Direction
    bounds: EventBounds
    notes: list[str]

    @property
    def step(self) -> Fraction:
        return resolution(self.bounds.unit)

    def t(self, value: Fraction) -> str:
        return format_temperature(value, self.bounds.unit)


def _decide(
    set_temp: float,
    set_temp_range: tuple[float, float] | None,
    direction: Direction,
    bounds: EventBounds,
) -> Decision:
    work = _Work(direction, bounds, [])
    window = _event_window(work)
    if isinstance(window, Skip):
        return window
    limited = _facility_window(window, set_temp_range, work)
    if isinstance(limited, Skip):
        return limited
    original = exact(set_temp)
    if bounds.exact_value:
        wish, asked = window[0], f"event sets {work.t(bounds.lo)}"
    else:
        wish = original + direction.sign * bounds.offset
        sign = "+" if direction is Direction.COOL else "-"
        asked = f"{work.t(original)} {sign} offset {work.t(bounds.offset)}"
    return _settle(set_temp, wish, limited, f"{direction.value}: {asked}", work)


def _event_window(work: _Work) -> _Window | Skip:
    """Rule 3: the event bounds on the facility's grid, or why no setpoint keeps to them."""
    lo, hi = ceil_to_grid(work.bounds.lo, work.step), floor_to_grid(work.bounds.hi, work.step)
    if lo <= hi:
        return lo, hi
    bounds = work.bounds
    given = f"{work.t(bounds.lo)}..{work.t(bounds.hi)}"
    if bounds.given is not None and bounds.given != bounds.unit:
        other = bounds.given
        low, high = (convert_temperature(v, bounds.unit, other) for v in (bounds.lo, bounds.hi))
        given += f" ({format_temperature(low, other)}..{format_temperature(high, other)})"
    return Skip(
        f"no {work.t(work.step)} step within the event bounds {given}: a setpoint would leave them"
    )


def _facility_window(
    window: _Window, set_temp_range: tuple[float, float] | None, work: _Work
) -> _Window | Skip:
    """Rule 4: clamp the window into the facility's own range (a hard limit)."""
    if set_temp_range is None:
        return window
    low, high = exact(set_temp_range[0]), exact(set_temp_range[1])
    f_lo, f_hi = ceil_to_grid(low, work.step), floor_to_grid(high, work.step)
    described = f"{work.t(low)}..{work.t(high)}"
    if f_lo > f_hi:
        return Skip(f"setTempRange {described} holds no {work.t(work.step)} step")
    if window[1] < f_lo or window[0] > f_hi:  # no setpoint satisfies both: never leave the bounds
        return Skip(
            f"event bounds {work.t(window[0])}..{work.t(window[1])} lie outside the "
            f"facility's setTempRange {described}"
        )
    limited = (min(max(window[0], f_lo), f_hi), min(max(window[1], f_lo), f_hi))
    if limited != window:
        work.notes.append(f"event bounds limited to the facility's range {described}")
    return limited


def _settle(set_temp: float, wish: Fraction, window: _Window, asked: str, work: _Work) -> Decision:
    """Rules 6 and 7: keep to the load-shedding side of the original, round, compare."""
    original, (lo, hi) = exact(set_temp), window
    if work.direction is Direction.COOL:
        if hi < original:
            return _adds_load(original, hi, "above the allowed maximum", "lowering", work)
        lo = max(lo, original)
    else:
        if lo > original:
            return _adds_load(original, lo, "below the allowed minimum", "raising", work)
        hi = min(hi, original)
    target = round_within(wish, lo, hi, work.step, ties=_ties(work.direction))
    if target is None:  # unreachable: lo and hi straddle a grid point by construction
        return Skip(f"no setpoint step between {work.t(lo)} and {work.t(hi)}")
    if target == original:
        where = "at the target" if wish == original else "as far as the bounds allow"
        return Skip(f"no change needed: {work.t(original)} is already {where} ({asked})")
    _note_adjustment(wish, target, lo, hi, work)
    detail = f" ({'; '.join(work.notes)})" if work.notes else ""
    return Change(set_temp, float(target), work.bounds.unit, f"{asked} -> {work.t(target)}{detail}")


def _note_adjustment(
    wish: Fraction, target: Fraction, lo: Fraction, hi: Fraction, work: _Work
) -> None:
    if wish > hi:
        work.notes.append(f"capped at {work.t(hi)}")
    elif wish < lo:
        work.notes.append(f"raised to {work.t(lo)}")
    elif target != wish:
        work.notes.append(f"{work.t(wish)} rounded to the {work.t(work.step)} step")


def _adds_load(original: Fraction, limit: Fraction, where: str, move: str, work: _Work) -> Skip:
    return Skip(
        f"setpoint {work.t(original)} already {where} {work.t(limit)}: {move} it would add load"
    )


def _ties(direction: Direction) -> Ties:
    """Ties go the load-shedding way: the facility does at least what was asked."""
    return "up" if direction is Direction.COOL else "down"
