"""PostgreSQL advisory locks the store and the election share: keys, URL, migration lock.

The keys are fixed so every version agrees on them. The migration lock lives
here, not with the election, because ``drsched db upgrade`` needs it without
any leadership; the election (:mod:`scheduler.leadership.postgres`) imports
the leader's key from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import structlog
from sqlalchemy.engine import make_url

from scheduler.errors import StoreError

log = structlog.get_logger("scheduler.store.advisory")

#: Advisory lock keys (64-bit, per database): fixed so every version agrees.
LEADER_LOCK_KEY = 0x64727363_6865_6401  # "drsched" + 1
MIGRATION_LOCK_KEY = 0x64727363_6865_6402


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


@contextlib.contextmanager
def migration_lock(url: str, *, timeout: float = 600.0) -> Iterator[None]:
    """Serialize ``drsched db upgrade`` runs: Alembic has no lock of its own.

    PostgreSQL: a blocking advisory lock (a different key from the leader's)
    on a connection of its own, held for the ``with`` block. SQLite: nothing
    (one file, and the engine's file lock keeps daemons apart).
    """
    if not is_postgres(url):
        yield
        return
    import psycopg

    try:
        conn = psycopg.connect(libpq_url(url), autocommit=True, application_name="drsched-migrate")
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect to the database for the migration lock: {exc}") from exc
    with conn:
        conn.execute(f"SET lock_timeout = '{int(timeout * 1000)}ms'")
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY]).fetchone()
        if not (row and row[0]):  # only say "waiting" when another upgrade holds it
            log.info("migration.lock_waiting", key=MIGRATION_LOCK_KEY)
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            except psycopg.errors.LockNotAvailable as exc:
                message = f"another migration held the lock for more than {timeout:g}s"
                raise StoreError(message) from exc
            log.info("migration.lock_acquired")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
