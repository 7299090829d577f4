"""OpenADR VEN state in SQL: the registration and every event answered.

openleadr keeps both only in memory: a restart would register under a new
VEN id and answer (and store) every event again. Here they are rows written
in the same transaction as the events they concern (DESIGN rule 1), keyed by
the VTN URL and by (VTN id, OpenADR event id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import TERMINAL
from scheduler.store.models import Base, EventRow, TargetRow, UtcDateTime


class OpenadrVenRow(Base):
    """This VEN at one VTN: its ids and how the last contact went."""

    __tablename__ = "openadr_ven"

    vtn_url: Mapped[str] = mapped_column(String(500), primary_key=True)
    ven_name: Mapped[str] = mapped_column(String(200))
    ven_id: Mapped[str | None] = mapped_column(String(200))
    registration_id: Mapped[str | None] = mapped_column(String(200))
    vtn_id: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OpenadrEventRow(Base):
    """The answer given to one VTN event at one modification number."""

    __tablename__ = "openadr_events"

    vtn_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    oadr_event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    modification: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(String(200))  # drsched's, once stored
    opt: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    vtn_status: Mapped[str] = mapped_column(String(20))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class VenState:
    vtn_url: str
    ven_name: str
    ven_id: str | None
    registration_id: str | None
    vtn_id: str | None
    state: str
    registered_at: datetime | None
    last_poll_at: datetime | None
    last_error: str | None
    next_retry_at: datetime | None


def load_ven(session: Session, vtn_url: str) -> VenState | None:
    row = session.get(OpenadrVenRow, vtn_url)
    return None if row is None else _state(row)


def all_vens(session: Session) -> list[VenState]:
    return [_state(r) for r in session.scalars(select(OpenadrVenRow))]


def save_ven(
    session: Session, vtn_url: str, ven_name: str, now: datetime, **fields: object
) -> None:
    """Create or update the VEN's row with ``fields`` (columns of :class:`OpenadrVenRow`)."""
    row = session.get(OpenadrVenRow, vtn_url)
    if row is None:
        row = OpenadrVenRow(vtn_url=vtn_url, ven_name=ven_name, state="new", updated_at=now)
        session.add(row)
    row.ven_name = ven_name
    row.updated_at = now
    for key, value in fields.items():
        setattr(row, key, value)


def _state(row: OpenadrVenRow) -> VenState:
    return VenState(
        row.vtn_url,
        row.ven_name,
        row.ven_id,
        row.registration_id,
        row.vtn_id,
        row.state,
        row.registered_at,
        row.last_poll_at,
        row.last_error,
        row.next_retry_at,
    )


@dataclass(frozen=True)
class Answer:
    """What drsched answered to a VTN event (``optIn``/``optOut``) and why."""

    vtn_id: str
    oadr_event_id: str
    modification: int
    opt: str
    reason: str = ""
    event_id: str | None = None
    vtn_status: str = ""


def answer_of(session: Session, vtn_id: str, oadr_event_id: str) -> Answer | None:
    row = session.get(OpenadrEventRow, (vtn_id, oadr_event_id))
    if row is None:
        return None
    return Answer(
        row.vtn_id,
        row.oadr_event_id,
        row.modification,
        row.opt,
        row.reason,
        row.event_id,
        row.vtn_status,
    )


def record_answer(session: Session, answer: Answer, now: datetime) -> None:
    row = session.get(OpenadrEventRow, (answer.vtn_id, answer.oadr_event_id))
    if row is None:
        row = OpenadrEventRow(vtn_id=answer.vtn_id, oadr_event_id=answer.oadr_event_id)
        session.add(row)
    row.modification = answer.modification
    row.opt = answer.opt
    row.reason = answer.reason
    row.vtn_status = answer.vtn_status
    row.answered_at = now
    if answer.event_id is not None:  # an opted-out change keeps the stored event's id
        row.event_id = answer.event_id


def overlapping(session: Session, event: PlanEvent) -> list[tuple[str, str]]:
    """(event id, source) of each live event sharing a VEN with ``event`` and overlapping it.

    Windows are half-open, as in the plan check (:mod:`scheduler.plans.checks`).
    """
    query = (
        select(EventRow.event_id, EventRow.source)
        .join(TargetRow, TargetRow.event_id == EventRow.event_id)
        .where(TargetRow.ven_id.in_(sorted(event.ven_ids)))
        .where(EventRow.event_id != event.event_id)
        .where(EventRow.start < event.end)
        .where(EventRow.end > event.start)
        .where(EventRow.status.not_in([s.value for s in TERMINAL]))
        .where(EventRow.cancel_requested.is_(False))
        .distinct()
    )
    return [(r.event_id, r.source) for r in session.execute(query)]
