"""Fixtures: a real OpenLEADR VTN on a free port, a migrated SQLite database, a running VEN."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
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


@pytest.fixture
async def run_ven(engine: Engine) -> AsyncIterator[Callable[..., Ven]]:
    """``run_ven(config)`` starts a VEN task; every one is cancelled at the end."""
    tasks: list[asyncio.Task[None]] = []

    def start(config: OpenadrConfig) -> Ven:
        ven = Ven(config, engine, SystemClock())
        tasks.append(asyncio.create_task(ven.run()))
        return ven

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
