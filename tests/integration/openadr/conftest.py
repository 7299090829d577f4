"""Fixtures: a real OpenLEADR VTN on a free port, a migrated SQLite database, a running VEN."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import Engine

from scheduler.store import open_engine
from scheduler.store.migrate import upgrade
from tests.support.openadr.vens import Vens
from tests.support.openadr.vtn import Vtn
from tests.support.processes import free_port


@pytest.fixture
async def vtn() -> AsyncIterator[Vtn]:
    server = Vtn(free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    sql = open_engine(sqlite_url)
    yield sql
    sql.dispose()


@pytest.fixture
async def run_ven(engine: Engine) -> AsyncIterator[Vens]:
    vens = Vens(engine)
    yield vens
    await vens.stop()
