"""The simulated BECON account: a generated, deterministic inventory and its facilities.

:func:`generate` builds ``sites × gateways × facilities`` from ``SimOptions``
and its seed: gateways alternate °F and °C; each gateway starts with one
facility of each kind worth testing (IDU cooling, IDU heating, AHU, ODU, IDU
powered off, AWHP, AIRCARE, IDU in auto, VENT, CHILLER), then draws the rest
(mostly IDUs, about one in seven off, modes mostly cool). Types without a
setpoint (ODU, VENT, AIRCARE) omit ``setTemp`` and ``setTempRange``, as the
spec's Contract says.

A :class:`SimFacility` keeps its state and applies one control entry
(:meth:`SimFacility.apply`), answering per facility as the Contract does:
``out_of_range`` outside ``setTempRange``, ``offline``, ``not_supported``
(a setpoint for a type without one), ``invalid``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from scheduler.domain.events import TempUnit
from scheduler.domain.units import (
    convert_temperature,
    exact,
    floor_to_grid,
    resolution,
    round_within,
)
from scheduler.simulator.options import SimOptions

FACILITY_TYPES = ("IDU", "ODU", "VENT", "AWHP", "AHU", "CHILLER", "AIRCARE")
NO_SETPOINT = frozenset({"ODU", "VENT", "AIRCARE"})
MODES = ("cool", "heat", "auto", "dry", "fan")
#: Setpoint ranges in °C; a °F facility's range is this converted, inward to whole degrees.
RANGES_C: dict[str, tuple[int, int]] = {
    "IDU": (18, 30),
    "AHU": (16, 30),
    "AWHP": (15, 30),
    "CHILLER": (5, 15),
}
#: (type, power, mode) of each gateway's first facilities: every case a client meets.
FIRST: tuple[tuple[str, str, str], ...] = (
    ("IDU", "on", "cool"),
    ("IDU", "on", "heat"),
    ("AHU", "on", "cool"),
    ("ODU", "on", "cool"),
    ("IDU", "off", "cool"),
    ("AWHP", "on", "heat"),
    ("AIRCARE", "on", "fan"),
    ("IDU", "on", "auto"),
    ("VENT", "on", "fan"),
    ("CHILLER", "on", "cool"),
)
TYPE_WEIGHTS = {"IDU": 70, "AHU": 8, "AWHP": 4, "ODU": 8, "VENT": 4, "AIRCARE": 3, "CHILLER": 3}
MODE_WEIGHTS = {"cool": 60, "heat": 25, "auto": 5, "dry": 5, "fan": 5}
NAMES = {
    "IDU": "Room",
    "ODU": "Outdoor unit",
    "VENT": "Ventilation",
    "AWHP": "Heat pump",
    "AHU": "Air handler",
    "CHILLER": "Chiller",
    "AIRCARE": "Air purifier",
}
SITE_NAMES = ("HQ", "Warehouse", "Plant", "Branch", "Lab", "Store")
TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")


class ControlRefused(ValueError):
    """One control entry refused; ``reason`` is the Contract's per-facility word."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class SimFacility:
    site: str
    gateway: str
    facility_id: str
    facility_type: str
    name: str
    unit: TempUnit
    power: str
    mode: str
    set_temp: float | None
    room_temp: float | None
    set_temp_range: tuple[float, float] | None
    offline: bool = False

    def state(self) -> dict[str, Any]:
        """The Contract's state object."""
        data: dict[str, Any] = {
            "facilityId": self.facility_id,
            "facilityType": self.facility_type,
            "power": self.power,
            "operationMode": self.mode,
        }
        if self.set_temp is not None and self.set_temp_range is not None:
            data["setTemp"] = self.set_temp
            if self.room_temp is not None:
                data["roomTemp"] = self.room_temp
            data["setTempRange"] = {"min": self.set_temp_range[0], "max": self.set_temp_range[1]}
        data["unit"] = self.unit.value
        return data

    def listing(self) -> dict[str, Any]:
        """The facilities call's item."""
        return {
            "facilityId": self.facility_id,
            "facilityType": self.facility_type,
            "name": self.name,
        }

    def apply(self, entry: Mapping[str, Any]) -> None:
        """Apply one control entry, all of it or nothing; :class:`ControlRefused` says why not."""
        changes = self.changes(entry)
        if self.offline:
            raise ControlRefused("offline")
        for key, value in changes.items():
            setattr(self, key, value)

    def changes(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes ``entry`` sets (``setTemp`` converted into the facility's unit)."""
        changes: dict[str, Any] = {}
        if "power" in entry:
            if entry["power"] not in ("on", "off"):
                raise ControlRefused("invalid")
            changes["power"] = entry["power"]
        if "operationMode" in entry:
            if entry["operationMode"] not in MODES:
                raise ControlRefused("invalid")
            changes["mode"] = entry["operationMode"]
        if "setTemp" in entry:
            changes["set_temp"] = self._setpoint(entry["setTemp"], entry.get("unit"))
        if not changes:
            raise ControlRefused("invalid")
        return changes

    def _setpoint(self, value: object, unit_text: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ControlRefused("invalid")
        if unit_text is not None and unit_text not in ("C", "F"):
            raise ControlRefused("invalid")
        if self.set_temp_range is None:
            raise ControlRefused("not_supported")
        unit = TempUnit(unit_text) if unit_text is not None else self.unit
        converted = convert_temperature(value, unit, self.unit)
        low, high = (exact(v) for v in self.set_temp_range)
        if not low <= converted <= high:
            raise ControlRefused("out_of_range")
        # A unit keeps its setpoint on its own grid (1 °F, 0.5 °C): 25.3 °C sent to a
        # °F unit is 78 °F there, never 77.54 (what the state then reads back).
        on_grid = round_within(converted, low, high, resolution(self.unit))
        if on_grid is None:
            raise ControlRefused("out_of_range")
        return float(on_grid)


@dataclass
class SimInventory:
    """Sites (code → listing item), gateways per site, facilities per (site, gateway)."""

    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    gateways: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    facilities: dict[tuple[str, str], dict[str, SimFacility]] = field(default_factory=dict)

    def all_facilities(self) -> list[SimFacility]:
        return [f for group in self.facilities.values() for f in group.values()]

    def find(self, facility_id: str, site: str, gateway: str) -> SimFacility | None:
        return self.facilities.get((site, gateway), {}).get(facility_id)


def _range_in(unit: TempUnit, facility_type: str) -> tuple[float, float]:
    low_c, high_c = RANGES_C[facility_type]
    if unit == TempUnit.C:
        return float(low_c), float(high_c)
    low = -floor_to_grid(-convert_temperature(low_c, TempUnit.C, TempUnit.F), Fraction(1))
    high = floor_to_grid(convert_temperature(high_c, TempUnit.C, TempUnit.F), Fraction(1))
    return float(low), float(high)


def _setpoint(
    rng: random.Random, unit: TempUnit, kind: str, mode: str, span: tuple[float, float]
) -> float:
    """A usual setpoint on the facility's grid (0.5 °C, 1 °F), inside its range."""
    if kind == "CHILLER":
        wanted_c = rng.uniform(6.5, 9.0)  # chilled water
    else:
        wanted_c = rng.uniform(19.0, 22.0) if mode == "heat" else rng.uniform(23.0, 26.0)
    value = convert_temperature(round(wanted_c, 2), TempUnit.C, unit)
    step = resolution(unit)
    low, high = (exact(v) for v in span)
    on_grid = min(max(floor_to_grid(value, step), low), high)
    return float(on_grid)


def _facility(
    rng: random.Random,
    site: str,
    gateway: str,
    ident: str,
    kind: tuple[str, str, str],
    unit: TempUnit,
) -> SimFacility:
    facility_type, power, mode = kind
    set_temp = room_temp = span = None
    if facility_type not in NO_SETPOINT:
        span = _range_in(unit, facility_type)
        set_temp = _setpoint(rng, unit, facility_type, mode, span)
        room_temp = round(set_temp + rng.uniform(-1.0, 2.0), 1)
    return SimFacility(
        site=site,
        gateway=gateway,
        facility_id=f"{facility_type}-{ident}",
        facility_type=facility_type,
        name=f"{NAMES[facility_type]} {ident}",
        unit=unit,
        power=power,
        mode=mode,
        set_temp=set_temp,
        room_temp=room_temp,
        set_temp_range=span,
    )


def _drawn_kind(rng: random.Random) -> tuple[str, str, str]:
    facility_type = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
    mode = rng.choices(list(MODE_WEIGHTS), weights=list(MODE_WEIGHTS.values()))[0]
    if facility_type in ("VENT", "AIRCARE"):
        mode = "fan"
    elif facility_type == "CHILLER":
        mode = "cool"
    power = "off" if rng.random() < 0.15 else "on"
    return facility_type, power, mode


def generate(options: SimOptions) -> SimInventory:
    """The account's inventory; the same options (and seed) give the same one."""
    rng = random.Random(options.seed)
    inventory = SimInventory()
    width = 2 if options.facilities < 100 else 4
    for s in range(1, options.sites + 1):
        site = f"S{s:03d}"
        inventory.sites[site] = {
            "siteCode": site,
            "siteName": f"{SITE_NAMES[(s - 1) % len(SITE_NAMES)]} {s}",
            "timezone": TIMEZONES[(s - 1) % len(TIMEZONES)],
        }
        inventory.gateways[site] = {}
        for g in range(1, options.gateways + 1):
            gateway = f"GW-{g:02d}"
            name = f"Floor {g}"
            inventory.gateways[site][gateway] = {"gwId": gateway, "gwName": name, "connected": True}
            unit = TempUnit.F if (g + options.seed) % 2 == 1 else TempUnit.C
            group: dict[str, SimFacility] = {}
            for i in range(1, options.facilities + 1):
                kind = FIRST[i - 1] if i <= len(FIRST) else _drawn_kind(rng)
                facility = _facility(rng, site, gateway, f"{g:02d}{i:0{width}d}", kind, unit)
                group[facility.facility_id] = facility
            inventory.facilities[(site, gateway)] = group
    return inventory
