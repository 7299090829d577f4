"""Intent rows and the submission they record, in SQLAlchemy Core (issue 14).

200 events due at once are 200 intents, then 200 outcomes. Through the ORM
each cost 2–4 ms of CPU (an ``EventRow`` with its signals and targets loaded,
the unit of work flushing it), so that the last POST of a system-wide event
left a second and a half late. Here each is a handful of statements compiled once.

The content a submission records is returned by :func:`begin`: it is what the
POST sends (``running_event`` would read the same back).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from scheduler.domain.events import PlanEvent
from scheduler.domain.intents import Intent, IntentKind
from scheduler.errors import UnknownEventError
from scheduler.store.events import plan_event_of, submitted_content
from scheduler.store.models import EventRow, IntentRow, SignalRow, TargetRow

_EVENTS = cast(Table, EventRow.__table__)
_SIGNALS = cast(Table, SignalRow.__table__)
_TARGETS = cast(Table, TargetRow.__table__)
_INTENTS = cast(Table, IntentRow.__table__)

_INSERT = insert(_INTENTS)
_EVENT = select(
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
).where(_EVENTS.c.event_id == bindparam("id"))
_SIGNALS_OF = (
    select(_SIGNALS).where(_SIGNALS.c.event_id == bindparam("id")).order_by(_SIGNALS.c.position)
)
_TARGETS_OF = (
    select(_TARGETS).where(_TARGETS.c.event_id == bindparam("id")).order_by(_TARGETS.c.position)
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


def begin(session: Session, intent: Intent, at: datetime) -> PlanEvent | None:
    """Record ``intent``; for a submission, the request and the content it sends.

    The intent is inserted first: on PostgreSQL its foreign key waits for a plan
    apply that holds the event's row, and the content is then read as that apply
    left it.
    """
    session.connection().execute(
        _INSERT,
        {
            "event_id": intent.event_id,
            "kind": intent.kind.value,
            "request_id": intent.request_id,
            "revision": intent.revision,
            "begun_at": at,
        },
    )
    if intent.kind != IntentKind.CREATE:
        return None
    return _record_submission(session, intent, at)


def _record_submission(session: Session, intent: Intent, at: datetime) -> PlanEvent:
    """The request being created and the content it carries (what the DR service will run).

    The content is the stored revision now, which the POST sends: a plan
    apply since the engine decided makes it later than ``intent.revision``,
    and ``submitted_revision`` says which it is. Raises
    :class:`UnknownEventError` when the event is gone: no intent, no POST.
    """
    connection = session.connection()
    key = {"id": intent.event_id}
    row = connection.execute(_EVENT, key).first()
    if row is None:
        raise UnknownEventError(intent.event_id)
    signals = list(connection.execute(_SIGNALS_OF, key))
    targets = list(connection.execute(_TARGETS_OF, key))
    event = plan_event_of(row, signals, targets)
    values = {
        "request_id": intent.request_id,
        "submitted_revision": row.revision,
        "submitted_content": submitted_content(event, row.revision),
        "updated_at": at,
    }
    connection.execute(_SUBMITTED, {**key, **values})
    return event


def end(session: Session, intent: Intent, outcome: str, at: datetime) -> None:
    """Close the newest open intent of this event, kind and request id, if any."""
    key = {
        "e_id": intent.event_id,
        "e_kind": intent.kind.value,
        "e_request_id": intent.request_id,
    }
    session.connection().execute(_END, {**key, "outcome": outcome, "ended_at": at})
