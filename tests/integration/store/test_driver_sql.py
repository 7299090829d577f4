"""Statements executed past SQLAlchemy's per-row work hold what SQLAlchemy would write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, bindparam, insert, select

from scheduler.store import open_engine
from scheduler.store.driver_sql import DriverStatement
from scheduler.store.models import UtcDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20)),
    Column("at", UtcDateTime),
)
# the binds in the statement's order are (name, at, id): rows below give them otherwise
INSERT = insert(things).values(name=bindparam("name"), at=bindparam("at"), id=bindparam("id"))
AT = datetime(2027, 7, 1, 12, 30, 5, 250, tzinfo=UTC)


@pytest.fixture
def sql(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_rows_in_any_order_are_bound_by_name(sql: Engine) -> None:
    statement = DriverStatement(INSERT, ("id", "at", "name"), sql.dialect)
    with sql.begin() as connection:
        statement.execute(connection, [(1, AT, "a"), (2, AT, "b"), (3, None, "c")])
        connection.execute(INSERT, [{"id": 4, "at": AT, "name": "d"}])  # SQLAlchemy's own
        stored = connection.exec_driver_sql("SELECT at FROM things ORDER BY id").scalars().all()
        assert stored[0] == stored[1] == stored[3]  # the same form as SQLAlchemy's, text or not
        assert stored[2] is None
        read = connection.execute(select(things.c.name, things.c.at).order_by(things.c.id))
        assert read.all() == [("a", AT), ("b", AT), ("c", None), ("d", AT)]


def test_no_rows_execute_nothing(sql: Engine) -> None:
    with sql.begin() as connection:
        DriverStatement(INSERT, ("id", "at", "name"), sql.dialect).execute(connection, [])
        assert connection.execute(select(things.c.id)).all() == []


def test_rows_naming_other_binds_are_refused(sql: Engine) -> None:
    with pytest.raises(ValueError, match="the statement binds"):
        DriverStatement(INSERT, ("id", "name"), sql.dialect)
