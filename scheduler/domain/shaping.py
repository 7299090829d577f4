"""Load shaping: pre-conditioning, randomised starts and ramped restores, as pure rules.

Issue 15. Moving thousands of units at one instant makes new peaks: every
unit jumps at the start and rebounds at the end. Three strategies spread
that load (OpenADR ``randomizeStart``, EPRI/OpenLEADR recovery periods,
VOLTTRON ILC's staggered release, pre-cooling before the peak):

- ``pre_condition``: for ``duration`` before the window, a cooling unit is
  set ``offset`` cooler than its original (a heating unit warmer), never
  below the event's ``min_temp`` (above its ``max_temp`` when heating) nor
  outside the facility's range, and never during the window;
- ``randomize_start``: each facility starts at ``start + delay`` with a
  delay in ``[0, D)`` drawn from the event id and the facility key (a
  restart draws the same one); the end is not randomised;
- ``restore``: the restore slots spread over ``stagger``; with ``ramp``
  each unit walks back to its original in steps of ``step`` every
  ``every``, never beyond the original.

Everything here takes instants as arguments: :func:`facility_timeline` is
the whole plan of one facility as (instant, setpoint) steps, so a fake
clock (the engine's or the deterministic simulation's) can drive it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import (
    DEFAULT_RESTORE_SPACING,
    Direction,
    FacilityKey,
    OverridePolicy,
    restore_schedule,
)
from scheduler.domain.setpoints import Change, Envelope, Skip

# The knobs, as values: a module of their own (reading a plan needs only them); re-exported.
from scheduler.domain.shaping_knobs import PreCondition as PreCondition
from scheduler.domain.shaping_knobs import Ramp as Ramp
from scheduler.domain.shaping_knobs import Shaping as Shaping
from scheduler.domain.units import (
    convert_difference,
    exact,
    floor_to_grid,
    format_temperature,
    resolution,
    round_within,
    within_tolerance,
)

# -- pre-conditioning -----------------------------------------------------------


def precondition_setpoint(envelope: Envelope, original: float, pre: PreCondition) -> Change | Skip:
    """The setpoint before the window: up to ``offset`` the load-adding way, inside the envelope.

    Cooling lowers (never below ``envelope.lo``: the event's min_temp clamped
    into the facility range), heating raises (never above ``envelope.hi``).
    The result lies between the original and ``original ∓ offset`` (never
    more than asked) and inside the envelope; a unit already past the
    reversed bound, or with no grid step left there, is skipped.
    """
    unit, step = envelope.unit, resolution(envelope.unit)
    base = exact(original)
    offset = convert_difference(pre.offset, pre.unit, unit)
    if envelope.direction is Direction.COOL:
        wish, past, side = base - offset, base <= envelope.lo, "at or below the event min"
        lo, hi = max(envelope.lo, wish), min(envelope.hi, base)
    else:
        wish, past, side = base + offset, base >= envelope.hi, "at or above the event max"
        lo, hi = max(envelope.lo, base), min(envelope.hi, wish)
    if past:
        return Skip(f"pre-condition: {_t(base, unit)} already {side}")
    target = round_within(wish, lo, hi, step) if lo <= hi else None
    if target is None or target == base:
        return Skip(
            f"pre-condition: no {_t(step, unit)} step between {_t(lo, unit)} and {_t(hi, unit)}"
        )
    verb = "cooler" if envelope.direction is Direction.COOL else "warmer"
    reason = f"pre-condition {_t(offset, unit)} {verb}: {_t(base, unit)} -> {_t(target, unit)}"
    return Change(original, float(target), unit, reason)


# -- randomised start -----------------------------------------------------------


def start_delay(event_id: str, key: FacilityKey, spread: timedelta | None) -> timedelta:
    """A delay in ``[0, spread)`` from the event and facility alone (a restart draws the same).

    SHA-256 of both ids, to the millisecond: uniform enough for thousands of
    facilities, and independent of process, order and Python's hash seed.
    """
    if spread is None or spread <= timedelta(0):
        return timedelta(0)
    span_ms = max(1, int(spread / timedelta(milliseconds=1)))
    digest = hashlib.sha256(f"{event_id}\x00{key}".encode()).digest()
    return timedelta(milliseconds=int.from_bytes(digest[:8], "big") % span_ms)


def facility_start(
    event_id: str,
    key: FacilityKey,
    start: datetime,
    end: datetime,
    spread: timedelta | None,
    *,
    slot: timedelta | None = None,
) -> datetime:
    """When ``key`` gets its DR setpoint: ``start + delay``, never later than ``end``.

    With ``slot`` the delay is rounded down to a multiple of it: the units
    starting in one slot share a state read and a PUT per gateway and type.
    """
    delay = start_delay(event_id, key, spread)
    if slot is not None and slot > timedelta(0):
        delay = slot * (delay // slot)
    return min(start + delay, end)


# -- ramped restore -------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One setpoint to send at ``at``; ``phase`` says why (reports, logs, the simulation)."""

    at: datetime
    set_temp: float
    phase: Phase


class Phase(StrEnum):
    PRE_CONDITION = "pre_condition"
    RELEASE = "release"  # back to the original at the window start (pre-conditioned, delayed)
    CONTROL = "control"  # the DR setpoint
    RAMP = "ramp"  # a restore step short of the original
    RESTORE = "restore"  # the original


def ramp_step_size(ramp: Ramp, unit: TempUnit) -> Fraction:
    """The ramp's step in ``unit`` on the facility's grid: rounded down, at least one step."""
    step = resolution(unit)
    return max(step, floor_to_grid(convert_difference(ramp.step, ramp.unit, unit), step))


def ramp_setpoints(
    target: float, original: float, unit: TempUnit, ramp: Ramp | None
) -> tuple[float, ...]:
    """The setpoints from ``target`` back to ``original``, the last one exactly ``original``.

    Each is one step closer than the one before and none passes the original;
    without a ramp the original comes back in one step.
    """
    low, high = exact(target), exact(original)
    if ramp is None or low == high:
        return (original,)
    size = ramp_step_size(ramp, unit)
    toward = 1 if high > low else -1
    points: list[float] = []
    value = low + toward * size
    while (high - value) * toward > 0:
        points.append(float(value))
        value += toward * size
    points.append(original)
    return tuple(points)


def ramp_steps(
    target: float, original: float, unit: TempUnit, ramp: Ramp | None, begin: datetime
) -> tuple[Step, ...]:
    """:func:`ramp_setpoints` in time: the first at ``begin``, then one every ``ramp.every``."""
    values = ramp_setpoints(target, original, unit, ramp)
    every = ramp.every if ramp else timedelta(0)
    last = len(values) - 1
    return tuple(
        Step(begin + every * i, v, Phase.RESTORE if i == last else Phase.RAMP)
        for i, v in enumerate(values)
    )


class RampVerdict(StrEnum):
    CONTINUE = "continue"
    RETRY = "retry"  # not at the step we sent: send it again (reassert)
    ENDED = "ended"  # the occupant took over (respect): no more steps for this unit


def ramp_observation(
    observed: float, sent: float, unit: TempUnit, policy: OverridePolicy
) -> RampVerdict:
    """Whether a ramp step was verified: under ``respect`` another value ends the ramp."""
    if within_tolerance(observed, sent, unit):
        return RampVerdict.CONTINUE
    return RampVerdict.ENDED if policy == "respect" else RampVerdict.RETRY


# -- one facility's whole plan --------------------------------------------------


@dataclass(frozen=True)
class Window:
    """An event's window and the instant a facility's restore begins (its stagger slot)."""

    event_id: str
    start: datetime
    end: datetime
    restore_at: datetime


def facility_timeline(
    window: Window,
    key: FacilityKey,
    original: float,
    control: Change | Skip,
    pre: Change | Skip | None,
    shaping: Shaping,
) -> tuple[Step, ...]:
    """Every setpoint ``key`` gets for one event, in time order.

    Pre-conditioning runs in ``[start − duration, start)``; at the window
    start a pre-conditioned unit goes to its DR setpoint if its randomised
    start has come, else back to its original (the window never holds a
    pre-conditioned setpoint: that would add load). The DR setpoint comes at
    the facility's own start; the restore ramp begins at ``restore_at``.
    """
    steps: list[Step] = []
    begin = facility_start(window.event_id, key, window.start, window.end, shaping.randomize_start)
    if isinstance(pre, Change) and shaping.pre_condition is not None:
        pre_at = window.start - shaping.pre_condition.duration
        steps.append(Step(pre_at, pre.target, Phase.PRE_CONDITION))
        if begin > window.start or not isinstance(control, Change):
            steps.append(Step(window.start, original, Phase.RELEASE))
    if isinstance(control, Change) and begin < window.end:
        steps.append(Step(begin, control.target, Phase.CONTROL))
        restore_at = max(window.restore_at, window.end)
        steps.extend(ramp_steps(control.target, original, control.unit, shaping.ramp, restore_at))
    return tuple(steps)


# -- restarts -------------------------------------------------------------------


def recovery_schedule(
    due: Iterable[tuple[FacilityKey, datetime]],
    now: datetime,
    stagger: timedelta,
    *,
    min_spacing: timedelta = DEFAULT_RESTORE_SPACING,
    until: datetime | None = None,
) -> list[tuple[FacilityKey, datetime]]:
    """Restore instants after a restart: what is overdue is spread from ``now`` over ``stagger``.

    A crash that outlived the window must not turn into one rebound step for
    every overdue unit; restores still ahead keep their slot. ``until`` is
    when the interrupted schedule was to end (its base + the stagger): the
    overdue then get only what was left of it after the first of them was
    due, so a crash delays the restores by its downtime and never adds a
    whole new stagger (invariant 5: end + restore time + one retry).
    """
    overdue: list[tuple[FacilityKey, datetime]] = []
    ahead: list[tuple[FacilityKey, datetime]] = []
    for key, at in due:
        (overdue if at <= now else ahead).append((key, at))
    if until is not None and overdue:
        left = until - min(at for _, at in overdue)
        stagger = min(stagger, max(left, timedelta(0)))
    spread = restore_schedule([k for k, _ in overdue], now, stagger, min_spacing=min_spacing)
    return sorted(spread + ahead, key=lambda pair: (pair[1], pair[0]))


def _t(value: Fraction, unit: TempUnit) -> str:
    return format_temperature(value, unit)
