"""The HVAC part of ``drsched demo``: its mapping, a live count, the summary and its checks.

The simulator serves BECON too: the demo VENs CE-01, CE-02 and CE-03 drive
its gateways GW-01, GW-02 and GW-03 (ten facilities each, °F and °C, every
kind worth showing). Verify and restore stagger are 2 s so that the demo's
5-second windows show both. The summary counts, per event, the facilities
changed, restored, opted out, skipped and failed, and checks in the
simulator that every changed facility is back at its original setpoint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.config import HvacConfig, HvacTarget
from scheduler.domain.control_records import HELD, OPEN, ControlRecord, ControlState
from scheduler.domain.hvac import FacilityKey
from scheduler.store.control import records_of

DEMO_VENS = ("CE-01", "CE-02", "CE-03")
GATEWAYS = len(DEMO_VENS)

S = ControlState


def demo_hvac_config() -> HvacConfig:
    return HvacConfig(
        prefetch_lead=timedelta(seconds=1),
        verify_interval=timedelta(seconds=2),
        restore_stagger=timedelta(seconds=2),
        targets=[
            HvacTarget(ven=ven, site="S001", gateway=f"GW-{i:02d}")
            for i, ven in enumerate(DEMO_VENS, start=1)
        ],
    )


def demo_records(sql: Engine, event_ids: Sequence[str]) -> list[ControlRecord]:
    with Session(sql) as session:
        return [r for event_id in event_ids for r in records_of(session, event_id)]


def live_line(records: Sequence[ControlRecord]) -> str:
    held = sum(1 for r in records if r.state in HELD)
    changed = sum(1 for r in records if r.applied_at is not None)
    restored = sum(1 for r in records if r.state is S.RESTORED)
    return f"HVAC: {facilities(held)} under control, {changed} changed so far, {restored} restored"


def facilities(count: int) -> str:
    """``1 facility``, ``2 facilities``."""
    return f"{count} facilit{'y' if count == 1 else 'ies'}"


def settled(records: Sequence[ControlRecord]) -> bool:
    """Nothing left to do: every record final (restores done)."""
    return all(r.state not in OPEN for r in records)


def hvac_table(records: Sequence[ControlRecord]) -> Table:
    table = Table(
        title="HVAC control (what `drsched events show` lists per facility)",
        header_style="bold",
        title_justify="left",
    )
    for column in ("event", "changed", "restored", "opted out", "skipped", "failed", "open"):
        table.add_column(column)
    by_event: dict[str, Counter[str]] = {}
    for record in records:
        counts = by_event.setdefault(record.event_id, Counter())
        counts[record.state.value] += 1
        counts["changed"] += record.applied_at is not None
        counts["open"] += record.state in OPEN
    for event_id, counts in by_event.items():
        table.add_row(
            event_id,
            *(
                str(counts[name])
                for name in ("changed", "restored", "opted_out", "skipped", "failed", "open")
            ),
        )
    return table


def hvac_problems(
    records: Sequence[ControlRecord], shown: Mapping[FacilityKey, Mapping[str, Any]]
) -> list[str]:
    """What is wrong at the end: a record still open, a changed facility not back."""
    problems = [f"{r.event_id}: {r.key} still {r.state.value}" for r in records if r.state in OPEN]
    for record in records:
        if record.state is not S.RESTORED:
            continue
        now = shown.get(record.key, {}).get("setTemp")
        if now != record.original:
            problems.append(
                f"{record.event_id}: {record.key} shows {now}, original {record.original}"
            )
    if not any(r.applied_at is not None for r in records):
        problems.append("no facility was changed")
    return problems


def facilities_shown(listed: Sequence[Mapping[str, Any]]) -> dict[FacilityKey, Mapping[str, Any]]:
    """The simulator's ``/_sim/becon/facilities`` answer, by facility key."""
    return {
        FacilityKey(f["site"], f["gateway"], f["facilityType"], f["facilityId"]): f for f in listed
    }
