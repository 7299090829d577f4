"""Cheaper reads for the simulation: the same answers, fewer ORM round trips.

Most of a seed's time went into the engine's store snapshot, read on every
tick (about 800 per seed), and the checker's read of every event after every
step; most ticks follow no write at all (an idle poll, a fault boundary). A
:class:`Writes` counter, bumped by every statement that may change the
database, keys both caches: the engine's snapshot is read for a far bound
once per database version and cut to the tick's bound here, with the very
condition ``DaemonStore.snapshot`` puts in its query; the checker's rows are
read once per version. The daemon sees exactly what it would have read (the
views are frozen), so its behaviour and the traces do not change.

And SQLite's ``synchronous=OFF``: the file is a scratch copy per seed (in
``/dev/shm`` where there is one) that no crash of the machine needs to keep;
the simulated crashes drop the daemon's memory, never the database's writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event

from scheduler.domain.intents import EventView
from scheduler.domain.lifecycle import Status

#: The snapshot's bound for the cached read: later than any world's events.
FAR = datetime(2100, 1, 1, tzinfo=UTC)
_READS = ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SHOW")


class Writes:
    """The database's version: bumped by every statement that may write (conservatively)."""

    def __init__(self, engine: Engine) -> None:
        self.version = 0
        event.listen(engine, "after_cursor_execute", self._after)

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if not statement.lstrip()[:9].upper().startswith(_READS):
            self.version += 1

    def bump(self) -> None:
        """Another writer may have committed (the racing plan apply's thread)."""
        self.version += 1


class SnapshotCache:
    """``DaemonStore.snapshot`` per database version, cut to each tick's bound."""

    def __init__(self, writes: Writes) -> None:
        self.writes = writes
        self._cached: tuple[int, Sequence[EventView]] | None = None

    def snapshot(self, inner: Any, planned_start_before: datetime) -> list[EventView]:
        version = self.writes.version
        if self._cached is None or self._cached[0] != version:
            self._cached = (version, inner.snapshot(FAR))
        return [  # the query's own condition (scheduler/store/daemon.py, snapshot)
            v
            for v in self._cached[1]
            if v.status != Status.PLANNED or v.start < planned_start_before or v.cancel_requested
        ]


def unsynchronised(engine: Engine) -> None:
    """SQLite without fsyncs (a scratch database per seed); a no-op elsewhere."""
    if engine.dialect.name != "sqlite":
        return

    def pragma(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    event.listen(engine, "connect", pragma)
