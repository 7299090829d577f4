"""The HVAC control store and the daemon store on one migrated database (each supported one)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.store import open_engine
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[ControlStore, DaemonStore]]:
    upgrade(db_url)
    engine = open_engine(db_url)
    try:
        yield ControlStore(engine), DaemonStore(engine)
    finally:
        engine.dispose()
