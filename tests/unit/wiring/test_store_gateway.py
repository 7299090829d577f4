"""The store gateway: blocking calls leave the event loop, one at a time; results come back;
calls of the same moment go to the store together (issue 14)."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

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


class Together:
    """A store's ``together``: notes each list it runs; a call's error is returned."""

    def __init__(self) -> None:
        self.lists: list[list[str]] = []

    def __call__(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        results: list[Any] = []
        names: list[str] = []
        for call in calls:
            assert isinstance(call, functools.partial)
            names.append(call.args[0])
            try:
                results.append(call())
            except Exception as error:  # that call's own
                results.append(error)
        self.lists.append(names)
        return results


def write(name: str) -> str:
    if name.startswith("bad"):
        raise StoreError(f"{name}: refused")
    return name.upper()


async def test_calls_of_the_same_moment_go_to_the_runner_in_one_list() -> None:
    gateway = StoreGateway()
    together = Together()
    names = [f"e{n}" for n in range(20)]
    results = await asyncio.gather(*(gateway.batch(together, write, n) for n in names))
    assert results == [n.upper() for n in names]  # each caller its own result
    assert together.lists == [names]  # one call of the runner: one transaction


async def test_a_failed_call_raises_in_its_caller_only() -> None:
    gateway = StoreGateway()
    together = Together()
    results = await asyncio.gather(
        *(gateway.batch(together, write, n) for n in ("a", "bad", "c")), return_exceptions=True
    )
    assert results[0] == "A"
    assert isinstance(results[1], StoreError)
    assert results[2] == "C"


async def test_a_failed_batch_raises_in_every_caller() -> None:
    gateway = StoreGateway()

    def commit_fails(calls: Sequence[Callable[[], Any]]) -> list[Any]:
        raise StoreError("database is locked")

    results = await asyncio.gather(
        *(gateway.batch(commit_fails, write, n) for n in ("a", "b")), return_exceptions=True
    )
    assert all(isinstance(r, StoreError) for r in results)
    assert await gateway.batch(Together(), write, "next") == "NEXT"  # the gateway goes on


async def test_calls_that_come_while_the_gateway_is_busy_wait_and_go_together() -> None:
    gateway = StoreGateway()
    together = Together()
    release = threading.Event()
    busy = asyncio.create_task(gateway.call(release.wait, 5))
    await asyncio.sleep(0)  # the call holds the gateway
    first = asyncio.create_task(gateway.batch(together, write, "a"))
    await asyncio.sleep(0.05)  # the batch waits for the gateway; more calls come meanwhile
    later = [asyncio.create_task(gateway.batch(together, write, n)) for n in ("b", "c")]
    await asyncio.sleep(0)
    assert together.lists == []  # one at a time: nothing ran beside the busy call
    release.set()
    assert await asyncio.gather(busy, first, *later) == [True, "A", "B", "C"]
    assert together.lists == [["a", "b", "c"]]


async def test_calls_enqueued_together_run_in_one_batch_in_their_order() -> None:
    gateway = StoreGateway()
    together = Together()
    first = gateway.enqueue(together, write, "intent")
    second = gateway.enqueue(together, write, "read")
    assert await asyncio.gather(first, second) == ["INTENT", "READ"]
    assert together.lists == [["intent", "read"]]
