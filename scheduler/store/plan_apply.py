"""``plan apply``: one transaction that makes the stored events match the plan files.

All or nothing: a refused change (see :mod:`scheduler.domain.plan_diff`) writes
nothing. The statuses the diff is decided from are locked until the commit
(``SELECT ... FOR UPDATE`` on PostgreSQL): the daemon's status moves and
submissions wait for the apply, or the apply sees them (issue 10, bug 9).
Idempotent: the same files applied twice leave the database as the first
apply did (not even the plan revision moves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.domain.plan_diff import Change, Item, PlanDiff, diff_plan
from scheduler.domain.sources import owned_by_plan
from scheduler.errors import Problem, StoreError
from scheduler.store import transaction
from scheduler.store.events import (
    bulk_insert,
    bump_plan_revision,
    chunks,
    delete_children,
    event_columns,
    insert_children,
    plan_revision,
    record_transitions,
    stored_events,
)
from scheduler.store.fenced import Fence
from scheduler.store.models import EventRow, PlanStateRow


def preview(engine: Engine, events: Sequence[PlanEvent], now: datetime) -> PlanDiff:
    """What :func:`apply_plan` would do, without writing."""
    with Session(engine) as session:
        return _plan_diff(session, events, now)


def _plan_diff(
    session: Session, events: Sequence[PlanEvent], now: datetime, *, lock: bool = False
) -> PlanDiff:
    """The diff against the events the plan owns; an id another source owns is refused.

    ``lock``: read what the diff decides from ``FOR UPDATE`` (see :func:`stored_events`).
    """
    stored = stored_events(session, lock=lock)
    owned = {k: v for k, v in stored.items() if owned_by_plan(v.source)}
    diff = diff_plan(owned, events, now)
    clashes = [
        _clash(event, stored[event.event_id].source)
        for event in events
        if event.event_id in stored and event.event_id not in owned
    ]
    if clashes:
        diff = replace(diff, refused=(*diff.refused, *clashes))
    return diff


def _clash(event: PlanEvent, other: str) -> Problem:
    file, _, line = event.source.rpartition(":")
    message = f"event id {event.event_id!r} is already taken by an event from {other}"
    if file and line.isdigit():
        return Problem(file, int(line), 1, message)
    return Problem(event.source or "plan", 0, 0, message)


def apply_plan(
    engine: Engine,
    events: Sequence[PlanEvent],
    now: datetime,
    fence: Fence | None = None,
    *,
    digest: str | None = None,
) -> PlanDiff:
    """Apply ``events`` as the whole plan; raises :class:`PlanError` if any change is refused.

    ``digest`` (:mod:`scheduler.plans.digest`, the daemon's applies) is recorded with
    the revision the apply leaves, in the same transaction, for :func:`applied_unchanged`.
    """
    with transaction(engine) as session:
        if fence is not None:
            fence(session)
        diff = _plan_diff(session, events, now, lock=True)
        diff.raise_refused()
        if not diff.is_empty:
            write_diff(session, diff, now)
        if digest is not None:
            _remember(session, digest)
        return diff


def applied_unchanged(engine: Engine, digest: str) -> bool:
    """True when an apply of files with this ``digest`` left the events as they are now.

    Nothing changed the events' content since (every plan apply, cancel request and
    OpenADR change moves the plan revision, which the record names), so the same
    apply would decide the same and write nothing: the daemon skips it. Status moves
    do not count: an unchanged event stays unchanged whatever its status, and a
    removal the last apply accepted left a row no apply touches again (gone,
    canceling or terminal). One read, no lock: a concurrent apply that moves the
    revision just comes after this one.
    """
    query = select(PlanStateRow.revision, PlanStateRow.applied_digest).where(PlanStateRow.id == 1)
    try:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    except OperationalError as exc:
        raise StoreError(f"database error: {exc.orig or exc}") from exc
    return row is not None and row.applied_digest == _stamp(row.revision, digest)


def _remember(session: Session, digest: str) -> None:
    stamp = _stamp(plan_revision(session), digest)
    state = session.get(PlanStateRow, 1)
    if state is not None and state.applied_digest != stamp:  # no write when it is already so
        state.applied_digest = stamp


def _stamp(revision: int, digest: str) -> str:
    return f"{revision}:{digest}"


def write_diff(
    session: Session, diff: PlanDiff, now: datetime, origin: Source = Source.PLAN
) -> None:
    """Write ``diff``; ``origin`` is who changed it (a plan file, or an OpenADR VTN)."""
    _add(session, [i.event for i in diff.of(Change.ADD) if i.event], now)
    _update(session, diff.of(Change.UPDATE, Change.RESUBMIT), now, origin)
    _delete(session, [i.event_id for i in diff.of(Change.DELETE)])
    _cancel(session, diff.of(Change.CANCEL), now)
    bump_plan_revision(session, now)


def _add(session: Session, events: Sequence[PlanEvent], now: datetime) -> None:
    if not events:
        return
    rows = [
        {
            "event_id": e.event_id,
            "status": Status.PLANNED.value,
            "revision": 1,
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
            **event_columns(e),
        }
        for e in events
    ]
    bulk_insert(session, EventRow, rows)
    # No transition row: an event's creation is its row (created_at, source),
    # which ``events show`` prints as the first line of the timeline.
    insert_children(session, events)


def _update(session: Session, items: Sequence[Item], now: datetime, origin: Source) -> None:
    if not items:
        return
    events = [i.event for i in items if i.event is not None]
    delete_children(session, [e.event_id for e in events])
    notes = []
    for item, event in zip(items, events, strict=True):
        session.execute(
            update(EventRow)
            .where(EventRow.event_id == event.event_id)
            .values(revision=EventRow.revision + 1, updated_at=now, **event_columns(event))
            .execution_options(synchronize_session=False)
        )
        where = "at the VTN" if origin == Source.VTN else "in the plan"
        detail = f"changed {where} ({event.source})" if event.source else f"changed {where}"
        notes.append(_note(event.event_id, item.status, now, _join(detail, item.note), origin))
    insert_children(session, events)
    record_transitions(session, notes)


def _delete(session: Session, event_ids: Sequence[str]) -> None:
    for chunk in chunks(event_ids):
        session.execute(delete(EventRow).where(EventRow.event_id.in_(chunk)))


def _cancel(session: Session, items: Sequence[Item], now: datetime) -> None:
    for chunk in chunks([i.event_id for i in items]):
        session.execute(
            update(EventRow)
            .where(EventRow.event_id.in_(chunk))
            .values(cancel_requested=True, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    record_transitions(
        session,
        [
            _note(
                i.event_id, i.status, now, _join("removed from the plan: cancel requested", i.note)
            )
            for i in items
        ],
    )


def _note(
    event_id: str, status: Status | None, at: datetime, detail: str, origin: Source = Source.PLAN
) -> Transition:
    """An audit line that keeps the status (from == to)."""
    status = status or Status.PLANNED
    return Transition(event_id, status, status, at, origin, detail)


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if second else first
