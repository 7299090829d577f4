"""Intent rows and the submission they record, in SQLAlchemy Core (issue 14).

200 events due at once are 200 intents, then 200 outcomes. Through the ORM
each cost 2–4 ms of CPU (an ``EventRow`` with its signals and targets loaded,
the unit of work flushing it), so that the last POST of a system-wide event
left a second and a half late. Here the intents of a batch (``together``) are
written by a handful of statements, each one ``executemany`` or one ``IN``
query for them all, compiled once.

The content a submission records is returned by :func:`begin_all`: it is what
the POST sends (``running_event`` would read the same back).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from scheduler.domain.events import PlanEvent
from scheduler.domain.intents import Intent, IntentKind
from scheduler.errors import UnknownEventError
from scheduler.store.events import chunks, plan_event_of, submitted_content
from scheduler.store.models import EventRow, IntentRow, SignalRow, TargetRow, table

_EVENTS = table(EventRow)
_SIGNALS = table(SignalRow)
_TARGETS = table(TargetRow)
_INTENTS = table(IntentRow)

_INSERT = insert(_INTENTS)
_EVENTS_IN = select(
    *(
        _EVENTS.c[name]
        for name in (
            "event_id",
            "vtn_id",
            "start",
            "end",
            "name",
            "program_id",
            "source",
            "dr_program",
            "shaping",
            "revision",
        )
    )
).where(_EVENTS.c.event_id.in_(bindparam("ids", expanding=True)))
_SIGNALS_IN = (
    select(_SIGNALS)
    .where(_SIGNALS.c.event_id.in_(bindparam("ids", expanding=True)))
    .order_by(_SIGNALS.c.event_id, _SIGNALS.c.position)
)
_TARGETS_IN = (
    select(_TARGETS)
    .where(_TARGETS.c.event_id.in_(bindparam("ids", expanding=True)))
    .order_by(_TARGETS.c.event_id, _TARGETS.c.position)
)
#: Sets the columns its parameters name (besides ``id``).
_SUBMITTED = update(_EVENTS).where(_EVENTS.c.event_id == bindparam("id"))
#: Closes the newest open intent of an event, kind and request id.
_END = update(_INTENTS).where(
    _INTENTS.c.id
    == select(func.max(_INTENTS.c.id))
    .where(_INTENTS.c.event_id == bindparam("e_id"))
    .where(_INTENTS.c.kind == bindparam("e_kind"))
    .where(_INTENTS.c.request_id == bindparam("e_request_id"))
    .where(_INTENTS.c.outcome.is_(None))
    .scalar_subquery()
)


def begin_all(
    session: Session, intents: Sequence[tuple[Intent, datetime]]
) -> list[PlanEvent | None]:
    """Record each ``(intent, at)``; for a submission, the request and the content it sends.

    Returns, in order, the content each submission sends (None for other kinds).
    The intents are inserted first: on PostgreSQL their foreign keys wait for a
    plan apply that holds the events' rows, and the content is then read as that
    apply left it.
    """
    connection = session.connection()
    connection.execute(_INSERT, [_intent_row(intent, at) for intent, at in intents])
    creates = [(i, at) for i, at in intents if i.kind == IntentKind.CREATE]
    if not creates:
        return [None] * len(intents)
    contents = _contents(session, [i.event_id for i, _ in creates])
    submitted = [_submission(intent, at, contents) for intent, at in creates]
    connection.execute(_SUBMITTED, submitted)
    return [contents[i.event_id][0] if i.kind == IntentKind.CREATE else None for i, _ in intents]


def _intent_row(intent: Intent, at: datetime) -> dict[str, object]:
    return {
        "event_id": intent.event_id,
        "kind": intent.kind.value,
        "request_id": intent.request_id,
        "revision": intent.revision,
        "begun_at": at,
    }


def _submission(
    intent: Intent, at: datetime, contents: dict[str, tuple[PlanEvent, int]]
) -> dict[str, object]:
    """The request being created and the content it carries (what the DR service will run).

    The content is the stored revision now, which the POST sends: a plan
    apply since the engine decided makes it later than ``intent.revision``,
    and ``submitted_revision`` says which it is. An event gone (a plan apply
    removed it) fails the intent's insert (its foreign key), else raises
    :class:`UnknownEventError` here: no intent, no POST.
    """
    found = contents.get(intent.event_id)
    if found is None:
        raise UnknownEventError(intent.event_id)
    event, revision = found
    return {
        "id": intent.event_id,
        "request_id": intent.request_id,
        "submitted_revision": revision,
        "submitted_content": submitted_content(event, revision),
        "updated_at": at,
    }


def _contents(session: Session, event_ids: Sequence[str]) -> dict[str, tuple[PlanEvent, int]]:
    """The stored content and revision of each event (three queries for them all)."""
    connection = session.connection()
    found: dict[str, tuple[PlanEvent, int]] = {}
    for chunk in chunks(list(dict.fromkeys(event_ids))):
        ids = {"ids": list(chunk)}
        signals = _by_event(connection.execute(_SIGNALS_IN, ids))
        targets = _by_event(connection.execute(_TARGETS_IN, ids))
        for row in connection.execute(_EVENTS_IN, ids):
            key = row.event_id
            event = plan_event_of(row, signals.get(key, ()), targets.get(key, ()))
            found[key] = event, row.revision
    return found


def _by_event(rows: Iterable[Row[Any]]) -> dict[str, list[Row[Any]]]:
    grouped: dict[str, list[Row[Any]]] = {}
    for row in rows:
        grouped.setdefault(row.event_id, []).append(row)
    return grouped


def end_all(session: Session, outcomes: Sequence[tuple[Intent, str, datetime]]) -> None:
    """Close, for each ``(intent, outcome, at)``, the newest open intent of its event,
    kind and request id, if any."""
    rows = [
        {
            "e_id": intent.event_id,
            "e_kind": intent.kind.value,
            "e_request_id": intent.request_id,
            "outcome": outcome,
            "ended_at": at,
        }
        for intent, outcome, at in outcomes
    ]
    session.connection().execute(_END, rows)
