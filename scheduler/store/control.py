"""HVAC control records in SQL: the ``facility_controls`` table and the controller's store.

One row per (event, facility): the original and DR setpoints, the state
(:class:`~scheduler.domain.control_records.ControlState`), why, and when. It is
written before a PUT and after it (DESIGN rule 2), so a restart knows what
is still at a DR setpoint.

A facility is held by at most one event (DESIGN invariant 4): the database
owns that rule. :meth:`ControlStore.claim` is the one way a record enters a
held state (one conditional statement for the events claimed together), and a
partial unique index over the facility's key, for rows in a held state, refuses a
second holder whatever the code does (migration 0003). :class:`ControlStore` is the
controller's ``ControlStorePort``; :func:`records_of` and :func:`under_control` serve
``drsched events show`` and ``drsched hvac status``.

Writes are short transactions (``BEGIN IMMEDIATE`` on SQLite), fenced like
the daemon's other writes when the instance leads under an epoch. Bulk
writes use executemany: the start of a window writes thousands of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cached_property, partial
from typing import Any, cast

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.domain.control_records import HELD, OPEN, ControlRecord, ControlState
from scheduler.domain.events import PlanEvent, TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.domain.lifecycle import Status
from scheduler.domain.outside import OutsideCall, may_touch_outside
from scheduler.errors import StoreError
from scheduler.store import events as repo
from scheduler.store.driver_sql import DriverStatement
from scheduler.store.fenced import FencedStore, Many
from scheduler.store.models import Base, EventRow, UtcDateTime, table

_OPEN = sorted(s.value for s in OPEN)
_HELD = sorted(s.value for s in HELD)
#: Rows in a held state (the partial index's condition; fixed text, the same in 0003).
_HELD_ROWS = text("state IN ({})".format(", ".join(f"'{s}'" for s in _HELD)))
_REPLACED = [ControlState.PLANNED.value, ControlState.SKIPPED.value]
#: The partial unique index that keeps one holder per facility (migration 0003).
HELD_INDEX = "uq_facility_controls_held"


class FacilityControlRow(Base):
    """One facility in one event (see :class:`~scheduler.domain.control_records.ControlRecord`)."""

    __tablename__ = "facility_controls"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    site: Mapped[str] = mapped_column(String(100), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(100), primary_key=True)
    facility_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    facility_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str | None] = mapped_column(String(1))
    mode: Mapped[str | None] = mapped_column(String(10))
    original: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    restored: Mapped[float | None] = mapped_column(Float)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    restore_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    restored_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pre_target: Mapped[float | None] = mapped_column(Float)
    pre_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_facility_controls_state_event", "state", "event_id"),
        Index(
            HELD_INDEX,
            "site",
            "gateway",
            "facility_type",
            "facility_id",
            unique=True,
            sqlite_where=_HELD_ROWS,
            postgresql_where=_HELD_ROWS,
        ),
    )


def _values(record: ControlRecord) -> tuple[Any, ...]:
    """The record's row, in :data:`_FIELDS`' order (the primary key last, as ``_SAVE`` binds it)."""
    key = record.key
    return (
        record.state.value,
        record.reason,
        record.detail,
        record.unit.value if record.unit else None,
        record.mode.value if record.mode else None,
        record.original,
        record.target,
        record.restored,
        record.window_end,
        record.due_at,
        record.attempts,
        record.restore_attempts,
        record.created_at,
        record.updated_at,
        record.applied_at,
        record.restored_at,
        record.pre_target,
        record.pre_at,
        record.event_id,
        key.site,
        key.gateway,
        key.facility_type,
        key.facility_id,
    )


def _row(record: ControlRecord) -> dict[str, Any]:
    return dict(zip(_FIELDS, _values(record), strict=True))


def _mode(text: str | None) -> Mode | None:
    try:
        return None if text is None else Mode(text)
    except ValueError:
        return None


def to_record(row: FacilityControlRow) -> ControlRecord:
    return ControlRecord(
        event_id=row.event_id,
        key=FacilityKey(row.site, row.gateway, row.facility_type, row.facility_id),
        state=ControlState(row.state),
        window_end=row.window_end,
        created_at=row.created_at,
        updated_at=row.updated_at,
        reason=row.reason,
        detail=row.detail,
        unit=TempUnit(row.unit) if row.unit else None,
        mode=_mode(row.mode),
        original=row.original,
        target=row.target,
        restored=row.restored,
        due_at=row.due_at,
        attempts=row.attempts,
        restore_attempts=row.restore_attempts,
        applied_at=row.applied_at,
        restored_at=row.restored_at,
        pre_target=row.pre_target,
        pre_at=row.pre_at,
    )


_TABLE = table(FacilityControlRow)
_KEY = ("event_id", "site", "gateway", "facility_type", "facility_id")
_SET = tuple(c.name for c in _TABLE.c if c.name not in _KEY)
#: Every column, in :func:`_values`' order: the rest first, then the primary key.
_FIELDS = _SET + _KEY
_SAVE = (
    update(_TABLE)
    .where(*(_TABLE.c[name] == bindparam(f"key_{name}") for name in _KEY))
    .values({name: bindparam(name) for name in _SET})
)
#: :data:`_SAVE`'s binds, in :func:`_values`' order (the primary key bound as ``key_*``).
_SAVE_BINDS = _SET + tuple(f"key_{name}" for name in _KEY)


_ORDER = (
    FacilityControlRow.event_id,
    FacilityControlRow.site,
    FacilityControlRow.gateway,
    FacilityControlRow.facility_type,
    FacilityControlRow.facility_id,
)


class ControlStore(FencedStore):
    """The HVAC controller's ``ControlStorePort`` over SQL."""

    def replace_planned(self, event_id: str, records: Sequence[ControlRecord]) -> None:
        with self._write() as session:
            session.execute(
                delete(FacilityControlRow)
                .where(FacilityControlRow.event_id == event_id)
                .where(FacilityControlRow.state.in_(_REPLACED))
            )
            query = select(*_ORDER[1:]).where(FacilityControlRow.event_id == event_id)
            kept = {FacilityKey(*row) for row in session.execute(query)}
            fresh = [r for r in records if r.key not in kept]
            if fresh:
                session.execute(insert(FacilityControlRow), [_row(r) for r in fresh])

    def insert(self, records: Sequence[ControlRecord]) -> None:
        if not records:
            return
        with self._write() as session:
            session.execute(insert(FacilityControlRow), [_row(r) for r in records])

    def claim(self, event_id: str, at: datetime) -> dict[FacilityKey, str]:
        """The event's ``planned`` records become ``intent``, unless another event holds them.

        One write transaction (``BEGIN IMMEDIATE`` on SQLite): the records of
        facilities another event holds become ``skipped`` ("under control of
        event X"), the others ``intent``, only where no holder exists (the
        UPDATE's own condition). The unique index refuses a second holder
        that slips past both (another process on PostgreSQL): a StoreError,
        nothing written, and the claim is tried again later. Returns the
        facilities left to their holders.
        """
        try:
            with self._write() as session:
                (taken,) = _claim(session, [(event_id, at)])
        except IntegrityError as exc:
            raise StoreError(
                f"event {event_id}: a facility it claims is held by another event: {exc.orig}"
            ) from exc
        return taken

    def _claim_all(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        """The claims of one batch (the events a start's polls saw ``active``) in the same
        statements, each at its own instant: as claimed one after the other, unless two
        of them plan one facility (then one after the other: the first takes it). A
        second holder raises (the batch then runs one call at a time, each its own error)."""
        claims: list[tuple[str, datetime]] = [cast(partial[Any], c).args for c in calls]
        event_ids = [event_id for event_id, _ in claims]
        with self._write() as session:  # the batch's transaction: each call joins it
            if len(set(event_ids)) < len(event_ids) or _plan_one_facility(session, event_ids):
                return [call() for call in calls]
            return list(_claim(session, claims))

    def save(self, records: Sequence[ControlRecord]) -> None:
        """One executemany UPDATE by primary key, whatever the number of records.

        Past SQLAlchemy's per-row work (:class:`DriverStatement`): a start saves
        each of thousands of records twice, on the thread whose interpreter lock
        the event loop sending the PUTs needs (issue 14).
        """
        if not records:
            return
        with self._write() as session:
            self._save.execute(session.connection(), map(_values, records))

    @cached_property
    def _save(self) -> DriverStatement:
        return DriverStatement(_SAVE, _SAVE_BINDS, self.engine.dialect)

    def _many(self, call: Callable[[], Any]) -> Many | None:
        """The saves of one batch (each answer's records) as one executemany; its claims
        in the same statements (:meth:`_claim_all`)."""
        if not isinstance(call, partial) or call.keywords:
            return None
        if call.func == self.save and len(call.args) == 1:
            return self._save_all
        if call.func == self.claim and len(call.args) == 2:
            return self._claim_all
        return None

    def _save_all(self, calls: Sequence[Callable[[], Any]]) -> list[None]:
        self.save([r for call in calls for r in cast(partial[None], call).args[0]])
        return [None] * len(calls)

    def open_records(self, event_id: str | None = None) -> list[ControlRecord]:
        query = select(FacilityControlRow).where(FacilityControlRow.state.in_(_OPEN))
        if event_id is not None:
            query = query.where(FacilityControlRow.event_id == event_id)
        with self._read() as session:
            return [to_record(r) for r in session.scalars(query.order_by(*_ORDER))]

    def event_statuses(self, event_ids: Sequence[str]) -> dict[str, Status]:
        found: dict[str, Status] = {}
        with self._read() as session:
            for chunk in repo.chunks(event_ids):
                query = select(EventRow.event_id, EventRow.status).where(
                    EventRow.event_id.in_(chunk)
                )
                found.update({e: Status(s) for e, s in session.execute(query)})
        return found

    def canceled(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self._read() as session:
            for chunk in repo.chunks(event_ids):
                query = (
                    select(EventRow.event_id)
                    .where(EventRow.event_id.in_(chunk))
                    .where(EventRow.cancel_requested.is_(True))
                )
                found.update(session.scalars(query))
        return found

    def plan_event(self, event_id: str) -> PlanEvent:
        """The revision the DR service runs (HVAC control follows it, issue 10)."""
        with self._read() as session:
            return repo.running_event(repo.get_row(session, event_id))

    def started(self, event_id: str) -> bool:
        query = (
            select(FacilityControlRow.event_id)
            .where(FacilityControlRow.event_id == event_id)
            .where(FacilityControlRow.state.not_in(_REPLACED))
            .limit(1)
        )
        with self._read() as session:
            return session.execute(query).first() is not None

    def unstarted_events(self, now: datetime) -> list[PlanEvent]:
        started = (  # prepare writes planned and skipped records; only the start writes others
            select(FacilityControlRow.event_id)
            .where(FacilityControlRow.event_id == EventRow.event_id)
            .where(FacilityControlRow.state.not_in(_REPLACED))
            .exists()
        )
        query = (
            select(EventRow)
            .where(EventRow.status == Status.ACTIVE.value)
            .where(EventRow.end > now)
            .where(~started)
            .order_by(EventRow.start, EventRow.event_id)
        )
        with self._read() as session:
            return [
                repo.running_event(row) for row in session.scalars(query) if _may_start(row, now)
            ]


def _may_start(row: EventRow, now: datetime) -> bool:
    """The rule every HVAC start asks (cancel recorded? the running revision's window over?)."""
    running = repo.running_window(row)
    verdict = may_touch_outside(
        OutsideCall.START_CONTROL,
        now=now,
        stored_end=row.end,
        running_end=running[1] if running else None,
        cancel_requested=row.cancel_requested,
    )
    return verdict.allowed


def _same_facility(row: Any, other: Any) -> Any:
    """``other`` is a record of ``row``'s facility (any event's)."""
    return and_(*(other.c[name] == row.c[name] for name in _KEY[1:]))


def _other_holds(row: Any, other: Any) -> Any:
    """``other`` is another event's record of ``row``'s facility, in a held state."""
    return and_(
        _same_facility(row, other),
        other.c.event_id != row.c.event_id,
        # the held states as literals, not parameters: only then does SQLite see that
        # the partial unique index of held facilities applies (a claim of 25 records
        # read every held row instead: 10 ms a claim once thousands were held); in the
        # statement's text, so that it may be run as an executemany
        other.c.state.in_([literal_column(f"'{state}'") for state in _HELD]),
    )


def _claim(
    session: Session, claims: Sequence[tuple[str, datetime]]
) -> list[dict[FacilityKey, str]]:
    """Claim each event's planned records at its instant (:meth:`ControlStore.claim`), the
    events planning no facility in common; for each, the facilities left to their holders.

    Three statements however many events: the holders of their planned facilities, then
    one ``executemany`` each for the skipped records and the claimed events (the daemon
    reads its clock for each event, so a start's claims come at as many instants).
    """
    at = dict(claims)
    taken: dict[str, dict[FacilityKey, str]] = {event_id: {} for event_id in at}
    for row in session.execute(_HOLDERS_OF_PLANNED, {"claiming": list(at)}):
        taken[row.event_id][FacilityKey(*row[1:5])] = row.holder
    skipped = [
        {
            "event": event_id,
            **{f"key_{name}": getattr(key, name) for name in _KEY[1:]},
            "at": at[event_id],
            "reason": f"under control of event {holder}",
        }
        for event_id, keys in taken.items()
        for key, holder in keys.items()
    ]
    if skipped:
        session.execute(_SKIP, skipped)
    session.execute(_CLAIM, [{"event": e, "claimed_at": when} for e, when in claims])
    return [taken[event_id] for event_id in at]


def _plan_one_facility(session: Session, event_ids: list[str]) -> bool:
    """Whether two of the events plan the same facility (then the first claimed takes it)."""
    return session.execute(_SHARED_PLANNED, {"claiming": event_ids}).first() is not None


# ``claim``'s statements, built once (``claiming``: the events; ``event``, ``claimed_at``:
# one of them and when):
# building them, with their aliased table, on every claim cost milliseconds of CPU
# each, and 200 events claim at once at a start (issue 14).
_OTHER = _TABLE.alias("other")
_PLANNED = ControlState.PLANNED.value


def _claiming(row: Any) -> Any:
    return and_(row.c.event_id.in_(bindparam("claiming", expanding=True)), row.c.state == _PLANNED)


#: The events' planned facilities that another event holds, with that event.
_HOLDERS_OF_PLANNED = (
    select(_TABLE.c.event_id, *(_TABLE.c[name] for name in _KEY[1:]))
    .add_columns(_OTHER.c.event_id.label("holder"))
    .select_from(_TABLE)
    .join(_OTHER, _other_holds(_TABLE, _OTHER))
    .where(_claiming(_TABLE))
)
#: The event's planned records become ``intent`` where no other event holds the facility.
_CLAIM = (
    update(_TABLE)
    .where(_TABLE.c.event_id == bindparam("event"), _TABLE.c.state == _PLANNED)
    .where(~select(_OTHER.c.event_id).where(_other_holds(_TABLE, _OTHER)).exists())
    .values(state=ControlState.INTENT.value, due_at=None, updated_at=bindparam("claimed_at"))
)
#: A planned record whose facility another event holds becomes ``skipped``.
_SKIP = (
    update(_TABLE)
    .where(_TABLE.c.event_id == bindparam("event"))
    .where(*(_TABLE.c[name] == bindparam(f"key_{name}") for name in _KEY[1:]))
    .values(
        state=ControlState.SKIPPED.value,
        due_at=None,
        updated_at=bindparam("at"),
        reason=bindparam("reason"),
    )
)
#: A facility two of the events plan.
_SHARED_PLANNED = (
    select(func.count())
    .where(_claiming(_TABLE))
    .group_by(*(_TABLE.c[name] for name in _KEY[1:]))
    .having(func.count() > 1)
    .limit(1)
)


# -- reads for the CLI ---------------------------------------------------------


def records_of(session: Session, event_id: str) -> list[ControlRecord]:
    """Every facility an event touched, in (site, gateway, type, id) order."""
    query = select(FacilityControlRow).where(FacilityControlRow.event_id == event_id)
    return [to_record(r) for r in session.scalars(query.order_by(*_ORDER))]


def under_control(session: Session) -> list[ControlRecord]:
    """Facilities at (or being moved to or from) a DR setpoint now, by event and facility."""
    query = select(FacilityControlRow).where(FacilityControlRow.state.in_(_HELD))
    return [to_record(r) for r in session.scalars(query.order_by(*_ORDER))]


__all__ = [
    "HELD_INDEX",
    "ControlStore",
    "FacilityControlRow",
    "records_of",
    "to_record",
    "under_control",
]
