"""Database URLs read without SQLAlchemy say what SQLAlchemy's ``make_url`` says."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from scheduler.store import is_sqlite, sqlite_file
from scheduler.store.urls import parse_url, render_url

URLS = [
    "sqlite:////var/lib/drsched/drsched.db",
    "sqlite:///relative/drsched.db",
    "sqlite+pysqlite:////tmp/x.db",
    "sqlite:///",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///file:x.db?mode=ro&uri=true",
    "sqlite:////tmp/with%20space.db",
    "sqlite:////tmp/x.db?timeout=5",
    "postgresql+psycopg://drsched:secret@db.example:5432/drsched",
    "postgresql://localhost/test",
]


@pytest.mark.parametrize("url", URLS)
def test_the_backend_and_database_are_make_urls(url: str) -> None:
    parsed = make_url(url)
    assert parse_url(url).backend == parsed.get_backend_name()
    assert parse_url(url).database == parsed.database


def test_sqlite_files_are_found_as_before() -> None:
    assert [str(sqlite_file(u)) for u in URLS[:3]] == [
        "/var/lib/drsched/drsched.db",
        "relative/drsched.db",
        "/tmp/x.db",
    ]
    assert [sqlite_file(u) for u in ("sqlite://", "sqlite:///:memory:", URLS[6])] == [None] * 3
    assert [is_sqlite(u) for u in (URLS[0], URLS[9])] == [True, False]


def test_a_password_is_never_shown() -> None:
    assert render_url(URLS[9]) == "postgresql+psycopg://drsched:***@db.example:5432/drsched"
    assert render_url(URLS[0]) == URLS[0]
