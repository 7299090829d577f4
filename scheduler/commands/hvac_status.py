"""``drsched hvac status``: which facilities are under DR control now, from the database.

One line per facility at (or being moved to or from) a DR setpoint: its
event, original and DR setpoints, since when, and what comes next (the next
read-back, retry or restore). Read from the store only: it works while the
daemon runs, without calling BECON. ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from scheduler.commands._common import get_config, open_store, print_json, print_table, utc
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.units import format_temperature

_NEXT = {
    ControlState.INTENT: "PUT in flight",
    ControlState.APPLIED: "read back",
    ControlState.RETRYING: "retry",
    ControlState.RESTORING: "restore",
}


def status_command(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session  # here: ``events show`` imports this module, not the ORM

    from scheduler.store.control import under_control

    engine = open_store(get_config(args))
    try:
        with Session(engine) as session:
            records = under_control(session)
    finally:
        engine.dispose()
    if args.json:
        print_json({"facilities": [record_json(r) for r in records], "count": len(records)})
        return 0
    if not records:
        print("no facility is under DR control")
        return 0
    print_table(
        f"facilities under DR control: {len(records)}",
        ("event", "facility", "state", "original", "DR setpoint", "since (UTC)", "next"),
        (_row(r) for r in records),
    )
    return 0


def _temperature(value: float | None, record: ControlRecord) -> str:
    if value is None or record.unit is None:
        return ""
    return format_temperature(value, record.unit)


def _row(record: ControlRecord) -> tuple[str, ...]:
    since = record.applied_at or record.updated_at
    upcoming = _NEXT.get(record.state, "")
    if record.due_at is not None:
        upcoming = f"{upcoming} at {utc(record.due_at)}"
    return (
        record.event_id,
        str(record.key),
        record.state.value,
        _temperature(record.original, record),
        _temperature(record.target, record),
        utc(since),
        upcoming,
    )


def print_facilities(records: Sequence[ControlRecord]) -> None:
    """``drsched events show``: every facility the event touched, and what became of it."""
    if not records:
        return
    print_table(
        "HVAC facilities",
        ("facility", "state", "original", "DR setpoint", "restored", "when (UTC)", "why"),
        (
            (
                str(r.key),
                r.state.value,
                _temperature(r.original if r.target is not None else None, r),
                _temperature(r.target, r),
                _temperature(r.restored, r),
                _when(r),
                _why(r),
            )
            for r in records
        ),
    )


def _when(record: ControlRecord) -> str:
    parts = []
    if record.applied_at is not None:
        parts.append(f"set {utc(record.applied_at)}")
    if record.restored_at is not None:
        parts.append(f"back {record.restored_at.astimezone(UTC):%H:%M:%S}")
    return ", ".join(parts) or utc(record.updated_at)


def _why(record: ControlRecord) -> str:
    """Why skipped, failed or opted out; for the others, the DR setpoint's arithmetic."""
    if record.state in (
        ControlState.SKIPPED,
        ControlState.FAILED,
        ControlState.RESTORE_FAILED,
        ControlState.OPTED_OUT,
    ):
        return "; ".join(part for part in (record.detail, record.reason) if part)
    return "; ".join(part for part in (record.reason, record.detail) if part)


def record_json(record: ControlRecord) -> dict[str, Any]:
    """One facility record as data (also ``drsched events show --json``)."""

    def instant(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    key = record.key
    return {
        "event_id": record.event_id,
        "site": key.site,
        "gateway": key.gateway,
        "facility_type": key.facility_type,
        "facility_id": key.facility_id,
        "state": record.state.value,
        "unit": record.unit.value if record.unit else None,
        "mode": record.mode.value if record.mode else None,
        "original": record.original,
        "dr_setpoint": record.target,
        "restored": record.restored,
        "reason": record.reason,
        "detail": record.detail,
        "attempts": record.attempts,
        "restore_attempts": record.restore_attempts,
        "created_at": instant(record.created_at),
        "applied_at": instant(record.applied_at),
        "restored_at": instant(record.restored_at),
        "next_at": instant(record.due_at),
        "updated_at": instant(record.updated_at),
    }
