"""What ``drsched events list`` and ``events show`` read, as plain SQL on a :class:`Reader`.

No ORM objects (see :mod:`scheduler.store.reader`): a page of 50 events is
two indexed queries (the events, then their VENs) and a count; all 20,000
events are the same two queries without the ``LIMIT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.lifecycle import TERMINAL, Source, Status, Transition
from scheduler.errors import UnknownEventError
from scheduler.store.reader import (
    Reader,
    Row,
    instant,
    json_value,
    maybe_instant,
    placeholders,
)

if TYPE_CHECKING:  # ``events show`` alone reads facilities: ``events list`` skips these
    from scheduler.domain.control_records import ControlRecord
    from scheduler.domain.hvac import Mode


@dataclass(frozen=True)
class EventSummary:
    """One line of ``drsched events list``."""

    event_id: str
    status: Status
    start: datetime
    end: datetime
    name: str | None
    program_id: str | None
    request_id: str | None
    revision: int
    cancel_requested: bool
    vens: tuple[str, ...]
    source: str = ""  # a plan file's file:line, or ``openadr <vtn> <event> mod <n>``


@dataclass(frozen=True)
class EventFilter:
    """Which events a listing shows; none of these set: every event.

    ``unfinished_or_ended_after`` keeps every event not yet in a terminal
    status (whatever its window: a stuck one must show) and those that ended
    after that instant.
    """

    statuses: Sequence[Status] = ()
    unfinished_or_ended_after: datetime | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """The ``WHERE`` clause (or "") and its parameters."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.statuses:
            listed, found = placeholders("status", [s.value for s in self.statuses])
            clauses.append(f"status IN {listed}")
            params |= found
        if self.unfinished_or_ended_after is not None:
            listed, found = placeholders("terminal", sorted(s.value for s in TERMINAL))
            clauses.append(f'(status NOT IN {listed} OR "end" > :ended_after)')
            params |= found | {"ended_after": self.unfinished_or_ended_after}
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_SUMMARY_COLUMNS = (
    'event_id, status, start, "end", name, program_id, request_id, revision,'
    " cancel_requested, source"
)
_SUMMARY = f"SELECT {_SUMMARY_COLUMNS} FROM events"
_DETAIL = (
    f"SELECT {_SUMMARY_COLUMNS}, vtn_id, dr_program, shaping, created_at FROM events"
    " WHERE event_id = :id"
)


def list_events(
    reader: Reader, chosen: EventFilter, *, limit: int | None = None, offset: int = 0
) -> list[EventSummary]:
    """The chosen events soonest first (by start, then id); ``limit`` of them from ``offset``."""
    where, params = chosen.where()
    page = ""
    if limit is not None:
        page = " LIMIT :limit OFFSET :offset"
        params |= {"limit": limit, "offset": offset}
    ids = f"SELECT event_id FROM events{where} ORDER BY start, event_id{page}"
    rows = reader.rows(f"{_SUMMARY}{where} ORDER BY start, event_id{page}", params)
    if not rows:
        return []
    vens = _vens(reader, ids if (where or page) else "", params)
    return [_summary(row, vens.get(row[0], ())) for row in rows]


def count_events(reader: Reader, chosen: EventFilter) -> int:
    where, params = chosen.where()
    return int(reader.rows(f"SELECT count(*) FROM events{where}", params)[0][0])


def _vens(reader: Reader, ids: str, params: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each event's VENs in target order, once each; of the events ``ids`` selects (all: "")."""
    where = f" WHERE event_id IN ({ids})" if ids else ""
    found: dict[str, dict[str, None]] = {}
    sql = f"SELECT event_id, ven_id FROM event_targets{where} ORDER BY event_id, position"
    for event_id, ven_id in reader.rows(sql, params):
        found.setdefault(event_id, {})[ven_id] = None
    return {event_id: tuple(vens) for event_id, vens in found.items()}


def _summary(row: Row, vens: tuple[str, ...]) -> EventSummary:
    event_id, status, start, end, name, program_id, request_id, revision, cancel, source = row
    return EventSummary(
        event_id,
        Status(status),
        instant(start),
        instant(end),
        name,
        program_id,
        request_id,
        int(revision),
        bool(cancel),
        vens,
        source or "",
    )


# -- one event (``events show``) ---------------------------------------------------------


@dataclass(frozen=True)
class EventDetail:
    """One stored event: its line, its content as a plan event, and when it was added."""

    summary: EventSummary
    event: PlanEvent
    created_at: datetime


@dataclass(frozen=True)
class RequestSent:
    """One request drsched made (or began) at the DR service for the event."""

    kind: str
    request_id: str
    revision: int
    begun_at: datetime
    outcome: str | None
    ended_at: datetime | None


def event_detail(reader: Reader, event_id: str) -> EventDetail:
    """The event ``event_id``; :class:`UnknownEventError` when there is none."""
    rows = reader.rows(_DETAIL, {"id": event_id})
    if not rows:
        raise UnknownEventError(event_id)
    row = rows[0]
    targets = [
        EventTarget(ven, tuple(json_value(resources) or ()))
        for ven, resources in reader.rows(
            "SELECT ven_id, resource_ids FROM event_targets WHERE event_id = :id ORDER BY position",
            {"id": event_id},
        )
    ]
    summary = _summary(row[:10], tuple(dict.fromkeys(t.ven_id for t in targets)))
    vtn_id, dr_program, shaping, created_at = row[10:]
    from scheduler.domain.shaping import Shaping  # here: ``events list`` does not need it

    event = PlanEvent(
        event_id=event_id,
        vtn_id=vtn_id,
        start=summary.start,
        end=summary.end,
        signals=tuple(_signals(reader, event_id)),
        targets=tuple(targets),
        name=summary.name,
        program_id=summary.program_id,
        source=summary.source,
        dr_program=dr_program,
        shaping=Shaping.from_content(json_value(shaping)),
    )
    return EventDetail(summary, event, instant(created_at))


def _signals(reader: Reader, event_id: str) -> list[Signal]:
    rows = reader.rows(
        "SELECT signal_id, name, type, targets, min_temp, max_temp, temp_offset, unit"
        " FROM event_signals WHERE event_id = :id ORDER BY position",
        {"id": event_id},
    )
    return [
        Signal(
            signal_id=signal_id,
            name=name,
            type=kind,
            targets=tuple(json_value(targets)),
            min_temp=low,
            max_temp=high,
            temp_offset=offset,
            unit=TempUnit(unit) if unit else None,
        )
        for signal_id, name, kind, targets, low, high, offset, unit in rows
    ]


def timeline(reader: Reader, event_id: str) -> list[Transition]:
    """The event's recorded transitions, oldest first."""
    rows = reader.rows(
        "SELECT event_id, from_status, to_status, at, source, detail FROM transitions"
        " WHERE event_id = :id ORDER BY id",
        {"id": event_id},
    )
    return [
        Transition(event, Status(old), Status(new), instant(at), Source(source), detail or "")
        for event, old, new, at, source, detail in rows
    ]


def requests_sent(reader: Reader, event_id: str) -> list[RequestSent]:
    """The intents recorded for the event (one per DR service call), oldest first."""
    rows = reader.rows(
        "SELECT kind, request_id, revision, begun_at, outcome, ended_at FROM intents"
        " WHERE event_id = :id ORDER BY id",
        {"id": event_id},
    )
    return [
        RequestSent(kind, request_id, int(revision), instant(begun), outcome, maybe_instant(ended))
        for kind, request_id, revision, begun, outcome, ended in rows
    ]


_CONTROL_COLUMNS = (
    "event_id, site, gateway, facility_type, facility_id, state, window_end, created_at,"
    " updated_at, reason, detail, unit, mode, original, target, restored, due_at, attempts,"
    " restore_attempts, applied_at, restored_at, pre_target, pre_at"
)


def control_records(reader: Reader, event_id: str) -> list[ControlRecord]:
    """Every facility the event touched, in (site, gateway, type, id) order."""
    rows = reader.rows(
        f"SELECT {_CONTROL_COLUMNS} FROM facility_controls WHERE event_id = :id"
        " ORDER BY site, gateway, facility_type, facility_id",
        {"id": event_id},
    )
    return [_record(row) for row in rows]


def _record(row: Row) -> ControlRecord:
    from scheduler.domain.control_records import ControlRecord, ControlState
    from scheduler.domain.hvac import FacilityKey

    (event_id, site, gateway, kind, facility, state, window_end, created, updated) = row[:9]
    (reason, detail, unit, mode, original, target, restored, due_at) = row[9:17]
    attempts, restore_attempts, applied_at, restored_at, pre_target, pre_at = row[17:]
    return ControlRecord(
        event_id=event_id,
        key=FacilityKey(site, gateway, kind, facility),
        state=ControlState(state),
        window_end=instant(window_end),
        created_at=instant(created),
        updated_at=instant(updated),
        reason=reason or "",
        detail=detail or "",
        unit=TempUnit(unit) if unit else None,
        mode=_mode(mode),
        original=original,
        target=target,
        restored=restored,
        due_at=maybe_instant(due_at),
        attempts=int(attempts or 0),
        restore_attempts=int(restore_attempts or 0),
        applied_at=maybe_instant(applied_at),
        restored_at=maybe_instant(restored_at),
        pre_target=pre_target,
        pre_at=maybe_instant(pre_at),
    )


def _mode(text: str | None) -> Mode | None:
    """As ``store.control``: a mode this build does not know reads as none."""
    from scheduler.domain.hvac import Mode

    try:
        return None if text is None else Mode(text)
    except ValueError:
        return None
