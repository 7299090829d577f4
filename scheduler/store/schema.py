"""The daemon's schema step at start-up: Alembic only when the database is behind.

``drsched run`` brings the database to the current schema at every start
(:func:`scheduler.store.migrate.upgrade`). When it is already there, which is every
start but the first after an upgrade of drsched, one query of ``alembic_version``
says so, without importing Alembic or reading the migration scripts (issue 14).
Anything else (no schema yet, another revision, an error reading it) goes through
the upgrade as before, which takes PostgreSQL's migration lock and reports errors.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.store import missing_database, open_engine
from scheduler.store.schema_head import SCHEMA_HEAD


def ensure_schema(url: str) -> None:
    """Upgrade the database to head unless it is there already."""
    if stored_revision(url) == SCHEMA_HEAD:
        return
    from scheduler.store import migrate  # Alembic: only when there is work for it

    migrate.upgrade(url)


def stored_revision(url: str) -> str | None:
    """The database's revision, or None when it has none or cannot be read here."""
    if missing_database(url) is not None:
        return None
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:  # no table yet, or no database: the upgrade says what is wrong
        return None
    finally:
        engine.dispose()
