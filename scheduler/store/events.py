"""Events in SQL: rows to and from the domain, and the queries the CLI and daemon share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.lifecycle import TERMINAL, Source, Status, Transition
from scheduler.domain.outside import running_revision
from scheduler.domain.plan_diff import StoredEvent
from scheduler.domain.shaping import Shaping
from scheduler.errors import UnknownEventError
from scheduler.store.event_reads import EventSummary as EventSummary  # re-exported
from scheduler.store.models import (
    Base,
    EventRow,
    IntentRow,
    PlanStateRow,
    SignalRow,
    TargetRow,
    TransitionRow,
    table,
)

# -- domain <-> rows -----------------------------------------------------------


def event_columns(event: PlanEvent) -> dict[str, object]:
    """The ``events`` columns a plan sets (lifecycle columns are the daemon's)."""
    return {
        "start": event.start,
        "end": event.end,
        "vtn_id": event.vtn_id,
        "name": event.name,
        "program_id": event.program_id,
        "dr_program": event.dr_program,
        "source": event.source,
        "fingerprint": event.fingerprint(),
        "shaping": event.shaping.content() if event.shaping is not None else None,
    }


def child_rows(events: Iterable[PlanEvent]) -> tuple[list[dict[str, object]], ...]:
    """The ``event_signals`` and ``event_targets`` rows of ``events``."""
    signals: list[dict[str, object]] = []
    targets: list[dict[str, object]] = []
    for event in events:
        for position, signal in enumerate(event.signals):
            signals.append(
                {
                    "event_id": event.event_id,
                    "position": position,
                    "signal_id": signal.signal_id,
                    "name": signal.name,
                    "type": signal.type,
                    "targets": list(signal.targets),
                    "min_temp": signal.min_temp,
                    "max_temp": signal.max_temp,
                    "temp_offset": signal.temp_offset,
                    "unit": signal.unit.value if signal.unit else None,
                }
            )
        for position, target in enumerate(event.targets):
            targets.append(
                {
                    "event_id": event.event_id,
                    "position": position,
                    "ven_id": target.ven_id,
                    "resource_ids": list(target.resource_ids),
                }
            )
    return signals, targets


def insert_children(session: Session, events: Sequence[PlanEvent]) -> None:
    signals, targets = child_rows(events)
    bulk_insert(session, SignalRow, signals)
    bulk_insert(session, TargetRow, targets)


def bulk_insert(session: Session, model: type[Base], rows: Sequence[dict[str, object]]) -> None:
    """One ``executemany`` on the table (the ORM's bulk path goes row by row here)."""
    if rows:
        session.connection().execute(table(model).insert(), rows)


def delete_children(session: Session, event_ids: Sequence[str]) -> None:
    for chunk in chunks(event_ids):
        session.execute(delete(SignalRow).where(SignalRow.event_id.in_(chunk)))
        session.execute(delete(TargetRow).where(TargetRow.event_id.in_(chunk)))


def chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    """Keeps ``IN (...)`` lists under SQLite's bound-parameter limit."""
    for index in range(0, len(items), size):
        yield items[index : index + size]


class SignalColumns(Protocol):
    """A row of ``event_signals``: an ORM row or a Core one (:mod:`.intents`)."""

    @property
    def signal_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def targets(self) -> list[str]: ...
    @property
    def min_temp(self) -> float | None: ...
    @property
    def max_temp(self) -> float | None: ...
    @property
    def temp_offset(self) -> float | None: ...
    @property
    def unit(self) -> str | None: ...


class TargetColumns(Protocol):
    """A row of ``event_targets``."""

    @property
    def ven_id(self) -> str: ...
    @property
    def resource_ids(self) -> list[str]: ...


class EventColumns(Protocol):
    """The ``events`` columns a :class:`PlanEvent` is made of."""

    @property
    def event_id(self) -> str: ...
    @property
    def vtn_id(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def name(self) -> str | None: ...
    @property
    def program_id(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def dr_program(self) -> str | None: ...
    @property
    def shaping(self) -> dict[str, Any] | None: ...


def to_plan_event(row: EventRow) -> PlanEvent:
    return plan_event_of(row, row.signals, row.targets)


def plan_event_of(
    row: EventColumns, signals: Iterable[SignalColumns], targets: Iterable[TargetColumns]
) -> PlanEvent:
    """The event its row and its child rows (in position order) hold."""
    return PlanEvent(
        event_id=row.event_id,
        vtn_id=row.vtn_id,
        start=row.start,
        end=row.end,
        signals=tuple(
            Signal(
                signal_id=s.signal_id,
                name=s.name,
                type=s.type,
                targets=tuple(s.targets),
                min_temp=s.min_temp,
                max_temp=s.max_temp,
                temp_offset=s.temp_offset,
                unit=TempUnit(s.unit) if s.unit else None,
            )
            for s in signals
        ),
        targets=tuple(EventTarget(t.ven_id, tuple(t.resource_ids)) for t in targets),
        name=row.name,
        program_id=row.program_id,
        source=row.source,
        dr_program=row.dr_program,
        shaping=Shaping.from_content(row.shaping),
    )


def running_event(row: EventRow) -> PlanEvent:
    """The revision the DR service runs: the submitted content, else the stored one."""
    content = _running_content(row)
    if content is None:
        return to_plan_event(row)
    return from_content(content, program_id=row.program_id, source=row.source)


class RunningColumns(Protocol):
    """The ``events`` columns that say which revision the DR service runs."""

    @property
    def revision(self) -> int: ...
    @property
    def submitted_revision(self) -> int | None: ...
    @property
    def submitted_content(self) -> dict[str, Any] | None: ...


def running_window(row: RunningColumns) -> tuple[datetime, datetime] | None:
    """The running revision's window when it is not the stored one, else None."""
    content = _running_content(row)
    if content is None:
        return None
    return _instant(content["start"]), _instant(content["end"])


def _running_content(row: RunningColumns) -> dict[str, Any] | None:
    """The submitted content, when the DR service runs another revision than the stored one.

    None also when the content is not of that revision (a request submitted
    by a release that did not record it, e.g. during a rolling upgrade):
    control then follows the stored revision.
    """
    running = running_revision(row.revision, row.submitted_revision)
    content = row.submitted_content
    if running == row.revision or content is None or content.get("revision") != running:
        return None  # a release before 0003 submitted it: no content of that revision
    return content


def submitted_content(event: PlanEvent, revision: int) -> dict[str, Any]:
    """What ``events.submitted_content`` holds: the content sent, with its revision."""
    return {**event.content(), "revision": revision}


def from_content(content: dict[str, Any], *, program_id: str | None, source: str) -> PlanEvent:
    """The inverse of :meth:`PlanEvent.content`."""
    return PlanEvent(
        event_id=content["event_id"],
        vtn_id=content["vtn_id"],
        start=_instant(content["start"]),
        end=_instant(content["end"]),
        signals=tuple(
            Signal(
                signal_id=s["signal_id"],
                name=s["name"],
                type=s["type"],
                targets=tuple(s["targets"]),
                min_temp=s["min_temp"],
                max_temp=s["max_temp"],
                temp_offset=s["temp_offset"],
                unit=TempUnit(s["unit"]) if s["unit"] else None,
            )
            for s in content["signals"]
        ),
        targets=tuple(
            EventTarget(t["ven_id"], tuple(t["resource_ids"])) for t in content["targets"]
        ),
        name=content["name"],
        program_id=program_id,
        source=source,
    )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def to_transition(row: TransitionRow) -> Transition:
    return Transition(
        row.event_id,
        Status(row.from_status),
        Status(row.to_status),
        row.at,
        Source(row.source),
        row.detail,
    )


def transition_values(change: Transition) -> dict[str, object]:
    return {
        "event_id": change.event_id,
        "from_status": change.from_status.value,
        "to_status": change.to_status.value,
        "at": change.at,
        "source": change.source.value,
        "detail": change.detail,
    }


# -- queries -------------------------------------------------------------------


def get_row(session: Session, event_id: str) -> EventRow:
    row = session.get(EventRow, event_id)
    if row is None:
        raise UnknownEventError(event_id)
    return row


def stored_events(session: Session, *, lock: bool = False) -> dict[str, StoredEvent]:
    """Every stored event as the plan diff sees it (columns only, no children).

    ``lock``: the events the daemon may still move are read ``FOR UPDATE``
    (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers),
    so no status moves between the diff and the writes decided from it
    (issue 10, bug 9); in id order, the same in every apply. Terminal events
    never move again: they are read after, without a lock (one that ended
    meanwhile is not locked by the first read, and is seen by the second).
    """
    query = select(
        EventRow.event_id,
        EventRow.status,
        EventRow.fingerprint,
        EventRow.source,
        EventRow.cancel_requested,
    )
    if lock:
        live = query.where(EventRow.status.in_(NOT_TERMINAL)).order_by(EventRow.event_id)
        done = query.where(EventRow.status.not_in(NOT_TERMINAL))
        rows = [*session.execute(live.with_for_update()), *session.execute(done)]
    else:
        rows = list(session.execute(query))
    return {
        r.event_id: StoredEvent(
            r.event_id, Status(r.status), r.fingerprint, r.source, r.cancel_requested
        )
        for r in rows
    }


def record_transitions(session: Session, changes: Sequence[Transition]) -> None:
    bulk_insert(session, TransitionRow, [transition_values(c) for c in changes])


_EVENTS = table(EventRow)
#: Built once: a statement's SQL is cached by its shape, but building it costs too.
_STATUS = select(_EVENTS.c.status).where(_EVENTS.c.event_id == bindparam("id"))
_REVISIONS = select(_EVENTS.c.revision, _EVENTS.c.submitted_revision, _EVENTS.c.request_id).where(
    _EVENTS.c.event_id == bindparam("id")
)
_MOVE = (
    update(_EVENTS)
    .where(_EVENTS.c.event_id == bindparam("id"))
    .where(_EVENTS.c.status == bindparam("from_status"))
    .values(status=bindparam("to_status"), updated_at=bindparam("at"))
)


def move(session: Session, change: Transition) -> bool:
    """Apply ``change`` if the event is still in its from-status; record it either way only then.

    Core statements (issue 14): every submission and outcome moves its event.
    """
    connection = session.connection()
    if change.from_status == change.to_status:
        found = connection.execute(_STATUS, {"id": change.event_id}).scalar()
        if found != change.from_status.value:
            return False
    elif connection.execute(_MOVE, _move_params(change)).rowcount != 1:
        return False
    record_transitions(session, [change, *_not_applied(session, change)])
    return True


def movable_together(change: Transition) -> bool:
    """Whether ``change`` may go to :func:`move_all`: a move (not a note) that adds no note."""
    return change.from_status != change.to_status and change.from_status != Status.PENDING


def move_all(session: Session, changes: Sequence[Transition]) -> None:
    """:func:`move` for each of ``changes`` (each :func:`movable_together`), in two statements.

    Raises :class:`NotAllMoved` when some event was no longer in its from-status: the
    caller undoes the transaction and moves them one by one (``move`` says which).
    """
    if not changes:
        return
    result = session.connection().execute(_MOVE, [_move_params(c) for c in changes])
    if result.rowcount != len(changes):
        raise NotAllMoved(f"{result.rowcount} of {len(changes)} events moved")
    record_transitions(session, changes)


def _move_params(change: Transition) -> dict[str, object]:
    """:data:`_MOVE`'s parameters for ``change``."""
    return {
        "id": change.event_id,
        "from_status": change.from_status.value,
        "to_status": change.to_status.value,
        "at": change.at,
    }


class NotAllMoved(Exception):
    """Another writer moved an event first: :func:`move_all` cannot say which."""


#: Moves that end the time a change may still be re-submitted (only pending can be deleted).
_PAST_PENDING = (Status.STANDBY, Status.ACTIVE, Status.COMPLETED)


def _not_applied(session: Session, change: Transition) -> list[Transition]:
    """The note a move past ``pending`` adds when a later revision was never submitted.

    The DR service runs the submitted revision; the timeline last said the
    daemon would re-submit the change (issue 10, bug 9: a plan apply just
    before the move, or a DELETE the service refused).
    """
    if change.from_status != Status.PENDING or change.to_status not in _PAST_PENDING:
        return []
    row = session.connection().execute(_REVISIONS, {"id": change.event_id}).one()
    if row.submitted_revision is None or row.revision <= row.submitted_revision:
        return []
    detail = (
        f"revision {row.revision} not applied: the DR service moved request "
        f"{row.request_id} to {change.to_status.value} before it could be deleted and "
        f"re-submitted; it runs revision {row.submitted_revision}"
    )
    status = change.to_status
    return [Transition(change.event_id, status, status, change.at, Source.API, detail)]


def bump_plan_revision(session: Session, at: datetime) -> int:
    session.execute(
        update(PlanStateRow)
        .where(PlanStateRow.id == 1)
        .values(revision=PlanStateRow.revision + 1, applied_at=at)
    )
    return plan_revision(session)


def plan_revision(session: Session) -> int:
    return session.scalar(select(PlanStateRow.revision).where(PlanStateRow.id == 1)) or 0


def list_events(
    session: Session,
    *,
    statuses: Sequence[Status] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    unfinished_or_ended_after: datetime | None = None,
    limit: int | None = None,
) -> list[EventSummary]:
    """Events soonest first. ``unfinished_or_ended_after`` keeps every event not yet in a
    terminal status (whatever its window: a stuck one must show) and those that ended
    after that instant."""
    query = select(EventRow).order_by(EventRow.start, EventRow.event_id)
    if statuses:
        query = query.where(EventRow.status.in_([s.value for s in statuses]))
    if since is not None:
        query = query.where(EventRow.end > since)
    if unfinished_or_ended_after is not None:
        terminal = [s.value for s in TERMINAL]
        query = query.where(
            or_(EventRow.status.not_in(terminal), EventRow.end > unfinished_or_ended_after)
        )
    if until is not None:
        query = query.where(EventRow.start < until)
    if limit is not None:
        query = query.limit(limit)
    return [summary(row) for row in session.scalars(query)]


def summary(row: EventRow) -> EventSummary:
    return EventSummary(
        row.event_id,
        Status(row.status),
        row.start,
        row.end,
        row.name,
        row.program_id,
        row.request_id,
        row.revision,
        row.cancel_requested,
        tuple(dict.fromkeys(t.ven_id for t in row.targets)),
        row.source,
    )


def counts_by_status(session: Session) -> dict[Status, int]:
    query = select(EventRow.status, func.count()).group_by(EventRow.status)
    return {Status(status): count for status, count in session.execute(query)}


def timeline(session: Session, event_id: str | None = None) -> list[Transition]:
    query = select(TransitionRow).order_by(TransitionRow.id)
    if event_id is not None:
        query = query.where(TransitionRow.event_id == event_id)
    return [to_transition(row) for row in session.scalars(query)]


def intents_of(session: Session, event_id: str) -> list[IntentRow]:
    query = select(IntentRow).where(IntentRow.event_id == event_id).order_by(IntentRow.id)
    return list(session.scalars(query))


NOT_TERMINAL = [s.value for s in Status if s not in TERMINAL]
