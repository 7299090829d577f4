"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


@pytest.fixture
def pg_url() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip(PG_HINT)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'drsched.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database drsched supports; PostgreSQL only when enabled (see PG_HINT)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'drsched.db'}"
    url = postgres_url()
    if url is None:
        pytest.skip(PG_HINT)
    return url
