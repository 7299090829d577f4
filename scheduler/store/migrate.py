"""Schema migrations (Alembic ``upgrade head``), behind PostgreSQL's migration lock.

Alembic is configured in code: the scripts are the ``scheduler.migrations``
package (``migrations/`` at the root of the checkout, mapped into the package by
pyproject.toml), so ``drsched db upgrade`` works wherever drsched is installed,
with no ``alembic.ini`` to find. The ``alembic.ini`` in the checkout is for
developers writing a revision (docs/development.md).
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from scheduler.errors import StoreError
from scheduler.store import missing_database, open_engine
from scheduler.store.advisory import migration_lock


@cache
def migrations_dir() -> Path:
    """Where the Alembic scripts are: found by import, as a wheel and an editable install differ.

    A wheel holds them in ``scheduler/migrations``; an editable install maps the
    package onto ``migrations/`` in the checkout.
    """
    spec = find_spec("scheduler.migrations")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    if origin is None or not (origin.parent / "env.py").is_file():
        # A namespace package: typically a scheduler/migrations/ left behind (holding
        # __pycache__) from before the scripts moved to migrations/, which shadows them.
        where = list(spec.submodule_search_locations or ()) if spec is not None else []
        raise StoreError(
            f"the migration scripts are not found (scheduler.migrations resolves to {where}): "
            "remove a stale scheduler/migrations/ directory, or reinstall drsched"
        )
    return origin.parent


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    return config


def head() -> str:
    """The newest revision this build knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(url: str) -> str | None:
    """The database's revision; None for an empty or missing database (never creates one)."""
    if missing_database(url) is not None:
        return None
    engine = open_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the schema revision: {exc}") from exc
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Bring the database to ``revision``; returns (before, after). A no-op when current."""
    engine = open_engine(url)
    try:
        with migration_lock(url), engine.begin() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            after = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"database upgrade failed: {exc}") from exc
    finally:
        engine.dispose()
    return before, after or ""


def require_current(url: str) -> None:
    """Refuse to work on a database that is missing or not at this build's schema."""
    if missing_database(url) is not None:
        open_engine(url, read_only=True)  # raises the error naming the file
    found = current(url)
    if found != head():
        state = "empty (no schema)" if found is None else f"at revision {found}"
        raise StoreError(
            f"the database is {state}, this drsched needs {head()}: run `drsched db upgrade`"
        )
