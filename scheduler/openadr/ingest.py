"""One VTN event into the store, through the plan path, and the answer to give the VTN.

One transaction per event: the event's row (added, changed, cancel requested)
and the answer (``optIn``/``optOut`` with the reason) are written together,
so a restart neither stores an event twice nor answers it differently. The
same modification number seen again gets the stored answer and changes nothing.

Lifecycle (issue 12): new -> stored (the daemon submits it as any event); a
higher modification -> :func:`~scheduler.domain.plan_diff.diff_plan` decides as for a
plan change (planned: update; pending: delete and re-submit; from standby on:
refused, and drsched opts out of the change with a note in the timeline);
``cancelled`` -> a cancel request (the daemon deletes or cancels locally and
restores setpoints); a window already over -> not stored, opted out.

No implied cancel: an event the VTN stops listing is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from scheduler.config import MarketContextMap
from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.domain.plan_diff import Change, StoredEvent, diff_plan
from scheduler.domain.sources import openadr_source
from scheduler.store import events as repo
from scheduler.store import transaction
from scheduler.store.fenced import Fence
from scheduler.store.models import EventRow
from scheduler.store.openadr import Answer, answer_of, overlapping, record_answer
from scheduler.store.plan_apply import write_diff

from .mapping import CANCELLED, COMPLETED, Refusal, VtnEvent, map_event

OPT_IN = "optIn"
OPT_OUT = "optOut"


def ingest(
    engine: Engine,
    event: VtnEvent,
    contexts: Sequence[MarketContextMap],
    now: datetime,
    fence: Fence | None = None,
) -> Answer:
    """Store what ``event`` asks for (or not) and return the answer recorded for it."""
    with transaction(engine) as session:
        if fence is not None:
            fence(session)
        previous = answer_of(session, event.vtn_id, event.event_id)
        if previous is not None and previous.modification == event.modification:
            return previous
        answer = _decide(session, event, contexts, previous, now)
        record_answer(session, answer, now)
        return answer


def _decide(
    session: Session,
    event: VtnEvent,
    contexts: Sequence[MarketContextMap],
    previous: Answer | None,
    now: datetime,
) -> Answer:
    stored_id = previous.event_id if previous else None
    if event.status == CANCELLED:
        if stored_id is None:
            return _answer(event, OPT_OUT, "cancelled at the VTN; nothing was stored")
        _cancel(session, stored_id, event, now)
        return _answer(event, OPT_IN, "cancelled at the VTN: cancel requested", stored_id)
    if event.status == COMPLETED:
        return _answer(event, previous.opt if previous else OPT_OUT, "completed", stored_id)
    mapped = map_event(event, contexts)
    if isinstance(mapped, Refusal):
        return _refuse(session, event, mapped.reason, stored_id, now)
    return _store(session, event, mapped, stored_id, now)


def _store(
    session: Session, event: VtnEvent, mapped: PlanEvent, stored_id: str | None, now: datetime
) -> Answer:
    row = session.get(EventRow, mapped.event_id)
    if row is not None and not _ours(row.source, event):
        reason = f"event id {mapped.event_id!r} is already taken by an event from {row.source}"
        return _refuse(session, event, reason, stored_id, now)
    clashes = overlapping(session, mapped)
    if clashes:
        named = ", ".join(f"{other} ({source or 'plan'})" for other, source in clashes)
        reason = f"window overlaps event(s) {named} on the same VEN"
        return _refuse(session, event, reason, stored_id, now)
    stored = {}
    if row is not None:
        stored[row.event_id] = StoredEvent(
            row.event_id, Status(row.status), row.fingerprint, row.source, row.cancel_requested
        )
    diff = diff_plan(stored, [mapped], now)
    if diff.refused:
        reason = "; ".join(p.message for p in diff.refused)
        return _refuse(session, event, reason, stored_id, now)
    item = diff.items[0] if diff.items else None
    if item is not None and item.change in (Change.PAST, Change.IGNORED):
        return _refuse(session, event, item.note, stored_id, now)
    if item is None:  # same content under a new modification number
        session.execute(
            update(EventRow).where(EventRow.event_id == mapped.event_id).values(source=event.source)
        )
    else:
        write_diff(session, diff, now, Source.VTN)
    return _answer(event, OPT_IN, "", mapped.event_id)


def _ours(source: str, event: VtnEvent) -> bool:
    """The stored event came from this VTN event (any modification)."""
    return source.startswith(openadr_source(event.vtn_id, event.event_id, 0).removesuffix("0"))


def _refuse(
    session: Session, event: VtnEvent, reason: str, stored_id: str | None, now: datetime
) -> Answer:
    """Opt out; a refused change of a stored event is noted in its timeline."""
    if stored_id is not None:
        row = session.get(EventRow, stored_id)
        if row is not None:
            detail = f"change at the VTN ({event.source}) refused, opted out: {reason}"
            _note(session, row, detail, now)
    return _answer(event, OPT_OUT, reason, stored_id)


def _cancel(session: Session, event_id: str, event: VtnEvent, now: datetime) -> None:
    row = session.get(EventRow, event_id)
    if row is None or Status(row.status).is_terminal or row.cancel_requested:
        return
    row.cancel_requested = True
    row.source = event.source
    row.updated_at = now
    _note(session, row, f"cancelled at the VTN ({event.source}): cancel requested", now)
    repo.bump_plan_revision(session, now)


def _note(session: Session, row: EventRow, detail: str, now: datetime) -> None:
    status = Status(row.status)
    repo.record_transitions(
        session, [Transition(row.event_id, status, status, now, Source.VTN, detail)]
    )


def _answer(event: VtnEvent, opt: str, reason: str, event_id: str | None = None) -> Answer:
    return Answer(
        event.vtn_id, event.event_id, event.modification, opt, reason, event_id, event.status
    )
