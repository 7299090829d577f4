"""The daemon's store: :class:`~scheduler.engine.ports.EngineStore` over SQL.

Every write is one short transaction (``BEGIN IMMEDIATE`` on SQLite), begun
with the leader's fencing check when one is given, so a stale leader's
writes are refused (issue: PostgreSQL fail-over).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Engine, Row, bindparam, case, null, select
from sqlalchemy.orm import Session

from scheduler.domain.events import PlanEvent
from scheduler.domain.intents import EventView, Intent, IntentKind
from scheduler.domain.lifecycle import TERMINAL, Source, Status, Transition
from scheduler.domain.plan_diff import PlanDiff
from scheduler.domain.shaping import Shaping
from scheduler.store import events as repo
from scheduler.store import intents
from scheduler.store.fenced import Fence, FencedStore, Many
from scheduler.store.models import EventRow, IntentRow, table
from scheduler.store.plan_apply import apply_plan

#: Told of every committed lifecycle transition: ``(from_status, to_status, source)``.
TransitionCounter = Callable[[str, str, str], None]


class DaemonStore(FencedStore):
    """The engine's store; ``counted`` hears of each committed transition (the metrics)."""

    def __init__(
        self, engine: Engine, fence: Fence | None = None, counted: TransitionCounter | None = None
    ) -> None:
        super().__init__(engine, fence)
        self._counted = counted

    # -- EngineStore ---------------------------------------------------------

    def plan_revision(self) -> int:
        with self._read() as session:
            return repo.plan_revision(session)

    def snapshot(self, planned_start_before: datetime) -> Sequence[EventView]:
        """Core rows of the columns a view needs (issue 14: every tick reads it, and the
        ORM's rows, with their signals and targets, cost 15 ms for 200 events)."""
        with self._read() as session:
            connection = session.connection()
            rows: list[Row[Any]] = list(
                connection.execute(_SNAPSHOT, {"before": planned_start_before})
            )
            intents = self._open_intents(session, [r.event_id for r in rows])
        return [_view(row, intents.get(row.event_id)) for row in rows]

    def plan_event(self, event_id: str) -> PlanEvent:
        with self._read() as session:
            return repo.to_plan_event(repo.get_row(session, event_id))

    def running_event(self, event_id: str) -> PlanEvent:
        with self._read() as session:
            return repo.running_event(repo.get_row(session, event_id))

    def open_intents(self) -> Sequence[Intent]:
        query = select(IntentRow).where(IntentRow.outcome.is_(None)).order_by(IntentRow.id)
        with self._read() as session:
            return [_intent(row) for row in session.scalars(query)]

    def begin_intent(
        self, intent: Intent, change: Transition | None, at: datetime
    ) -> PlanEvent | None:
        with self._write() as session:
            (event,) = intents.begin_all(session, [(intent, at)])
            moved = change is not None and repo.move(session, change)
        self._count(change, moved)
        return event

    def end_intent(
        self, intent: Intent, outcome: str, change: Transition | None, at: datetime
    ) -> None:
        with self._write() as session:
            intents.end_all(session, [(intent, outcome, at)])
            moved = change is not None and repo.move(session, change)
        self._count(change, moved)

    def record(self, change: Transition) -> bool:
        with self._write() as session:
            moved = repo.move(session, change)
        self._count(change, moved)
        return moved

    # -- many intents at once (``together``, issue 14) ---------------------------

    def _many(self, call: Callable[[], Any]) -> Many | None:
        """Intents begun or ended, or moves recorded, together: one ``executemany`` per
        statement for them all.

        Only calls whose transition :func:`~scheduler.store.events.movable_together`
        (the submission's ``submitting``, the outcome's ``pending`` or ``failed``, a
        poll's ``active`` or ``completed``); any other runs alone, in the same transaction.
        """
        if not isinstance(call, partial) or call.keywords:
            return None
        if call.func == self.begin_intent and len(call.args) == 3:
            return self._begin_all if _movable(call.args[1]) else None
        if call.func == self.end_intent and len(call.args) == 4:
            return self._end_all if _movable(call.args[2]) else None
        if call.func == self.record and len(call.args) == 1 and call.args[0] is not None:
            return self._record_all if _movable(call.args[0]) else None
        return None

    def _begin_all(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        args = [cast(partial[Any], call).args for call in calls]
        with self._write() as session:
            events = intents.begin_all(session, [(intent, at) for intent, _, at in args])
            self._move_all(session, [change for _, change, _ in args])
        return list(events)

    def _end_all(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        args = [cast(partial[Any], call).args for call in calls]
        with self._write() as session:
            intents.end_all(session, [(intent, outcome, at) for intent, outcome, _, at in args])
            self._move_all(session, [change for _, _, change, _ in args])
        return [None] * len(calls)

    def _record_all(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        """Transitions seen together (the polls of a start: ``active``), in two statements."""
        with self._write() as session:
            self._move_all(session, [cast(partial[Any], call).args[0] for call in calls])
        return [True] * len(calls)

    def _move_all(self, session: Session, changes: Sequence[Transition | None]) -> None:
        moves = [c for c in changes if c is not None]
        repo.move_all(session, moves)
        for change in moves:
            self._count(change, True)

    # -- plans, views and admin requests (CLI, demo, tests) ---------------------

    def apply_events(self, events: Sequence[PlanEvent], now: datetime) -> PlanDiff:
        return apply_plan(self.engine, events, now, self.fence)

    def overview(self) -> list[repo.EventSummary]:
        with self._read() as session:
            return repo.list_events(session)

    def timeline(self, event_id: str | None = None) -> list[Transition]:
        with self._read() as session:
            return repo.timeline(session, event_id)

    def request_cancel(self, event_id: str, now: datetime) -> str:
        with self._write() as session:
            return request_cancel(session, event_id, now)

    def _count(self, change: Transition | None, moved: bool) -> None:
        """``drsched_transitions_total``, once the transition is committed (notes don't count)."""
        counted = self._counted
        if counted is None or change is None or not moved:
            return
        if change.from_status != change.to_status:
            self._on_commit(lambda: counted(change.from_status, change.to_status, change.source))

    def _open_intents(self, session: Session, event_ids: Sequence[str]) -> dict[str, Intent]:
        found: dict[str, Intent] = {}
        connection = session.connection()
        for chunk in repo.chunks(event_ids):
            for row in connection.execute(_OPEN_INTENTS, {"ids": list(chunk)}):
                found[row.event_id] = _intent(row)
        return found


def request_cancel(session: Session, event_id: str, now: datetime) -> str:
    """Record an admin's cancel for the daemon to carry out; says what will happen."""
    row = repo.get_row(session, event_id)
    status = Status(row.status)
    if status in TERMINAL:
        return f"event {event_id} is already {status}: nothing to cancel"
    if row.cancel_requested:
        return f"event {event_id}: a cancel is already requested; the daemon carries it out"
    row.cancel_requested = True
    row.updated_at = now
    what = _cancel_outcome(status, row.request_id)
    repo.record_transitions(
        session,
        [Transition(event_id, status, status, now, Source.ADMIN, f"cancel requested: {what}")],
    )
    repo.bump_plan_revision(session, now)
    return f"event {event_id} ({status}): cancel requested; {what}"


def _cancel_outcome(status: Status, request_id: str | None) -> str:
    if status == Status.PLANNED:
        return "it will not be submitted"
    if status in (Status.SUBMITTING, Status.PENDING):
        return f"the daemon deletes request {request_id} at the DR service"
    return (
        "canceled locally (HVAC control stops, setpoints are restored); the DR service "
        f"will still run its part of request {request_id}, which it can no longer delete"
    )


_EVENTS = table(EventRow)
_INTENTS = table(IntentRow)
#: ``submitted_content`` only where the DR service runs another revision than the stored
#: one, the only rows whose view needs it (``repo.running_window``): decoding every
#: row's content was half of a 200-event snapshot's 5 ms, read at every tick (issue 14).
_RUNNING_CONTENT = case(
    (_EVENTS.c.submitted_revision != _EVENTS.c.revision, _EVENTS.c.submitted_content),
    else_=null(),
).label("submitted_content")
#: Every non-terminal event, except planned ones starting at or after ``before``.
_SNAPSHOT = (
    select(
        *(
            _EVENTS.c[name]
            for name in (
                "event_id",
                "status",
                "start",
                "end",
                "revision",
                "request_id",
                "submitted_revision",
            )
        ),
        _RUNNING_CONTENT,
        _EVENTS.c.cancel_requested,
        _EVENTS.c.shaping,
    )
    .where(_EVENTS.c.status.in_(repo.NOT_TERMINAL))
    .where(
        (_EVENTS.c.status != Status.PLANNED.value)
        | (_EVENTS.c.start < bindparam("before"))
        | _EVENTS.c.cancel_requested
    )
    .order_by(_EVENTS.c.start, _EVENTS.c.event_id)
)
_OPEN_INTENTS = (
    select(_INTENTS)
    .where(_INTENTS.c.outcome.is_(None))
    .where(_INTENTS.c.event_id.in_(bindparam("ids", expanding=True)))
    .order_by(_INTENTS.c.id)
)


def _view(row: Row[Any], intent: Intent | None) -> EventView:
    running = repo.running_window(row)
    return EventView(
        event_id=row.event_id,
        status=Status(row.status),
        start=row.start,
        end=row.end,
        revision=row.revision,
        request_id=row.request_id,
        submitted_revision=row.submitted_revision,
        cancel_requested=row.cancel_requested,
        open_intent=intent,
        running_start=running[0] if running else None,
        running_end=running[1] if running else None,
        pre_condition=_pre_condition(row),
    )


def _pre_condition(row: Row[Any]) -> timedelta | None:
    """How long before the window the event pre-conditions (None: it does not)."""
    shaping = Shaping.from_content(row.shaping)
    pre = shaping.pre_condition if shaping is not None else None
    return pre.duration if pre is not None else None


def _movable(change: object) -> bool:
    return change is None or (isinstance(change, Transition) and repo.movable_together(change))


def _intent(row: IntentRow | Row[Any]) -> Intent:
    return Intent(row.event_id, IntentKind(row.kind), row.request_id, row.revision)
