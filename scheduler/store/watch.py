"""Late work, read from the database for the operator's alerts (``deploy/prometheus``).

Three things an operator must act on, each as a count and the age of the
oldest (:class:`~scheduler.domain.lateness.Overdue`), so an alert's threshold is a
number of seconds the operator chooses:

- **submissions overdue**: events still ``planned`` or ``submitting`` after
  they were due at the DR service, due at ``start - submit_lead`` or when the
  plan brought them, whichever is later;
- **windows uncontrolled**: events whose window is under way (and not over
  for them: canceled, failed or completed ones are left alone) that should
  control HVAC but have no facility that reached its DR setpoint — either
  none was decided yet, or what was decided never got applied. An event
  whose every facility was skipped (off, no setpoint...) had nothing to do;
- **held past end**: facilities still held (at or on their way to or from a
  DR setpoint) after their event's window ended. Restoring takes up to
  ``hvac.restore_stagger`` plus retries, so the alert's threshold sits above it.

The database is the truth (DESIGN rule 1), so the numbers survive restarts
and fail-overs; only the leader publishes them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.domain.control_records import HELD, ControlState
from scheduler.domain.events import PlanEvent
from scheduler.domain.lateness import Lateness, Overdue
from scheduler.domain.lifecycle import Status
from scheduler.store import events as repo
from scheduler.store.control import FacilityControlRow
from scheduler.store.models import EventRow

#: States in which a facility reached its DR setpoint at some point.
REACHED = frozenset(
    {
        ControlState.APPLIED,
        ControlState.RESTORING,
        ControlState.RESTORED,
        ControlState.OPTED_OUT,
    }
)
_UNSUBMITTED = [Status.PLANNED.value, Status.SUBMITTING.value]


def overdue(ages: Iterable[timedelta]) -> Overdue:
    """How many are late (age > 0) and the oldest age."""
    late = [age.total_seconds() for age in ages if age > timedelta(0)]
    return Overdue(len(late), max(late, default=0.0))


def uncontrolled(states: Iterable[ControlState]) -> bool:
    """True when no facility reached a DR setpoint and something was left to do.

    No record at all (nothing decided yet) counts; only skips (nothing to
    control) does not.
    """
    seen = set(states)
    if seen & REACHED:
        return False
    return seen != {ControlState.SKIPPED}


def submissions_overdue(session: Session, now: datetime, submit_lead: timedelta) -> Overdue:
    query = select(EventRow.start, EventRow.updated_at).where(
        EventRow.status.in_(_UNSUBMITTED),
        ~EventRow.cancel_requested,
        EventRow.start <= now + submit_lead,  # due: start - submit_lead <= now
    )
    return overdue(now - max(start - submit_lead, since) for start, since in session.execute(query))


def held_past_end(session: Session, now: datetime) -> Overdue:
    query = select(func.count(), func.min(FacilityControlRow.window_end)).where(
        FacilityControlRow.state.in_([s.value for s in HELD]),
        FacilityControlRow.window_end < now,
    )
    count, oldest = session.execute(query).one()
    if not count:
        return Overdue()
    return Overdue(count, (now - oldest).total_seconds())


def windows_uncontrolled(
    session: Session, now: datetime, controls_hvac: Callable[[PlanEvent], bool]
) -> Overdue:
    """Windows under way, of events ``controls_hvac`` says should move setpoints."""
    rows = session.scalars(
        select(EventRow).where(
            EventRow.status.in_(repo.NOT_TERMINAL), EventRow.start <= now, EventRow.end > now
        )
    ).all()
    events = {row.event_id: repo.to_plan_event(row) for row in rows}
    wanted = {event_id for event_id, event in events.items() if controls_hvac(event)}
    states: dict[str, list[ControlState]] = defaultdict(list)
    if wanted:
        query = (
            select(FacilityControlRow.event_id, FacilityControlRow.state)
            .where(FacilityControlRow.event_id.in_(sorted(wanted)))
            .distinct()
        )
        for event_id, state in session.execute(query):
            states[event_id].append(ControlState(state))
    return overdue(
        now - events[event_id].start for event_id in wanted if uncontrolled(states[event_id])
    )


def lateness(
    session: Session,
    now: datetime,
    submit_lead: timedelta,
    controls_hvac: Callable[[PlanEvent], bool],
) -> Lateness:
    """Everything :mod:`scheduler.metrics` publishes as late work, in one read."""
    return Lateness(
        submissions=submissions_overdue(session, now, submit_lead),
        windows_uncontrolled=windows_uncontrolled(session, now, controls_hvac),
        held_past_end=held_past_end(session, now),
    )
