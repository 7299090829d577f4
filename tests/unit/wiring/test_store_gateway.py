"""The store gateway: blocking calls leave the event loop, one at a time; results come back."""

from __future__ import annotations

import asyncio
import threading

import pytest

from scheduler.errors import StoreError
from scheduler.store_gateway import StoreGateway


async def test_calls_run_one_at_a_time_off_the_event_loop() -> None:
    gateway = StoreGateway()
    threads: set[int] = set()
    entered = {name: threading.Event() for name in ("engine", "hvac")}
    release = threading.Event()

    def call(name: str, *, wait: bool = False) -> str:
        threads.add(threading.get_ident())
        entered[name].set()
        if wait:
            release.wait(5)
        return name

    first = asyncio.create_task(gateway.call(call, "engine", wait=True))
    second = asyncio.create_task(gateway.call(call, "hvac"))
    assert await asyncio.to_thread(entered["engine"].wait, 5)
    # Without the one lock the second call's thread would be inside at once.
    assert not await asyncio.to_thread(entered["hvac"].wait, 0.2)
    release.set()
    assert await asyncio.gather(first, second) == ["engine", "hvac"]
    assert threading.get_ident() not in threads


async def test_an_error_reaches_the_caller_and_the_next_call_runs() -> None:
    gateway = StoreGateway()

    def fails() -> None:
        raise StoreError("database is locked")

    with pytest.raises(StoreError, match="locked"):
        await gateway.call(fails)
    assert await gateway.call(len, [1, 2]) == 2
