"""The database schema: SQLAlchemy 2.x typed models, the source of truth (DESIGN rule 1).

Instants are stored as UTC (:class:`UtcDateTime` gives them back aware on
SQLite too). Constraint names follow one convention from the first
migration so that Alembic's batch mode can alter SQLite tables later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store instants as UTC-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = metadata


def table(model: type[Base]) -> Table:
    """A model's Core table, for Core statements (mypy sees ``__table__`` as a FromClause)."""
    return cast(Table, model.__table__)


class EventRow(Base):
    """One DR event: its current plan revision and where it is in its lifecycle.

    ``request_id``/``submitted_revision`` name the request last created (or
    being created) at the DR service and the revision it carries;
    ``submitted_content`` is that revision's content (``PlanEvent.content``):
    after a change the DR service refused, what it runs and HVAC follows.
    """

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    vtn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(Text)
    program_id: Mapped[str | None] = mapped_column(String(200))
    #: The DR program whose rules the event obeys (``program:``), for counting.
    dr_program: Mapped[str | None] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    request_id: Mapped[str | None] = mapped_column(String(220))
    submitted_revision: Mapped[int | None] = mapped_column(Integer)
    submitted_content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Load shaping the plan asked for (``Shaping.content()``); null: config defaults.
    shaping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    signals: Mapped[list[SignalRow]] = relationship(
        order_by="SignalRow.position", cascade="all, delete-orphan", lazy="selectin"
    )
    targets: Mapped[list[TargetRow]] = relationship(
        order_by="TargetRow.position", cascade="all, delete-orphan", lazy="selectin"
    )


class SignalRow(Base):
    __tablename__ = "event_signals"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    signal_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(50))
    targets: Mapped[list[str]] = mapped_column(JSON)
    min_temp: Mapped[float | None] = mapped_column(Float)
    max_temp: Mapped[float | None] = mapped_column(Float)
    temp_offset: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(1))


class TargetRow(Base):
    __tablename__ = "event_targets"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    ven_id: Mapped[str] = mapped_column(String(200), index=True)
    resource_ids: Mapped[list[str]] = mapped_column(JSON)


class TransitionRow(Base):
    """The audit trail: every status change (and notes) with time, source and detail."""

    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str] = mapped_column(Text, default="")


class IntentRow(Base):
    """An outside call recorded before it is made; ``outcome`` once it is known (rule 2)."""

    __tablename__ = "intents"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    request_id: Mapped[str] = mapped_column(String(220))
    revision: Mapped[int] = mapped_column(Integer)
    begun_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_intents_open", "outcome"),)


class PlanStateRow(Base):
    """One row: a counter bumped by every plan apply and cancel request.

    The daemon polls it to pick up changes made from a shell (``drsched plan
    apply``) on SQLite and PostgreSQL alike. ``applied_digest`` is
    ``"<revision>:<digest>"``: the daemon's last apply of its plan files
    (:mod:`scheduler.plans.digest`) left the events as they are at that revision, so
    the same files at the same revision need no apply (see
    :func:`scheduler.store.plan_apply.applied_unchanged`).
    """

    __tablename__ = "plan_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    applied_digest: Mapped[str | None] = mapped_column(String(100), nullable=True)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


#: The leader's fencing epoch (see :mod:`scheduler.leadership.postgres`); one row,
#: PostgreSQL only in use.
leader_lease = Table(
    "leader_lease",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False),
    Column("holder", Text, nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

#: One row naming this database: a random id written when the schema is created.
#: The daemon remembers it at start and checks it (with the SQLite file's inode)
#: in its health loop and before every write: a database deleted, replaced by
#: a fresh one or restored from elsewhere is noticed (scheduler.store.identity).
database_marker = Table(
    "database_marker",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("marker", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("id = 1", name="single_row"),
)

# HVAC control records and reads live in their own modules on this metadata; importing them here
# lets Alembic's autogenerate and ``metadata.create_all`` see them.
from scheduler.store import control as _control  # noqa: E402, F401  (registers its tables, see above)
from scheduler.store import openadr as _openadr  # noqa: E402, F401  (registers its tables, see above)
from scheduler.store import reads as _reads  # noqa: E402, F401  (registers its tables, see above)
