"""The ``drsched hvac inventory`` report: the inventory, who maps what, and target problems.

Built from an :class:`~scheduler.clients.becon.inventory.Inventory` and the
config's ``hvac.targets`` with the pure rules of :mod:`scheduler.domain.targets`;
printed as rich tables (the JSON form is in :mod:`scheduler.commands.hvac`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.clients.becon.inventory import GatewayInventory, Inventory
from scheduler.clients.becon.types import FacilityReading
from scheduler.commands._common import console, print_table
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.targets import TargetSpec, covers, mapped_by, target_label, target_problems
from scheduler.domain.units import format_temperature


@dataclass(frozen=True)
class TargetCheck:
    """One ``hvac.targets`` entry: how many facilities it maps, and what matches nothing."""

    index: int
    target: TargetSpec
    matched: int
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        t = self.target
        return {
            "index": self.index,
            "ven": t.ven,
            "resource": t.resource,
            "site": t.site,
            "gateway": t.gateway,
            "types": list(t.types),
            "facilities": list(t.facilities),
            "matched": self.matched,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Report:
    inventory: Inventory
    checks: tuple[TargetCheck, ...]
    #: facility → indexes of the targets that map it
    mapped: dict[FacilityKey, list[int]]
    with_states: bool

    @property
    def targets_with_problems(self) -> list[TargetCheck]:
        return [c for c in self.checks if c.problems]

    def summary(self) -> dict[str, int]:
        sites = self.inventory.sites
        return {
            "sites": len(sites),
            "gateways": sum(len(s.gateways) for s in sites),
            "facilities": len(self.mapped),
            "mapped": sum(1 for targets in self.mapped.values() if targets),
            "targets": len(self.checks),
            "targets_with_problems": len(self.targets_with_problems),
            "errors": len(self.inventory.errors()),
        }


def build_report(inventory: Inventory, targets: Sequence[TargetSpec]) -> Report:
    keys = [f.key for f in inventory.facilities()]
    known = inventory.known()
    checks = tuple(
        TargetCheck(
            i,
            t,
            sum(1 for k in keys if covers(t, k)),
            tuple(target_problems(t, known)),
        )
        for i, t in enumerate(targets)
    )
    with_states = any(g.states for s in inventory.sites for g in s.gateways)
    return Report(inventory, checks, mapped_by(targets, keys), with_states)


# -- tables ----------------------------------------------------------------------


def _state_cells(reading: FacilityReading | None) -> list[str]:
    if reading is None:
        return ["?", "", "", ""]
    setpoint = range_text = ""
    if reading.set_temp is not None and reading.unit is not None:
        setpoint = format_temperature(reading.set_temp, reading.unit)
    if reading.set_temp_range is not None and reading.unit is not None:
        low, high = (format_temperature(v, reading.unit) for v in reading.set_temp_range)
        range_text = f"{low} – {high}"
    return [reading.power or "?", reading.mode or "?", setpoint, range_text]


def _mapped_cell(report: Report, key: FacilityKey) -> str:
    return ", ".join(
        f"#{i} {target_label(report.checks[i].target)}" for i in report.mapped.get(key, [])
    )


def _facility_rows(report: Report, gw: GatewayInventory) -> list[list[str]]:
    rows = []
    for facility in gw.facilities:
        row = [
            gw.gateway.site,
            gw.gateway.gateway_id,
            facility.facility_type,
            facility.facility_id,
            facility.name or "",
            _mapped_cell(report, facility.key) or "-",
        ]
        if report.with_states:
            row += _state_cells(gw.states.get(facility.key))
        rows.append(row)
    return rows


def _gateway_count(count: int, error: object) -> str:
    return "error (see below)" if error is not None else str(count)


def print_report(report: Report, source: str) -> None:
    sites = report.inventory.sites
    print_table(
        "BECON sites",
        ["site", "name", "timezone", "gateways"],
        (
            [s.site.code, s.site.name, s.site.timezone, _gateway_count(len(s.gateways), s.error)]
            for s in sites
        ),
    )
    gateways = [g for s in sites for g in s.gateways]
    print_table(
        "Gateways",
        ["site", "gateway", "name", "connected", "facilities"],
        (
            [
                g.gateway.site,
                g.gateway.gateway_id,
                g.gateway.name,
                {True: "yes", False: "NO", None: "?"}[g.gateway.connected],
                _gateway_count(len(g.facilities), g.error),
            ]
            for g in gateways
        ),
    )
    columns = ["site", "gateway", "type", "facility", "name", "mapped by"]
    if report.with_states:
        columns += ["power", "mode", "setpoint", "range"]
    rows = [row for g in gateways for row in _facility_rows(report, g)]
    print_table("Facilities", columns, rows)
    _print_targets(report, source)


def _print_targets(report: Report, source: str) -> None:
    out = console()
    if not report.checks:
        out.print(f"No hvac.targets in {source}: no facility is mapped to a VEN.")
        return
    print_table(
        f"hvac.targets ({source})",
        ["#", "VEN", "site", "gateway", "types", "facilities", "matched", "problems"],
        (
            [
                c.index,
                target_label(c.target),
                c.target.site,
                c.target.gateway,
                ", ".join(c.target.types) or "all",
                ", ".join(c.target.facilities) or "all",
                c.matched,
                "\n".join(c.problems) or "ok",
            ]
            for c in report.checks
        ),
    )
    summary = report.summary()
    out.print(
        f"{summary['facilities']} facilities, {summary['mapped']} mapped by hvac.targets; "
        f"{summary['targets_with_problems']} of {summary['targets']} target(s) with problems."
    )
