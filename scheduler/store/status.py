"""What ``drsched status`` reads: who leads, what is due next, in flight, failing, counted.

Every query takes ``now`` (never the wall clock) and stays cheap on a
20,000-event plan: each list is an indexed ``ORDER BY … LIMIT``, not a scan
loaded into Python.

Leadership on PostgreSQL comes from three places that can disagree, and the
disagreement is the diagnosis: ``leader_lease`` (the last elected holder and
its heartbeat, stamped every 2 s by the server's clock), ``pg_locks`` (is the
advisory lock held right now, and by which backend), and ``pg_stat_activity``
(how many instances have an election connection open: the leader and its
standbys). A lease with an old heartbeat and no lock held means no instance
leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from scheduler.domain.lifecycle import Status
from scheduler.store import events as repo
from scheduler.store.advisory import LEADER_LOCK_KEY
from scheduler.store.models import EventRow, TransitionRow, leader_lease

#: Statuses with a request at the DR service (or being created there).
IN_FLIGHT = (Status.SUBMITTING, Status.PENDING, Status.STANDBY, Status.ACTIVE)

_LOCK_HOLDER = text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = :high AND objid = :low AND objsubid = 1"
)
_INSTANCES = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE application_name = 'drsched-leader' AND datname = current_database()"
)


@dataclass(frozen=True)
class Lease:
    """The PostgreSQL election as the database sees it now."""

    epoch: int | None
    holder: str | None
    acquired_at: datetime | None
    heartbeat_at: datetime | None
    #: Server time minus ``heartbeat_at`` (both from the server's clock: no skew).
    heartbeat_age: timedelta | None
    #: Backend pid holding the advisory lock; None when nobody leads.
    lock_pid: int | None
    #: Election connections open: the leader's and each standby's.
    instances: int

    @property
    def standbys(self) -> int:
        return max(self.instances - (1 if self.lock_pid is not None else 0), 0)


def read_lease(session: Session) -> Lease:
    """PostgreSQL only: the lease row, the lock and the instances connected."""
    row = session.execute(
        select(
            leader_lease.c.epoch,
            leader_lease.c.holder,
            leader_lease.c.acquired_at,
            leader_lease.c.heartbeat_at,
            func.now() - leader_lease.c.heartbeat_at,
        ).where(leader_lease.c.id == 1)
    ).first()
    key = {"high": LEADER_LOCK_KEY >> 32, "low": LEADER_LOCK_KEY & 0xFFFFFFFF}
    lock_pid = session.execute(_LOCK_HOLDER, key).scalar()
    instances = int(session.execute(_INSTANCES).scalar() or 0)
    if row is None:
        return Lease(None, None, None, None, None, lock_pid, instances)
    epoch, holder, acquired, heartbeat, age = row
    return Lease(int(epoch), holder or None, acquired, heartbeat, age, lock_pid, instances)


@dataclass(frozen=True)
class NextAction:
    """Something the daemon will do at ``at``; ``overdue`` when that is already past."""

    at: datetime
    action: str  # "submit", "window starts", "window ends"
    event_id: str
    status: Status
    overdue: bool


def next_actions(
    session: Session, now: datetime, submit_lead: timedelta, limit: int = 10
) -> list[NextAction]:
    """The next ``limit`` submissions, window starts and window ends, soonest first.

    A submission is due at ``start - submit_lead`` (at once when the plan came
    later, hence ``overdue``); a planned event whose window started can no
    longer be submitted and is left to the daemon to mark missed.
    """
    not_terminal = EventRow.status.in_(repo.NOT_TERMINAL)
    submits = (
        select(EventRow)
        .where(EventRow.status == Status.PLANNED.value, ~EventRow.cancel_requested)
        .where(EventRow.start > now)
        .order_by(EventRow.start)
        .limit(limit)
    )
    starts = select(EventRow).where(not_terminal, EventRow.start > now)
    ends = select(EventRow).where(not_terminal, EventRow.end > now)
    found = [
        NextAction(r.start - submit_lead, "submit", r.event_id, Status(r.status), False)
        for r in session.scalars(submits)
    ]
    found += [
        NextAction(r.start, "window starts", r.event_id, Status(r.status), False)
        for r in session.scalars(starts.order_by(EventRow.start).limit(limit))
    ]
    found += [
        NextAction(r.end, "window ends", r.event_id, Status(r.status), False)
        for r in session.scalars(ends.order_by(EventRow.end).limit(limit))
    ]
    found = [NextAction(max(a.at, now), a.action, a.event_id, a.status, a.at < now) for a in found]
    found.sort(key=lambda a: (a.at, a.event_id, a.action))
    return found[:limit]


def in_flight(session: Session, limit: int = 50) -> tuple[list[repo.EventSummary], int]:
    """Events with a request at the DR service and not yet over (soonest first), and how many."""
    statuses = [s.value for s in IN_FLIGHT]
    total = session.scalar(
        select(func.count()).select_from(EventRow).where(EventRow.status.in_(statuses))
    )
    shown = repo.list_events(session, statuses=list(IN_FLIGHT), limit=limit)
    return shown, int(total or 0)


@dataclass(frozen=True)
class Failure:
    """An event that moved to ``failed``: when, from where, and the detail recorded."""

    event_id: str
    at: datetime
    from_status: Status
    source: str
    detail: str
    request_id: str | None
    name: str | None


def recent_failures(session: Session, since: datetime, limit: int = 50) -> list[Failure]:
    """Transitions to ``failed`` at or after ``since``, newest first."""
    query = (
        select(TransitionRow, EventRow.request_id, EventRow.name)
        .join(EventRow, EventRow.event_id == TransitionRow.event_id)
        .where(TransitionRow.to_status == Status.FAILED.value, TransitionRow.at >= since)
        .order_by(TransitionRow.at.desc(), TransitionRow.id.desc())
        .limit(limit)
    )
    return [
        Failure(t.event_id, t.at, Status(t.from_status), t.source, t.detail, request_id, name)
        for t, request_id, name in session.execute(query)
    ]


def counts(session: Session) -> dict[Status, int]:
    """Every status with its count, zeros included (so a script sees each key)."""
    found = repo.counts_by_status(session)
    return {status: found.get(status, 0) for status in Status}
