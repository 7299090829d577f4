"""Exactly one active drsched per database: leader election with a fencing epoch.

On PostgreSQL (:class:`PostgresElector`) the leader holds a session-level
advisory lock (``pg_try_advisory_lock``) on a connection of its own, opened
with psycopg outside SQLAlchemy's pool: a pooled connection would be handed
back and the lock would then belong to whichever session borrowed it next.
Standbys try again every ``retry_interval``. PostgreSQL releases the lock when
the backend ends, so a dead leader process frees it at once.

A leader can be *half* dead: frozen, partitioned, its loop stuck. It may not
know it lost, and its writes may still be in flight. Two defences:

- the lock session sets ``idle_session_timeout``: the leader pings it every
  ``check_interval``, so a leader that stops pinging has its session (and
  lock) ended by the server after ``idle_session_timeout``; TCP keepalives
  (client and server side) and ``tcp_user_timeout`` cover a dead network;
- the **fencing epoch** in ``leader_lease`` (one row), incremented by every
  new leader. Each state-changing transaction starts with
  :func:`assert_fenced`, which reads the epoch ``FOR KEY SHARE``: either the
  stale leader's transaction commits before the new leader's increment (which
  takes ``FOR UPDATE`` and waits for it), or it sees the new epoch and
  raises :class:`~scheduler.errors.FencedError`.

SQLite has no election (:class:`SingleInstance`): one daemon per file,
guarded by a file lock (:mod:`scheduler.leadership.sqlite_lock`). The lock keys
and the libpq URL live in :mod:`scheduler.store.advisory` (the migration lock
uses them too).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from scheduler import metrics
from scheduler.errors import FencedError, StoreError
from scheduler.store.advisory import LEADER_LOCK_KEY, is_postgres, libpq_url
from scheduler.store.models import leader_lease

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

log = structlog.get_logger("scheduler.leadership.postgres")

_TAKE_OVER = (
    "INSERT INTO leader_lease (id, epoch, holder, acquired_at, heartbeat_at)"
    " VALUES (1, 0, '', now(), now()) ON CONFLICT (id) DO NOTHING",
    # FOR UPDATE waits for every transaction still holding the old epoch FOR KEY SHARE.
    "SELECT epoch FROM leader_lease WHERE id = 1 FOR UPDATE",
    "UPDATE leader_lease SET epoch = epoch + 1, holder = %(holder)s,"
    " acquired_at = now(), heartbeat_at = now() WHERE id = 1 RETURNING epoch",
)
_HEARTBEAT = "UPDATE leader_lease SET heartbeat_at = now() WHERE id = 1 AND epoch = %(epoch)s"


def assert_fenced(session: Session | Connection, epoch: int) -> None:
    """Refuse this transaction's writes unless ``epoch`` is still the current one.

    Call it first in every state-changing transaction. The row stays locked
    ``FOR KEY SHARE`` until the transaction ends, so a take-over waits for it.
    """
    query = select(leader_lease.c.epoch).where(leader_lease.c.id == 1)
    current = session.execute(query.with_for_update(read=True, key_share=True)).scalar()
    if current != epoch:
        raise FencedError(
            f"leadership lost: this instance leads epoch {epoch}, the database says "
            f"{current if current is not None else 'no leader'}; the write was refused"
        )


class LeaderElector(Protocol):
    """What the daemon asks of an election (selected by :func:`elector_for`)."""

    @property
    def epoch(self) -> int | None:
        """The epoch this instance leads under; None while standing by."""
        ...

    async def acquire(self) -> int:
        """Wait until this instance leads; return its epoch."""
        ...

    async def wait_lost(self) -> None:
        """Return once leadership is lost (stop acting at once, then exit or stand by)."""
        ...

    def fence(self, session: Session | Connection) -> None:
        """:func:`assert_fenced` with this instance's epoch (runs in the store's thread)."""
        ...

    async def close(self) -> None:
        """Give leadership up (or stop standing by)."""
        ...


class SingleInstance:
    """SQLite: always the leader; the engine's file lock keeps it single."""

    epoch: int | None = 0

    async def acquire(self) -> int:
        metrics.set_leader(True, 0)
        return 0

    async def wait_lost(self) -> None:
        await asyncio.Event().wait()  # never: nothing else can take over

    def fence(self, session: Session | Connection) -> None:
        return None

    async def close(self) -> None:
        metrics.set_leader(False)


@dataclass(frozen=True)
class Timing:
    """How fast standbys take over (all seconds); see docs/operations.md.

    Worst case after a leader freezes: ``idle_session_timeout`` + ``retry_interval``
    (10 + 3 = 13 s by default); after it exits: ``retry_interval``.
    """

    retry_interval: float = 3.0
    check_interval: float = 2.0
    check_timeout: float = 4.0
    idle_session_timeout: float = 10.0
    connect_timeout: int = 5

    def __post_init__(self) -> None:
        if self.check_interval * 2 > self.idle_session_timeout:
            raise ValueError("check_interval must be at most half of idle_session_timeout")


def _lock_session_options(timing: Timing) -> dict[str, int | str]:
    """libpq options for the lock connection: notice a dead peer within seconds."""
    return {
        "connect_timeout": timing.connect_timeout,
        "application_name": "drsched-leader",
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": int(timing.check_timeout * 1000),
    }


class PostgresElector:
    """The advisory-lock election; one instance per daemon process."""

    def __init__(
        self,
        url: str,
        *,
        holder: str | None = None,
        key: int = LEADER_LOCK_KEY,
        timing: Timing | None = None,
    ) -> None:
        self._conninfo = libpq_url(url)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self._key = key
        self.timing = timing or Timing()
        self._conn: psycopg.AsyncConnection[TupleRow] | None = None
        self._epoch: int | None = None
        self._lost = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._unreachable = False

    def __repr__(self) -> str:  # the URL may carry a password: never show it
        return f"PostgresElector(holder={self.holder!r}, epoch={self._epoch})"

    @property
    def epoch(self) -> int | None:
        return self._epoch

    async def acquire(self) -> int:
        """Try every ``retry_interval`` until the lock is ours, then start the monitor."""
        log.info("leader.standby", holder=self.holder)
        metrics.set_leader(False)
        while True:
            epoch = await self._try_acquire()
            if epoch is not None:
                break
            await asyncio.sleep(self.timing.retry_interval)
        self._epoch = epoch
        self._lost.clear()
        self._monitor = asyncio.create_task(self._watch(epoch), name="drsched-leader-watch")
        metrics.set_leader(True, epoch)
        log.info("leader.acquired", holder=self.holder, epoch=epoch)
        return epoch

    async def _try_acquire(self) -> int | None:
        import psycopg

        try:
            conn = await self._connection()
            row = await (
                await conn.execute("SELECT pg_try_advisory_lock(%s)", [self._key])
            ).fetchone()
            if self._unreachable:
                self._unreachable = False
                log.info("leader.database_reachable", holder=self.holder)
            if not (row and row[0]):
                return None
            return await self._take_over(conn)
        except psycopg.errors.UndefinedTable as exc:
            await self._drop_connection()
            raise StoreError("table leader_lease is missing: run `drsched db upgrade`") from exc
        except psycopg.Error as exc:
            if not self._unreachable:  # once per outage, not on every retry
                self._unreachable = True
                log.warning(
                    "leader.attempt_failed", error=type(exc).__name__, detail=str(exc)[:200]
                )
            await self._drop_connection()
            return None

    async def _connection(self) -> psycopg.AsyncConnection[TupleRow]:
        import psycopg
        from psycopg.conninfo import make_conninfo

        if self._conn is None or self._conn.closed:
            conninfo = make_conninfo(self._conninfo, **_lock_session_options(self.timing))
            self._conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        return self._conn

    async def _take_over(self, conn: psycopg.AsyncConnection[TupleRow]) -> int:
        """Bump the epoch, then let the server end this session if we stop pinging it."""
        timing = self.timing
        insert, lock_row, bump = _TAKE_OVER
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = {int(timing.check_timeout * 1000)}")
            await conn.execute(insert)
            await conn.execute(lock_row)
            row = await (await conn.execute(bump, {"holder": self.holder})).fetchone()
        assert row is not None, "the row was inserted above"
        await self._limit_idle_session(conn)
        return int(row[0])

    async def _limit_idle_session(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        """Server side: end this session if the leader stops pinging or its peer vanishes."""
        import psycopg

        idle_ms = int(self.timing.idle_session_timeout * 1000)
        settings = {"idle_session_timeout": idle_ms, "tcp_keepalives_idle": 5}
        settings |= {"tcp_keepalives_interval": 2, "tcp_keepalives_count": 3}
        for name, value in settings.items():
            try:
                await conn.execute(f"SET {name} = {value}")
            except psycopg.errors.UndefinedObject:  # idle_session_timeout needs PostgreSQL 14
                log.warning("leader.setting_unsupported", setting=name)

    async def _watch(self, epoch: int) -> None:
        """Ping (and stamp ``heartbeat_at``) every ``check_interval``; any failure loses."""
        while True:
            await asyncio.sleep(self.timing.check_interval)
            reason = await self._check(epoch)
            if reason is not None:
                await self._lose(reason)
                return

    async def _check(self, epoch: int) -> str | None:
        """Why leadership is lost, or None; a ping left hanging is abandoned, not awaited."""
        ping = asyncio.ensure_future(self._heartbeat(epoch))
        done, _ = await asyncio.wait({ping}, timeout=self.timing.check_timeout)
        if not done:
            ping.cancel()
            return f"the lock connection did not answer within {self.timing.check_timeout:g}s"
        error = ping.exception()
        if error is not None:
            return f"the lock connection failed: {type(error).__name__}: {str(error)[:200]}"
        return None if ping.result() else "another instance took over (the epoch moved on)"

    async def _heartbeat(self, epoch: int) -> bool:
        conn = self._conn
        if conn is None or conn.closed:
            raise StoreError("lock connection closed")
        cursor = await conn.execute(_HEARTBEAT, {"epoch": epoch})
        return cursor.rowcount == 1

    async def _lose(self, reason: str) -> None:
        """Mark leadership lost *first*, then clean up (closing may take a while)."""
        epoch, self._epoch = self._epoch, None
        self._lost.set()
        metrics.set_leader(False)
        log.error("leader.lost", holder=self.holder, epoch=epoch, reason=reason)
        await self._drop_connection()

    async def wait_lost(self) -> None:
        await self._lost.wait()

    def fence(self, session: Session | Connection) -> None:
        epoch = self._epoch
        if epoch is None:
            raise FencedError(f"{self.holder} is not the leader; the write was refused")
        assert_fenced(session, epoch)

    async def close(self) -> None:
        """Unlock by ending the session (the server drops every lock it held)."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        if self._epoch is not None:
            log.info("leader.released", holder=self.holder, epoch=self._epoch)
        self._epoch = None
        metrics.set_leader(False)
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it may already be dead; closing is best effort
                await asyncio.wait_for(conn.close(), self.timing.check_timeout)


def elector_for(
    url: str, *, holder: str | None = None, timing: Timing | None = None
) -> LeaderElector:
    """The advisory-lock election on PostgreSQL; a single instance anywhere else."""
    if is_postgres(url):
        return PostgresElector(url, holder=holder, timing=timing)
    return SingleInstance()
