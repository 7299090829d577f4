"""The store gateway: blocking calls leave the event loop, one at a time; results come back."""

from __future__ import annotations

import asyncio
import threading

import pytest

from scheduler.errors import StoreError
from scheduler.store_gateway import StoreGateway


async def test_calls_run_one_at_a_time_off_the_event_loop() -> None:
    gateway = StoreGateway()
    loop_thread = threading.get_ident()
    inside = 0
    most = 0
    threads: set[int] = set()
    first_in = threading.Event()
    release = threading.Event()

    def call(name: str, *, wait: bool = False) -> str:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        threads.add(threading.get_ident())
        first_in.set()
        if wait:
            release.wait(5)
        inside -= 1
        return name

    first = asyncio.create_task(gateway.call(call, "engine", wait=True))
    second = asyncio.create_task(gateway.call(call, "hvac"))
    assert await asyncio.to_thread(first_in.wait, 5)
    for _ in range(10):  # the loop turns: the second call waits for the first
        await asyncio.sleep(0)
    assert not second.done()
    release.set()
    assert await asyncio.gather(first, second) == ["engine", "hvac"]
    assert most == 1
    assert loop_thread not in threads


async def test_an_error_reaches_the_caller_and_the_next_call_runs() -> None:
    gateway = StoreGateway()

    def fails() -> None:
        raise StoreError("database is locked")

    with pytest.raises(StoreError, match="locked"):
        await gateway.call(fails)
    assert await gateway.call(len, [1, 2]) == 2
