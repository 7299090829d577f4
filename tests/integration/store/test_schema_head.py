"""The daemon's start-up schema step: Alembic only for a database behind (issue 14).

That ``SCHEMA_HEAD`` is Alembic's head is ``test_migrations.py``'s.
"""

from __future__ import annotations

from scheduler.store.migrate import upgrade
from scheduler.store.schema import ensure_schema, stored_revision
from scheduler.store.schema_head import SCHEMA_HEAD


def test_ensure_schema_creates_the_schema_and_then_reads_it_as_current(db_url: str) -> None:
    assert stored_revision(db_url) is None
    ensure_schema(db_url)
    assert stored_revision(db_url) == SCHEMA_HEAD
    ensure_schema(db_url)  # at head: nothing to do
    assert upgrade(db_url) == (SCHEMA_HEAD, SCHEMA_HEAD)


def test_a_database_behind_is_upgraded(db_url: str) -> None:
    upgrade(db_url, "0009")
    assert stored_revision(db_url) == "0009"
    ensure_schema(db_url)
    assert stored_revision(db_url) == SCHEMA_HEAD
