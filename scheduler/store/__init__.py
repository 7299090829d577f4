"""The SQL store: engine set-up, schema, repositories (SQLite by default, PostgreSQL too).

:func:`open_engine` makes an engine that behaves the same on both: SQLite in
WAL mode with a busy timeout, every transaction begun with ``BEGIN
IMMEDIATE`` so a read that later writes cannot fail with SQLITE_BUSY half
way (DESIGN "Known traps").

SQLAlchemy is imported where an engine or a session is made, not at the top:
``scheduler.store.reader`` (the read-only commands' plain SQL) lives in this
package and must not pay for it (issue 14).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from scheduler.errors import StoreError
from scheduler.store.urls import parse_url

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

#: PostgreSQL ends a session idle inside a transaction for this long (ms).
IDLE_TX_MS = 30_000


def is_sqlite(url: str) -> bool:
    return parse_url(url).backend == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The SQLite file a URL names; None for PostgreSQL, in-memory or a file: URI."""
    if not is_sqlite(url):
        return None
    return _sqlite_file(url)


def _sqlite_file(url: str) -> Path | None:
    database = parse_url(url).database
    if database in (None, "", ":memory:") or (database or "").startswith("file:"):
        return None
    return Path(database or "")


def postgres_driver_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default is psycopg2)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def open_engine(url: str, *, busy_timeout: float = 30.0, read_only: bool = False) -> Engine:
    """An engine for ``database.url``; the SQLite file's folder is created if missing.

    ``read_only`` (every command that only reads) never creates anything: a
    missing SQLite file is a StoreError naming it, the file is opened with
    ``mode=ro`` and PostgreSQL sessions are read-only transactions.
    """
    from sqlalchemy import create_engine

    if not url:
        raise StoreError("database.url is empty")
    if not is_sqlite(url):
        options = f"-c idle_in_transaction_session_timeout={IDLE_TX_MS}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        return create_engine(
            postgres_driver_url(url),
            pool_pre_ping=True,
            # A frozen stale leader must not hold a transaction (and the fencing
            # row) open for long: the server ends such a session after 30 s.
            connect_args={"options": options},
        )
    path = _sqlite_file(url)
    if read_only:
        return _sqlite_read_only(url, path, busy_timeout)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {path}: {exc}") from exc
    engine = create_engine(url, connect_args={"timeout": busy_timeout})
    _sqlite_pragmas(engine, busy_timeout)
    return engine


def missing_database(url: str) -> Path | None:
    """The SQLite file ``url`` names when it does not exist (opening it would create it)."""
    if not url or not is_sqlite(url):
        return None
    path = _sqlite_file(url)
    return path if path is not None and not path.exists() else None


def no_database(path: Path) -> StoreError:
    """What a command that only reads says when the SQLite file is not there."""
    return StoreError(
        f"no database at {path} (wrong database.url? if not, run `drsched db upgrade` to create it)"
    )


def _sqlite_read_only(url: str, path: Path | None, busy_timeout: float) -> Engine:
    from sqlalchemy import create_engine, event

    if path is None:  # :memory: or a file: URI: nothing on disk to protect
        return create_engine(url)
    if not path.exists():
        raise no_database(path)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=False)

    engine = create_engine("sqlite://", creator=connect)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")  # a reader takes no write lock

    return engine


def _sqlite_pragmas(engine: Engine, busy_timeout: float) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own (deferred) BEGIN is switched off: ``_on_begin`` emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed at the end of the block, rolled back on any error."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except OperationalError as exc:
        raise StoreError(f"database error: {exc.orig or exc}") from exc


__all__ = [
    "is_sqlite",
    "missing_database",
    "no_database",
    "open_engine",
    "postgres_driver_url",
    "sqlite_file",
    "transaction",
]
