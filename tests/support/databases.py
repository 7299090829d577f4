"""The test databases: which PostgreSQL server to use, and a fresh database on it per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

PG_HINT = (
    "PostgreSQL tests are skipped: set DRSCHED_TEST_PG_URL="
    "postgresql+psycopg://postgres@127.0.0.1:5432/test (CI=true sets it for you)"
)


def postgres_url() -> str | None:
    """The PostgreSQL URL for tests, or None when they should be skipped."""
    url = os.environ.get("DRSCHED_TEST_PG_URL")
    if url:
        return url
    if os.environ.get("CI") == "true":
        return "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    return None


def fresh_pg_database(server_url: str, prefix: str = "drsched_t_") -> Iterator[str]:
    """A new empty database for one test, dropped afterwards.

    Tests (and several developers' runs) share one server: a database each keeps
    them from seeing each other's tables or locks.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
