"""A fresh PostgreSQL database per seed (``--db postgres``), as tests/support/databases.py
makes them."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.databases import fresh_pg_database


def fresh_database(server_url: str, seed: int) -> tuple[str, Callable[[], None]]:
    """The new database's URL and a function that drops it."""
    made = fresh_pg_database(server_url)
    url = next(made)

    def drop() -> None:
        next(made, None)

    return url, drop
