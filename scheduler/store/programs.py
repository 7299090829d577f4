"""Stored events as the DR program rules count them (``program:`` set, not canceled).

The rule check counts these toward each program's limits, so a plan applied
mid-season, or an event arriving from another source, sees what already ran.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from scheduler.domain.dr_programs import CountedEvent, Participation
from scheduler.domain.lifecycle import Status
from scheduler.domain.sources import OPENADR_PREFIX
from scheduler.store.control import FacilityControlRow
from scheduler.store.models import EventRow

#: Events in these states asked nothing of anyone: they do not count.
NOT_COUNTED = (Status.CANCELED.value, Status.FAILED.value)
#: States in which a plan apply still removes an event that left the plan.
REMOVABLE = (Status.PLANNED.value, Status.SUBMITTING.value, Status.PENDING.value)


def owned_by_plan_sql() -> ColumnElement[bool]:
    """:func:`scheduler.domain.sources.owned_by_plan` as a condition on ``events.source``."""
    return ~EventRow.source.startswith(OPENADR_PREFIX, autoescape=True)


def program_events(
    session: Session, program_ids: Collection[str] | None = None, *, for_plan: bool = False
) -> list[CountedEvent]:
    """Every stored event of the programs (all programs when None), marked ``past``.

    ``for_plan``: leave out the plan's own events that an apply would delete or
    cancel when the plan no longer has them (those still in it are counted as the
    plan's own). Another source's events count in every state: no plan apply
    removes them (a pending OpenADR event was left out, so a plan could fill the
    program past its limit beside it).
    """
    query = select(EventRow).where(
        EventRow.dr_program.is_not(None),
        EventRow.status.not_in(NOT_COUNTED),
        EventRow.cancel_requested.is_(False),
    )
    if for_plan:
        removable = EventRow.status.in_(REMOVABLE) & owned_by_plan_sql()
        query = query.where(~removable)
    if program_ids is not None:
        query = query.where(EventRow.dr_program.in_(sorted(program_ids)))
    return [
        CountedEvent(
            row.event_id,
            row.dr_program or "",
            frozenset(t.ven_id for t in row.targets),
            row.start,
            row.end,
            past=True,
            where=row.source,
        )
        for row in session.scalars(query.order_by(EventRow.start, EventRow.event_id))
    ]


def participations(session: Session, program_ids: Collection[str]) -> list[Participation]:
    """Every facility record of the programs' counted events (opt-outs among them)."""
    query = (
        select(FacilityControlRow, EventRow.start, EventRow.end)
        .join(EventRow, EventRow.event_id == FacilityControlRow.event_id)
        .where(EventRow.dr_program.in_(sorted(program_ids)))
        .where(EventRow.status.not_in(NOT_COUNTED))
        .order_by(EventRow.start, FacilityControlRow.event_id)
    )
    return [
        Participation(
            row.event_id,
            f"{row.site}/{row.gateway}/{row.facility_type}/{row.facility_id}",
            row.state,
            start,
            end,
            row.updated_at,
        )
        for row, start, end in session.execute(query)
    ]
