"""Is the daemon's database still the one it started with, and can it write to it?

A SQLite file deleted while the daemon runs keeps answering through the open
file handle; a fresh file made at the same path (``drsched db upgrade``, a
restore) answers with none of the daemon's history. Either way acting on
would lose what the database is for: the originals of facilities now at a
DR setpoint. :class:`DatabaseGuard` remembers, once the schema is current,
the SQLite file's inode and the ``database_marker`` row's random id;
:meth:`~DatabaseGuard.check` (the health loop) compares both and proves a
write; :meth:`~DatabaseGuard.fence` (first in every write transaction) is
the cheap part: the remembered verdict and the file's inode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from scheduler.errors import StoreError
from scheduler.store import sqlite_file, transaction
from scheduler.store.models import database_marker


class DatabaseLostError(StoreError):
    """The database is gone, replaced or unwritable: the daemon must not act on it."""


@dataclass(frozen=True)
class _Identity:
    marker: str
    inode: tuple[int, int] | None  # (st_dev, st_ino) of the SQLite file


class DatabaseGuard:
    """Notices the daemon's database deleted, replaced or unwritable (see the module doc)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.path = sqlite_file(url)
        self._known: _Identity | None = None
        #: Why the database is not to be used, once noticed (it stays noticed).
        self.lost: str | None = None

    def remember(self) -> None:
        """Record what this database is (after the schema is brought to head)."""
        self._known = _Identity(self._marker(), self._inode())

    def check(self, *, prove_write: bool = True, now: datetime | None = None) -> None:
        """Compare file and marker with what was remembered and (``prove_write``) write
        one row; :class:`DatabaseLostError` (remembered) when something is wrong.

        ``/healthz`` only reads (a reader never waits for the write lock); the
        daemon's own loop proves the write every few seconds.
        """
        if self.lost is None and self._known is not None:
            try:
                self._compare_file()
                marker = self._marker()
                if marker != self._known.marker:
                    self._lose(f"database replaced: marker {marker}, expected {self._known.marker}")
                if prove_write:
                    self._prove_write(now or datetime.now(UTC))
            except DatabaseLostError:
                raise
            except (StoreError, SQLAlchemyError, OSError) as exc:
                if self._gone_or_replaced():
                    self._lose(self._gone_or_replaced() or "")
                raise StoreError(f"database check failed: {_first_line(exc)}") from exc
        if self.lost is not None:
            raise DatabaseLostError(self.lost)

    def fence(self, session: Session | Connection) -> None:
        """First in every write transaction: refuse once lost, or when the file changed."""
        if self.lost is not None:
            raise DatabaseLostError(self.lost)
        self._compare_file()

    def _compare_file(self) -> None:
        reason = self._gone_or_replaced()
        if reason:
            self._lose(reason)

    def _gone_or_replaced(self) -> str | None:
        if self._known is None or self._known.inode is None or self.path is None:
            return None
        try:
            now = self._inode()
        except FileNotFoundError:
            return f"database file {self.path} is gone (deleted while the daemon ran)"
        if now != self._known.inode:
            return f"database file {self.path} was replaced by another file while the daemon ran"
        return None

    def _lose(self, reason: str) -> None:
        self.lost = f"{reason}: refusing to act on it; restore it, or restart drsched"
        raise DatabaseLostError(self.lost)

    def _inode(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        found = os.stat(self.path)
        return found.st_dev, found.st_ino

    def _marker(self) -> str:
        try:
            with Session(self.engine) as session:
                marker = session.scalar(select(database_marker.c.marker))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the database marker: {_first_line(exc)}") from exc
        if marker is None:
            raise StoreError("the database has no marker row (run `drsched db upgrade`)")
        return str(marker)

    def _prove_write(self, now: datetime) -> None:
        """One row updated; a read-only database is lost, a busy one only failing now."""
        try:
            with transaction(self.engine) as session:
                session.execute(update(database_marker).values(checked_at=now))
        except (StoreError, SQLAlchemyError) as exc:
            reason = _first_line(exc)
            if any(sign in reason.lower() for sign in _READ_ONLY):
                self._lose(f"cannot write to the database ({reason})")
            raise


#: How SQLite (SQLITE_READONLY) and PostgreSQL (SQLSTATE 25006) say a write is refused
#: for good; anything else (a lock held too long, a lost connection) may pass.
_READ_ONLY = ("readonly database", "read-only transaction", "read-only file system")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]
