"""What an observed facility state means for a facility under DR control.

DESIGN.md "HVAC control": during the window the state is checked every
``hvac.verify_interval``; an occupant's change is an opt-out
(``hvac.override: respect``) or is re-applied (``reassert``). At the end the
original setpoint comes back, except where the occupant changed it under
``respect``. Above all (DESIGN.md rule 2): never leave a facility at its DR
setpoint after the window.

"Still at the target" allows half the facility's resolution (0.25 °C,
0.5 °F): a unit that reports in the other unit, or rounds what it was sent,
is not an occupant's change.

Only the setpoint is ours. Power and mode belong to the occupant, so:

- powered off with the setpoint still at the DR target: still controlled
  (and restored at the end, so the unit does not come back on at a DR
  setpoint), under both policies;
- a mode change other than cool <-> dry makes the DR target meaningless or
  harmful (a cooling target raised 2 °C becomes a heating setpoint 2 °C
  higher): if the setpoint is still at the target it is released (restored
  now, then left alone); if the occupant also moved the setpoint, it is an
  opt-out. Re-applying across a mode change could add load, so ``reassert``
  does not;
- under ``reassert`` a moved setpoint is re-applied only when the occupant
  moved it the load-adding way; one moved further the shedding way is left
  as it is (it is still restored at the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from scheduler.domain.hvac import Controlled, Direction, FacilityState, Mode, OverridePolicy
from scheduler.domain.units import (
    convert_temperature,
    exact,
    format_temperature,
    within_tolerance,
)


class VerdictKind(StrEnum):
    OK = "ok"  # nothing to do; still controlled
    REAPPLY = "reapply"  # PUT the DR target again (reassert)
    OPT_OUT = "opt_out"  # no longer controlled; not restored
    RELEASE = "release"  # restore the original now; no longer controlled


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    reason: str


class RestoreKind(StrEnum):
    RESTORE = "restore"  # PUT the original setpoint
    LEAVE = "leave"  # the occupant's setpoint stays
    ALREADY_ORIGINAL = "already_original"  # nothing to do


@dataclass(frozen=True)
class RestoreDecision:
    kind: RestoreKind
    reason: str


def _family(mode: Mode | None) -> Mode | None:
    """Modes that share a setpoint meaning: dry cools like cool (see setpoints rule 1)."""
    return Mode.COOL if mode == Mode.DRY else mode


def _observed(controlled: Controlled, observed: FacilityState) -> Fraction | None:
    """The observed setpoint in the controlled unit, or None when none is reported."""
    if observed.set_temp is None or observed.unit is None:
        return None
    return convert_temperature(observed.set_temp, observed.unit, controlled.unit)


def classify_observation(
    controlled: Controlled, observed: FacilityState, policy: OverridePolicy
) -> Verdict:
    """What the state seen during the window asks of the engine (module docstring rules)."""
    value = _observed(controlled, observed)
    if value is None:
        return Verdict(VerdictKind.OPT_OUT, "reports no setpoint any more")
    shown = format_temperature(value, controlled.unit)
    at_target = within_tolerance(value, controlled.target, controlled.unit)
    if _family(observed.mode) != _family(controlled.mode):
        change = f"mode changed from {controlled.mode.value} to {observed.mode or 'none'}"
        if at_target:
            return Verdict(VerdictKind.RELEASE, f"{change}: the DR setpoint no longer applies")
        return Verdict(VerdictKind.OPT_OUT, f"{change} and setpoint to {shown} by the occupant")
    if at_target:
        power = "" if observed.power_on else " (powered off by the occupant)"
        return Verdict(VerdictKind.OK, f"at the DR setpoint {shown}{power}")
    return _moved(controlled, value, shown, policy)


def _moved(controlled: Controlled, value: Fraction, shown: str, policy: OverridePolicy) -> Verdict:
    """The occupant moved the setpoint in the same mode."""
    moved = f"occupant changed the setpoint to {shown}"
    if policy == "respect":
        return Verdict(VerdictKind.OPT_OUT, f"{moved} (hvac.override: respect)")
    sign = controlled.direction.sign
    if (value - exact(controlled.target)) * sign > 0:
        shedding = "raised" if controlled.direction is Direction.COOL else "lowered"
        return Verdict(VerdictKind.OK, f"{moved}: {shedding} further, left as is")
    target = format_temperature(controlled.target, controlled.unit)
    return Verdict(VerdictKind.REAPPLY, f"{moved}: back to {target} (hvac.override: reassert)")


def restore_decision(
    controlled: Controlled, observed: FacilityState, *, policy: OverridePolicy = "respect"
) -> RestoreDecision:
    """At the window's end or on cancel: put the original back, or leave the occupant's value.

    A facility still at its DR setpoint is always restored, whatever its
    power or mode (DESIGN.md rule 2).
    """
    value = _observed(controlled, observed)
    if value is None:
        return RestoreDecision(RestoreKind.LEAVE, "reports no setpoint any more")
    unit, original = controlled.unit, exact(controlled.original)
    shown = format_temperature(value, unit)
    if value == original:
        return RestoreDecision(RestoreKind.ALREADY_ORIGINAL, f"already at the original {shown}")
    if within_tolerance(value, controlled.target, unit):
        back = format_temperature(original, unit)
        return RestoreDecision(RestoreKind.RESTORE, f"at the DR setpoint {shown}: back to {back}")
    if within_tolerance(value, original, unit):
        return RestoreDecision(RestoreKind.ALREADY_ORIGINAL, f"already at the original {shown}")
    if policy == "respect":
        return RestoreDecision(RestoreKind.LEAVE, f"occupant set {shown} (hvac.override: respect)")
    return RestoreDecision(RestoreKind.RESTORE, f"occupant set {shown}: back to the original")
