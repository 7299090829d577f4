"""HVAC facilities as values, and how their controls are grouped in calls and in time.

The BECON adapter turns state JSON into :class:`FacilityState` and a
:class:`Batch` into one control PUT; nothing here knows the JSON shapes
(specs/becon-connect-api.md: those are "Contract" and stay in the adapter).

- :func:`plan_control_batches`: one PUT per gateway and facility type, at
  most 100 controls each (BECON Contract "At most 100 controls per call").
- :func:`restore_schedule`: when each facility gets its original setpoint
  back, spread over ``hvac.restore_stagger`` (DESIGN.md "HVAC control":
  "spread ... to avoid a rebound peak").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from scheduler.domain.events import TempUnit

#: ``hvac.auto_mode``: how a facility in ``auto`` mode is treated.
AutoMode = Literal["skip", "cool", "heat"]
#: ``hvac.override``: what an occupant's change during the window means.
OverridePolicy = Literal["respect", "reassert"]

#: BECON Contract: "At most 100 controls per call".
MAX_CONTROLS_PER_CALL = 100
#: Restores closer together than this are merged into one instant (fewer PUTs).
DEFAULT_RESTORE_SPACING = timedelta(seconds=30)


class Mode(StrEnum):
    """BECON ``operationMode``."""

    COOL = "cool"
    HEAT = "heat"
    AUTO = "auto"
    DRY = "dry"
    FAN = "fan"


class Direction(StrEnum):
    """Which way a setpoint sheds load: up when cooling, down when heating."""

    COOL = "cool"
    HEAT = "heat"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.COOL else -1


@dataclass(frozen=True, order=True)
class FacilityKey:
    """Where a facility lives; the sort order (site, gateway, type, id) is the plan order."""

    site: str
    gateway: str
    facility_type: str
    facility_id: str

    def __str__(self) -> str:
        return f"{self.site}/{self.gateway}/{self.facility_type}/{self.facility_id}"


@dataclass(frozen=True)
class FacilityState:
    """One facility as BECON reports it; temperatures are in ``unit``.

    Types without a setpoint (``ODU``, ``AIRCARE``) have ``set_temp`` None
    (BECON Contract: they omit ``setTemp`` and ``setTempRange``).
    """

    facility_id: str
    facility_type: str
    power_on: bool
    mode: Mode | None
    set_temp: float | None
    unit: TempUnit | None
    set_temp_range: tuple[float, float] | None = None
    room_temp: float | None = None

    def __post_init__(self) -> None:
        low_high = self.set_temp_range
        if low_high is not None and low_high[0] > low_high[1]:
            raise ValueError(f"facility {self.facility_id}: setTempRange {low_high} is inverted")

    def key(self, site: str, gateway: str) -> FacilityKey:
        return FacilityKey(site, gateway, self.facility_type, self.facility_id)


@dataclass(frozen=True)
class Control:
    """One entry of a control PUT: set this facility's setpoint (power is never touched)."""

    key: FacilityKey
    set_temp: float
    unit: TempUnit


@dataclass(frozen=True)
class Controlled:
    """A facility under DR control: the record kept before its setpoint is changed.

    ``mode`` is the mode it was in when controlled; a later change of mode
    is the occupant's (see :mod:`scheduler.domain.overrides`).
    """

    key: FacilityKey
    original: float
    target: float
    unit: TempUnit
    mode: Mode

    def __post_init__(self) -> None:
        if self.original == self.target:
            raise ValueError(f"facility {self.key}: a control must change the setpoint")

    @property
    def direction(self) -> Direction:
        """A DR target only ever sheds load, so it says which way by itself."""
        return Direction.COOL if self.target > self.original else Direction.HEAT

    def apply(self) -> Control:
        return Control(self.key, self.target, self.unit)

    def restore(self) -> Control:
        return Control(self.key, self.original, self.unit)


@dataclass(frozen=True)
class Batch:
    """One control PUT: facilities of one type on one gateway (BECON "control" call)."""

    site: str
    gateway: str
    facility_type: str
    controls: tuple[Control, ...]


def _call_group(key: FacilityKey) -> tuple[str, str, str]:
    return (key.site, key.gateway, key.facility_type)


def plan_control_batches(
    controls: Iterable[Control], *, max_per_call: int = MAX_CONTROLS_PER_CALL
) -> list[Batch]:
    """Controls grouped into PUTs: per (site, gateway, type), at most ``max_per_call`` each.

    The order is deterministic (sorted by facility key), so a retried plan
    sends the same bodies. One facility twice is a caller bug: it raises.
    """
    if max_per_call < 1:
        raise ValueError(f"max_per_call must be at least 1, got {max_per_call}")
    ordered = sorted(controls, key=lambda c: c.key)
    for first, second in itertools.pairwise(ordered):
        if first.key == second.key:
            raise ValueError(f"facility {first.key} appears twice in one control plan")
    batches: list[Batch] = []
    for group, members in itertools.groupby(ordered, key=lambda c: _call_group(c.key)):
        calls = tuple(members)
        for start in range(0, len(calls), max_per_call):
            batches.append(Batch(*group, controls=calls[start : start + max_per_call]))
    return batches


def restore_schedule(
    facility_keys: Iterable[FacilityKey],
    window_end: datetime,
    stagger: timedelta,
    *,
    min_spacing: timedelta = DEFAULT_RESTORE_SPACING,
) -> list[tuple[FacilityKey, datetime]]:
    """When each facility gets its original setpoint back, in (instant, key) order.

    Facilities are sorted by (site, gateway, type, id) and cut into
    contiguous slices of equal size (±1), one per instant; the instants are
    evenly spaced from ``window_end`` to ``window_end + stagger`` inclusive.
    Equal slices keep the rebound load flat; contiguous slices of the sorted
    order keep each instant to one or two gateway/type groups, so each
    instant costs few PUTs. Instants are at least ``min_spacing`` apart
    (fewer, fuller slices rather than one PUT per facility); a zero stagger
    restores everything at ``window_end``.
    """
    keys = sorted(set(facility_keys))
    if not keys:
        return []
    slots = _slot_count(len(keys), stagger, min_spacing)
    instants = [_slot_instant(window_end, stagger, i, slots) for i in range(slots)]
    return [(key, instants[i * slots // len(keys)]) for i, key in enumerate(keys)]


def _slot_count(facilities: int, stagger: timedelta, min_spacing: timedelta) -> int:
    if min_spacing <= timedelta(0):
        raise ValueError(f"min_spacing must be positive, got {min_spacing}")
    if stagger <= timedelta(0):
        return 1
    return min(facilities, stagger // min_spacing + 1)


def _slot_instant(window_end: datetime, stagger: timedelta, index: int, slots: int) -> datetime:
    if slots == 1:
        return window_end
    return window_end + stagger * index // (slots - 1)
