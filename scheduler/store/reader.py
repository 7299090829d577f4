"""Plain SQL on one read-only connection: what the read-only commands read through.

``drsched events list``, ``events show`` and ``status`` answer in 0.3 s on a
20,000-event database (issue 14). The ORM cannot: importing it costs 0.2 s,
and loading 20,000 ``EventRow`` objects (with their targets, ``selectin``) 6 s.
A :class:`Reader` runs SQL text with ``:name`` parameters and hands back
tuples: on SQLite through the standard ``sqlite3`` module (``mode=ro``: it
never creates or writes the file), elsewhere through a SQLAlchemy Core
connection on :func:`~scheduler.store.open_engine`'s read-only engine. The
SQL is the same on both; :meth:`Reader.instant` and :meth:`Reader.json` make
the values the same too (SQLite hands back text where PostgreSQL hands back
``datetime`` and parsed JSON).

All reads of one :func:`open_reader` block see one snapshot (one
transaction), so a count and the page it counts agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from scheduler.errors import StoreError
from scheduler.store import no_database, open_engine, sqlite_file
from scheduler.store.schema_head import SCHEMA_HEAD

if TYPE_CHECKING:
    from sqlalchemy import Connection

Row = Sequence[Any]

#: How SQLAlchemy's ``DateTime`` stores an instant in SQLite (text that sorts as time does).
_SQLITE_INSTANT = "%Y-%m-%d %H:%M:%S.%f"


class Reader(Protocol):
    """One read-only connection, inside one transaction."""

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row of ``sql``; ``:name`` parameters; a datetime parameter is an instant."""
        ...

    def has_table(self, name: str) -> bool: ...


class _SqliteReader:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        values = {k: _sqlite_value(v) for k, v in (params or {}).items()}
        try:
            return self._connection.execute(sql, values).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    def has_table(self, name: str) -> bool:
        found = self.rows(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name", {"name": name}
        )
        return bool(found)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_SQLITE_INSTANT)
    return value


class _CoreReader:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return list(self._connection.execute(text(sql), dict(params or {})))
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {exc}") from exc

    def has_table(self, name: str) -> bool:
        from sqlalchemy import inspect

        return bool(inspect(self._connection).has_table(name))


@contextmanager
def open_reader(url: str, *, busy_timeout: float = 30.0) -> Iterator[Reader]:
    """A read-only connection to ``url``'s database; a missing SQLite file is a StoreError."""
    path = sqlite_file(url)
    if path is None:  # PostgreSQL, in-memory SQLite, a file: URI
        with _core_reader(url, busy_timeout) as reader:
            yield reader
        return
    connection = _sqlite_connect(path, busy_timeout)
    try:
        connection.execute("BEGIN")  # one snapshot for every read of the block
        yield _SqliteReader(connection)
    finally:
        connection.close()


def _sqlite_connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    if not path.exists():
        raise no_database(path)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc
    return connection


@contextmanager
def _core_reader(url: str, busy_timeout: float) -> Iterator[Reader]:
    from sqlalchemy.exc import SQLAlchemyError

    engine = open_engine(url, busy_timeout=busy_timeout, read_only=True)
    try:
        with engine.connect() as connection, connection.begin():
            yield _CoreReader(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"database error: {exc}") from exc
    finally:
        engine.dispose()


# -- values as the rest of drsched sees them ------------------------------------------


def instant(value: Any) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite hands back its text, in UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime), value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def maybe_instant(value: Any) -> datetime | None:
    return None if value is None else instant(value)


def json_value(value: Any) -> Any:
    """A JSON column's value (SQLite hands back its text; psycopg parses it)."""
    return json.loads(value) if isinstance(value, str) else value


def placeholders(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:name0, :name1, …)`` and its parameters, for ``IN`` (sqlite3 expands no lists)."""
    params = {f"{name}{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(f":{key}" for key in params) + ")", params


# -- the schema ------------------------------------------------------------------------


def schema_revision(reader: Reader) -> str | None:
    """The database's revision; None when it has no schema (no ``alembic_version``)."""
    if not reader.has_table("alembic_version"):
        return None
    found = sorted(str(row[0]) for row in reader.rows("SELECT version_num FROM alembic_version"))
    return ", ".join(found) or None


def require_current(reader: Reader) -> None:
    """Refuse a database that is not at this build's schema (as ``migrate.require_current``)."""
    found = schema_revision(reader)
    if found != SCHEMA_HEAD:
        state = "empty (no schema)" if found is None else f"at revision {found}"
        raise StoreError(
            f"the database is {state}, this drsched needs {SCHEMA_HEAD}: run `drsched db upgrade`"
        )
