"""What an observed state means under hvac.override respect and reassert (domain.overrides)."""

from __future__ import annotations

import pytest

from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import Controlled, FacilityKey, FacilityState, Mode, OverridePolicy
from scheduler.domain.overrides import (
    RestoreKind,
    VerdictKind,
    classify_observation,
    restore_decision,
)

C, F = TempUnit.C, TempUnit.F
KEY = FacilityKey("S001", "GW-01", "IDU", "IDU-0101")
COOLED = Controlled(KEY, 24.0, 26.0, C, Mode.COOL)  # raised 2 °C to shed cooling load
HEATED = Controlled(KEY, 22.0, 20.0, C, Mode.HEAT)  # lowered 2 °C to shed heating load
OK, REAPPLY, OPT_OUT, RELEASE = (
    VerdictKind.OK,
    VerdictKind.REAPPLY,
    VerdictKind.OPT_OUT,
    VerdictKind.RELEASE,
)


def seen(
    set_temp: float | None,
    mode: Mode | None = Mode.COOL,
    power: bool = True,
    unit: TempUnit | None = C,
) -> FacilityState:
    return FacilityState("IDU-0101", "IDU", power, mode, set_temp, unit, (16.0, 30.0))


RESPECTED = (OPT_OUT, "changed the setpoint")  # the usual answer under respect

# controlled, observed, (verdict, reason fragment) under respect, then under reassert
OBSERVATIONS = {
    "still at target": (COOLED, seen(26.0), (OK, "at the DR setpoint 26 °C"), (OK, "26 °C")),
    "within half a step": (COOLED, seen(26.25), (OK, "at the DR"), (OK, "at the DR")),
    "just beyond half a step": (COOLED, seen(25.7), RESPECTED, (REAPPLY, "back to 26 °C")),
    "reported in F": (COOLED, seen(79.0, unit=F), (OK, "26.11 °C"), (OK, "26.11 °C")),
    "lowered by the occupant": (COOLED, seen(23.0), RESPECTED, (REAPPLY, "to 23 °C: back to 26")),
    "raised further": (COOLED, seen(28.0), RESPECTED, (OK, "raised further, left as is")),
    "off at target": (COOLED, seen(26.0, power=False), (OK, "powered off"), (OK, "powered off")),
    "off and lowered": (COOLED, seen(23.0, power=False), RESPECTED, (REAPPLY, "back to 26")),
    "cool to dry": (COOLED, seen(26.0, Mode.DRY), (OK, "at the DR"), (OK, "at the DR")),
    "cool to heat at target": (
        COOLED,
        seen(26.0, Mode.HEAT),
        (RELEASE, "from cool to heat: the DR setpoint no longer applies"),
        (RELEASE, "no longer applies"),
    ),
    "cool to heat and moved": (
        COOLED,
        seen(22.0, Mode.HEAT),
        (OPT_OUT, "mode changed from cool to heat and setpoint to 22 °C"),
        (OPT_OUT, "mode changed"),
    ),
    "cool to fan at target": (
        COOLED,
        seen(26.0, Mode.FAN),
        (RELEASE, "cool to fan"),
        (RELEASE, "cool to fan"),
    ),
    "no mode reported": (COOLED, seen(26.0, None), (RELEASE, "to none"), (RELEASE, "to none")),
    "no setpoint any more": (
        COOLED,
        seen(None),
        (OPT_OUT, "no setpoint"),
        (OPT_OUT, "no setpoint"),
    ),
    "heat: raised by occupant": (
        HEATED,
        seen(21.0, Mode.HEAT),
        RESPECTED,
        (REAPPLY, "back to 20 °C"),
    ),
    "heat: lowered further": (
        HEATED,
        seen(19.0, Mode.HEAT),
        RESPECTED,
        (OK, "lowered further"),
    ),
    "heat: at target": (HEATED, seen(20.0, Mode.HEAT), (OK, "20 °C"), (OK, "20 °C")),
}

Expected = tuple[VerdictKind, str]


@pytest.mark.parametrize("policy", ["respect", "reassert"])
@pytest.mark.parametrize("case", OBSERVATIONS.values(), ids=OBSERVATIONS.keys())
def test_classify_observation(
    case: tuple[Controlled, FacilityState, Expected, Expected], policy: OverridePolicy
) -> None:
    controlled, observed, under_respect, under_reassert = case
    kind, fragment = under_respect if policy == "respect" else under_reassert
    verdict = classify_observation(controlled, observed, policy)
    assert verdict.kind == kind
    assert fragment in verdict.reason


def test_respect_names_the_policy_and_the_new_value() -> None:
    verdict = classify_observation(COOLED, seen(23.0), "respect")
    assert verdict.reason == "occupant changed the setpoint to 23 °C (hvac.override: respect)"


def test_f_facility_tolerance_is_half_a_degree() -> None:
    controlled = Controlled(KEY, 74.0, 78.0, F, Mode.COOL)
    assert classify_observation(controlled, seen(78.5, unit=F), "respect").kind is OK
    assert classify_observation(controlled, seen(77.0, unit=F), "respect").kind is OPT_OUT


RESTORES = {
    "at the DR setpoint": (seen(26.0), RestoreKind.RESTORE, RestoreKind.RESTORE),
    "at the original": (seen(24.0), RestoreKind.ALREADY_ORIGINAL, RestoreKind.ALREADY_ORIGINAL),
    "near the original": (seen(24.2), RestoreKind.ALREADY_ORIGINAL, RestoreKind.ALREADY_ORIGINAL),
    "occupant's value": (seen(23.0), RestoreKind.LEAVE, RestoreKind.RESTORE),
    "off at the DR setpoint": (seen(26.0, power=False), RestoreKind.RESTORE, RestoreKind.RESTORE),
    "heat at the DR setpoint": (seen(26.0, Mode.HEAT), RestoreKind.RESTORE, RestoreKind.RESTORE),
    "no setpoint": (seen(None), RestoreKind.LEAVE, RestoreKind.LEAVE),
}


@pytest.mark.parametrize("policy", ["respect", "reassert"])
@pytest.mark.parametrize("case", RESTORES.values(), ids=RESTORES.keys())
def test_restore_decision(
    case: tuple[FacilityState, RestoreKind, RestoreKind], policy: OverridePolicy
) -> None:
    observed, under_respect, under_reassert = case
    decision = restore_decision(COOLED, observed, policy=policy)
    assert decision.kind == (under_respect if policy == "respect" else under_reassert)
    assert decision.reason


def test_restore_reasons() -> None:
    assert restore_decision(COOLED, seen(26.0)).reason == "at the DR setpoint 26 °C: back to 24 °C"
    assert (
        restore_decision(COOLED, seen(23.0)).reason == "occupant set 23 °C (hvac.override: respect)"
    )


def test_off_grid_original_next_to_the_target() -> None:
    # 24.3 -> 24.5: both within a quarter degree of each other; the exact value decides.
    controlled = Controlled(KEY, 24.3, 24.5, C, Mode.COOL)
    assert restore_decision(controlled, seen(24.5)).kind is RestoreKind.RESTORE
    assert restore_decision(controlled, seen(24.3)).kind is RestoreKind.ALREADY_ORIGINAL
