"""The stored evidence of events (:class:`EventEvidence`) for ``drsched report``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.domain.control_records import ControlRecord
from scheduler.domain.evidence import EventEvidence, FacilityEvidence
from scheduler.store.control import records_of
from scheduler.store.events import get_row, timeline, to_plan_event
from scheduler.store.models import EventRow
from scheduler.store.reads import reads_for


def evidence_of(session: Session, event_id: str) -> EventEvidence:
    """One event's evidence; :class:`UnknownEventError` when there is no such event."""
    row = get_row(session, event_id)
    reads = reads_for(session, [event_id])
    return EventEvidence(
        to_plan_event(row),
        row.status,
        tuple(timeline(session, event_id)),
        tuple(_facility(r) for r in records_of(session, event_id)),
        tuple(reads),
    )


def events_between(
    session: Session, first: datetime, last: datetime, program: str | None = None
) -> list[str]:
    """Ids of the events starting in ``[first, last)`` (of ``program`` when given)."""
    query = select(EventRow.event_id).where(EventRow.start >= first, EventRow.start < last)
    if program is not None:
        query = query.where(EventRow.dr_program == program)
    return list(session.scalars(query.order_by(EventRow.start, EventRow.event_id)))


def evidence_for(session: Session, event_ids: Sequence[str]) -> list[EventEvidence]:
    return [evidence_of(session, event_id) for event_id in event_ids]


def _facility(record: ControlRecord) -> FacilityEvidence:
    return FacilityEvidence(
        record.key,
        record.state.value,
        record.reason,
        record.detail,
        record.unit.value if record.unit else None,
        record.mode.value if record.mode else None,
        record.original,
        record.target,
        record.restored,
        record.applied_at,
        record.restored_at,
        record.updated_at,
        record.attempts,
        record.pre_target,
        record.pre_at,
    )
