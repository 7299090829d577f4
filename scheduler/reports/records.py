"""A report's records (one per event, status change, facility and read) and their digest.

Records are flat mappings of text, the same in CSV and JSON, so a saved file
of either kind can be checked: :func:`digest` is the SHA-256 of the records
in a canonical form (each one a JSON list of its values in :data:`COLUMNS`
order, one per line), and :func:`compare` names the rows in which a saved
file and the database differ.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from scheduler.domain.events import Signal
from scheduler.domain.evidence import EventEvidence

Record = dict[str, str]

COLUMNS = (
    "record",
    "event_id",
    "facility",
    "at",
    "state",
    "reason",
    "detail",
    "unit",
    "mode",
    "original",
    "target",
    "restored",
    "applied_at",
    "restored_at",
    "changed_at",
    "attempts",
    "phase",
    "ok",
    "power_on",
    "set_temp",
    "room_temp",
    "name",
    "program",
    "vtn_id",
    "status",
    "start",
    "end",
    "signals",
    "targets",
    "from_status",
    "to_status",
    "source",
    # added with pre-conditioning (issue 15): in a record's digest line only when set
    "pre_target",
    "pre_at",
)
#: Columns a record's digest line carries only when one of them is set, so that a report
#: saved before they existed still verifies.
_LATER = ("pre_target", "pre_at")
_FIRST = tuple(c for c in COLUMNS if c not in _LATER)
#: Which columns identify a row (to name it in a difference).
_IDENT = ("record", "event_id", "facility", "at")


def text(value: object) -> str:
    """How a value is written in a record: '' for none, ISO 8601 UTC for instants."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _record(**values: object) -> Record:
    return {column: text(values.get(column)) for column in COLUMNS}


def records(evidence: Sequence[EventEvidence]) -> list[Record]:
    """Every record of the events, in a stable order."""
    found: list[Record] = []
    for item in evidence:
        event = item.event
        found.append(
            _record(
                record="event",
                event_id=event.event_id,
                name=event.name,
                program=event.dr_program,
                vtn_id=event.vtn_id,
                status=item.status,
                start=event.start,
                end=event.end,
                signals="; ".join(describe_signal(s) for s in event.signals),
                targets="; ".join(
                    t.ven_id + (f"[{','.join(t.resource_ids)}]" if t.resource_ids else "")
                    for t in event.targets
                ),
            )
        )
        for change in item.timeline:
            found.append(
                _record(
                    record="timeline",
                    event_id=event.event_id,
                    at=change.at,
                    from_status=change.from_status.value,
                    to_status=change.to_status.value,
                    source=change.source.value,
                    detail=change.detail,
                )
            )
        for f in item.facilities:
            found.append(
                _record(
                    record="facility",
                    event_id=event.event_id,
                    facility=str(f.key),
                    state=f.state,
                    reason=f.reason,
                    detail=f.detail,
                    unit=f.unit,
                    mode=f.mode,
                    original=f.original,
                    target=f.target,
                    restored=f.restored,
                    applied_at=f.applied_at,
                    restored_at=f.restored_at,
                    changed_at=f.changed_at,
                    attempts=f.attempts,
                    pre_target=f.pre_target,
                    pre_at=f.pre_at,
                )
            )
        for r in item.reads:
            found.append(
                _record(
                    record="read",
                    event_id=event.event_id,
                    facility=str(r.key),
                    at=r.at,
                    phase=r.phase.value,
                    ok=r.ok,
                    power_on=r.power_on,
                    mode=r.mode,
                    set_temp=r.set_temp,
                    room_temp=r.room_temp,
                    unit=r.unit,
                )
            )
    return found


def describe_signal(signal: Signal) -> str:
    """``LOAD_CONTROL(max=80, offset=4 F)``: a signal and the bounds it gives."""
    bounds = [
        f"{name}={value:g}"
        for name, value in (
            ("min", signal.min_temp),
            ("max", signal.max_temp),
            ("offset", signal.temp_offset),
        )
        if value is not None
    ]
    unit = f" {signal.unit.value}" if signal.unit else ""
    return f"{signal.name}({', '.join(bounds)}{unit})" if bounds else signal.name


def digest(found: Iterable[Record]) -> str:
    """SHA-256 (hex) of the records' canonical lines (the later columns only when set)."""
    sha = hashlib.sha256()
    for record in found:
        later = any(record.get(c) for c in _LATER)
        columns = COLUMNS if later else _FIRST
        line = json.dumps([record.get(c, "") for c in columns], separators=(",", ":"))
        sha.update(line.encode() + b"\n")
    return sha.hexdigest()


def compare(saved: Sequence[Record], stored: Sequence[Record], limit: int = 20) -> list[str]:
    """The rows that differ, each named (at most ``limit`` lines, then how many more)."""
    lines: list[str] = []
    for index in range(max(len(saved), len(stored))):
        mine = saved[index] if index < len(saved) else None
        theirs = stored[index] if index < len(stored) else None
        if mine is not None and theirs is not None:
            diffs = [_differs(c, mine, theirs) for c in COLUMNS if mine.get(c) != theirs.get(c)]
            if diffs:
                lines.append(f"row {index + 1} ({_name(theirs)}): " + "; ".join(diffs))
        elif mine is not None:
            lines.append(f"row {index + 1} ({_name(mine)}): in the file, not in the database")
        elif theirs is not None:
            lines.append(f"row {index + 1} ({_name(theirs)}): in the database, not in the file")
    if len(lines) > limit:
        return [*lines[:limit], f"... and {len(lines) - limit} more rows"]
    return lines


def _differs(column: str, mine: Record, theirs: Record) -> str:
    return (
        f"{column} {mine.get(column, '')!r} in the file, {theirs.get(column, '')!r} in the database"
    )


def _name(record: Record) -> str:
    return " ".join(record.get(c, "") for c in _IDENT if record.get(c, ""))
