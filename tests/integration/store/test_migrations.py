"""Migrations on real SQLite and PostgreSQL: upgrade, idempotence, and no model drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from scheduler.errors import StoreError
from scheduler.store import open_engine
from scheduler.store.migrate import current, head, require_current, upgrade
from scheduler.store.models import metadata
from scheduler.store.reader import open_reader, schema_revision
from scheduler.store.reader import require_current as reader_require_current
from scheduler.store.schema_head import SCHEMA_HEAD


def test_upgrade_creates_the_schema_and_is_a_no_op_when_current(db_url: str) -> None:
    assert current(db_url) is None
    assert upgrade(db_url) == (None, head())
    assert upgrade(db_url) == (head(), head())
    engine = open_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"events", "event_signals", "event_targets", "transitions", "intents"} <= tables
    assert {"plan_state", "leader_lease", "alembic_version"} <= tables


def test_autogenerate_finds_no_difference_between_models_and_migrations(db_url: str) -> None:
    upgrade(db_url)
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_commands_refuse_a_database_without_the_schema(sqlite_url: str) -> None:
    with pytest.raises(StoreError, match="run `drsched db upgrade`"):
        require_current(sqlite_url)
    upgrade(sqlite_url)
    require_current(sqlite_url)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url, busy_timeout=7)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_postgresql_sessions_end_idle_transactions(pg_url: str) -> None:
    engine = open_engine(pg_url)
    try:
        with engine.connect() as conn:
            timeout = conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar()
    finally:
        engine.dispose()
    assert timeout == "30s"


def test_revision_0006_downgrades_and_upgrades_again(db_url: str) -> None:
    from alembic import command

    from scheduler.store.migrate import alembic_config

    upgrade(db_url)
    engine = open_engine(db_url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
        assert "hvac_reads" not in inspect(engine).get_table_names()
        assert "dr_program" not in {c["name"] for c in inspect(engine).get_columns("events")}
    finally:
        engine.dispose()
    assert upgrade(db_url) == ("0002", head())


def test_the_head_the_commands_check_is_alembics_head() -> None:
    """``SCHEMA_HEAD`` (what the read-only commands compare, without loading Alembic) must
    move with every new migration: this fails until it does."""
    assert head() == SCHEMA_HEAD


def test_the_cheap_head_check_refuses_what_alembics_refuses(db_url: str) -> None:
    engine = open_engine(db_url)  # an empty database (SQLite: the file, no tables)
    engine.connect().close()
    engine.dispose()
    with open_reader(db_url) as reader:
        assert schema_revision(reader) is None
        with pytest.raises(StoreError, match=r"is empty \(no schema\).*run `drsched db upgrade`"):
            reader_require_current(reader)
    upgrade(db_url, "0007")
    with open_reader(db_url) as reader:
        assert schema_revision(reader) == current(db_url) == "0007"
        with pytest.raises(StoreError, match=f"at revision 0007, this drsched needs {head()}"):
            reader_require_current(reader)
    upgrade(db_url)
    with open_reader(db_url) as reader:
        assert schema_revision(reader) == current(db_url) == head()
        reader_require_current(reader)


def test_a_reader_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "drsched.db"
    with (
        pytest.raises(StoreError, match=f"no database at {missing}"),
        open_reader(f"sqlite:///{missing}"),
    ):
        pass
    assert not missing.parent.exists()
