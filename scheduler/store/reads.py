"""Stored HVAC reads (:class:`HvacRead`): the ``hvac_reads`` table, kept ``retention`` long.

Written in bulk (executemany) once per verification round; old rows are
purged by the writer at most once an hour, so retention costs no timer.
A 4 h event over 5,000 facilities read every 5 min is 240,000 rows (see
bench/README.md for the volume on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.domain.hvac import FacilityKey
from scheduler.domain.hvac_reads import HvacRead, ReadPhase
from scheduler.store.fenced import Fence, FencedStore
from scheduler.store.models import Base, UtcDateTime

#: The writer purges expired reads at most this often.
PURGE_EVERY = timedelta(hours=1)


class HvacReadRow(Base):
    __tablename__ = "hvac_reads"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(ForeignKey("events.event_id", ondelete="CASCADE"))
    site: Mapped[str] = mapped_column(String(100))
    gateway: Mapped[str] = mapped_column(String(100))
    facility_type: Mapped[str] = mapped_column(String(20))
    facility_id: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    phase: Mapped[str] = mapped_column(String(10))
    ok: Mapped[bool] = mapped_column(Boolean)
    power_on: Mapped[bool | None] = mapped_column(Boolean)
    mode: Mapped[str | None] = mapped_column(String(10))
    set_temp: Mapped[float | None] = mapped_column(Float)
    room_temp: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(1))

    __table_args__ = (Index("ix_hvac_reads_event_at", "event_id", "at"),)


class ReadStore(FencedStore):
    """The controller's ``ReadSink``: reads in, expired reads out."""

    def __init__(
        self, engine: Engine, retention: timedelta | None, fence: Fence | None = None
    ) -> None:
        super().__init__(engine, fence)
        self.retention = retention if retention and retention > timedelta(0) else None
        self._purged_at: datetime | None = None

    def record_reads(self, reads: Sequence[HvacRead]) -> None:
        if not reads:
            return
        now = max(r.at for r in reads)
        with self._write() as session:
            session.execute(insert(HvacReadRow), [_row(r) for r in reads])
            if self.retention and (self._purged_at is None or now - self._purged_at >= PURGE_EVERY):
                session.execute(delete(HvacReadRow).where(HvacReadRow.at < now - self.retention))
                self._purged_at = now


def _row(read: HvacRead) -> dict[str, object]:
    key = read.key
    return {
        "event_id": read.event_id,
        "site": key.site,
        "gateway": key.gateway,
        "facility_type": key.facility_type,
        "facility_id": key.facility_id,
        "at": read.at,
        "phase": read.phase.value,
        "ok": read.ok,
        "power_on": read.power_on,
        "mode": read.mode,
        "set_temp": read.set_temp,
        "room_temp": read.room_temp,
        "unit": read.unit,
    }


def reads_for(session: Session, event_ids: Sequence[str]) -> list[HvacRead]:
    """Every stored read of the events, by event, facility and time."""
    query = (
        select(HvacReadRow)
        .where(HvacReadRow.event_id.in_(sorted(event_ids)))
        .order_by(
            HvacReadRow.event_id,
            HvacReadRow.site,
            HvacReadRow.gateway,
            HvacReadRow.facility_type,
            HvacReadRow.facility_id,
            HvacReadRow.at,
            HvacReadRow.id,
        )
    )
    return [
        HvacRead(
            row.event_id,
            FacilityKey(row.site, row.gateway, row.facility_type, row.facility_id),
            row.at,
            ReadPhase(row.phase),
            row.ok,
            row.power_on,
            row.mode,
            row.set_temp,
            row.room_temp,
            row.unit,
        )
        for row in session.scalars(query)
    ]
