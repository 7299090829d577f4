"""What ``drsched status`` reads: who leads, what is due next, in flight, failing, counted.

Every query takes ``now`` (never the wall clock) and stays cheap on a
20,000-event plan: each list is an indexed ``ORDER BY … LIMIT``, not a scan
loaded into Python. They are plain SQL on a :class:`~scheduler.store.reader.Reader`
(no ORM: ``drsched status`` answers in 0.3 s, issue 14); the lease alone, on
PostgreSQL, is read through a session.

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
from typing import TYPE_CHECKING

from scheduler.domain.lifecycle import TERMINAL, Status
from scheduler.store.event_reads import EventFilter, EventSummary, count_events, list_events
from scheduler.store.reader import Reader, instant, placeholders

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Statuses with a request at the DR service (or being created there).
IN_FLIGHT = (Status.SUBMITTING, Status.PENDING, Status.STANDBY, Status.ACTIVE)

_LOCK_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = :high AND objid = :low AND objsubid = 1"
)
_INSTANCES = (
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
    from sqlalchemy import func, select, text

    from scheduler.store.advisory import LEADER_LOCK_KEY
    from scheduler.store.models import leader_lease

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
    lock_pid = session.execute(text(_LOCK_HOLDER), key).scalar()
    instances = int(session.execute(text(_INSTANCES)).scalar() or 0)
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
    reader: Reader, now: datetime, submit_lead: timedelta, limit: int = 10
) -> list[NextAction]:
    """The next ``limit`` submissions, window starts and window ends, soonest first.

    A submission is due at ``start - submit_lead`` (at once when the plan came
    later, hence ``overdue``); a planned event whose window started can no
    longer be submitted and is left to the daemon to mark missed.
    """
    live, params = placeholders("terminal", sorted(s.value for s in TERMINAL))
    params |= {"now": now, "limit": limit, "planned": Status.PLANNED.value}
    submits = reader.rows(
        "SELECT start, event_id, status FROM events WHERE status = :planned"
        " AND NOT cancel_requested AND start > :now ORDER BY start LIMIT :limit",
        params,
    )
    starts = reader.rows(
        f"SELECT start, event_id, status FROM events WHERE status NOT IN {live}"
        " AND start > :now ORDER BY start LIMIT :limit",
        params,
    )
    ends = reader.rows(
        f'SELECT "end", event_id, status FROM events WHERE status NOT IN {live}'
        ' AND "end" > :now ORDER BY "end" LIMIT :limit',
        params,
    )
    found = [
        NextAction(instant(at) - lead, action, event_id, Status(status), False)
        for rows, action, lead in (
            (submits, "submit", submit_lead),
            (starts, "window starts", timedelta(0)),
            (ends, "window ends", timedelta(0)),
        )
        for at, event_id, status in rows
    ]
    found = [NextAction(max(a.at, now), a.action, a.event_id, a.status, a.at < now) for a in found]
    found.sort(key=lambda a: (a.at, a.event_id, a.action))
    return found[:limit]


def in_flight(reader: Reader, limit: int = 50) -> tuple[list[EventSummary], int]:
    """Events with a request at the DR service and not yet over (soonest first), and how many."""
    chosen = EventFilter(statuses=IN_FLIGHT)
    return list_events(reader, chosen, limit=limit), count_events(reader, chosen)


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


def recent_failures(reader: Reader, since: datetime, limit: int = 50) -> list[Failure]:
    """Transitions to ``failed`` at or after ``since``, newest first."""
    rows = reader.rows(
        "SELECT t.event_id, t.at, t.from_status, t.source, t.detail, e.request_id, e.name"
        " FROM transitions t JOIN events e ON e.event_id = t.event_id"
        " WHERE t.to_status = :failed AND t.at >= :since"
        " ORDER BY t.at DESC, t.id DESC LIMIT :limit",
        {"failed": Status.FAILED.value, "since": since, "limit": limit},
    )
    return [
        Failure(event_id, instant(at), Status(old), source, detail or "", request_id, name)
        for event_id, at, old, source, detail, request_id, name in rows
    ]


def counts(reader: Reader) -> dict[Status, int]:
    """Every status with its count, zeros included (so a script sees each key)."""
    found = {
        Status(status): int(n)
        for status, n in reader.rows("SELECT status, count(*) FROM events GROUP BY status")
    }
    return {status: found.get(status, 0) for status in Status}
