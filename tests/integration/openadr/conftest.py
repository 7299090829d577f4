"""Fixtures: a real OpenLEADR VTN on a free port, a migrated SQLite database, a running VEN."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from scheduler.clock import SystemClock
from scheduler.config import OpenadrConfig
from scheduler.openadr.ven import Ven
from scheduler.store import open_engine
from scheduler.store.migrate import upgrade

from .vtn import CONTEXT, Vtn, free_port


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


def ven_config(url: str, **overrides: Any) -> OpenadrConfig:
    data: dict[str, Any] = {
        "vtn_url": url,
        "ven_name": "drsched-test",
        "retry_initial": "0.2s",
        "retry_max": "1s",
        "market_contexts": [
            {
                "market_context": CONTEXT,
                "vtn_id": "vtn01",
                "targets": [{"ven": "CE-02"}],
                "signals": [
                    {
                        "signal": "LOAD_CONTROL",
                        "targets": ["x-DEVICE_AIR_CONDITIONER"],
                        "max_temp": 80,
                        "unit": "F",
                    },
                    {"signal": "SIMPLE", "targets": ["x-DEVICE_TV"]},
                ],
            }
        ],
    }
    data.update(overrides)
    return OpenadrConfig.model_validate(data)


class Vens:
    """Starts VEN tasks (``vens(config)``) and stops one (``vens.stop(ven)``) or all at the end."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def __call__(self, config: OpenadrConfig) -> Ven:
        ven = Ven(config, self.engine, SystemClock())
        self.tasks[id(ven)] = asyncio.create_task(ven.run())
        return ven

    async def stop(self, ven: Ven | None = None) -> None:
        keys = list(self.tasks) if ven is None else [id(ven)]
        tasks = [self.tasks.pop(key) for key in keys]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def run_ven(engine: Engine) -> AsyncIterator[Vens]:
    vens = Vens(engine)
    yield vens
    await vens.stop()
