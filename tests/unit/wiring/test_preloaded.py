"""The vendor transport is loaded once the daemon is READY, not at its first call (issue 14)."""

from __future__ import annotations

import asyncio
import threading

from structlog.testing import capture_logs

from scheduler.wiring import preloaded


class Load:
    def __init__(self, error: Exception | None = None) -> None:
        self.done = threading.Event()
        self.error = error

    def __call__(self) -> None:
        self.done.set()
        if self.error is not None:
            raise self.error


async def test_it_is_loaded_once_ready_and_not_before() -> None:
    ready, load = asyncio.Event(), Load()
    async with preloaded(ready, load):
        for _ in range(5):
            await asyncio.sleep(0)
        assert not load.done.is_set()  # start-up to READY does not pay for it
        ready.set()
        assert await asyncio.to_thread(load.done.wait, 5)


async def test_a_failed_load_is_logged_and_the_daemon_goes_on() -> None:
    ready, load = asyncio.Event(), Load(ImportError("no module named aiohttp"))
    ready.set()
    with capture_logs() as logs:
        async with preloaded(ready, load):
            assert await asyncio.to_thread(load.done.wait, 5)
            for _ in range(10_000):  # the task logs once the thread has returned
                if logs:
                    break
                await asyncio.sleep(0)
    assert [entry["event"] for entry in logs] == ["daemon.preload_failed"]
    assert "no module named aiohttp" in logs[0]["error"]


async def test_leaving_before_ready_cancels_it() -> None:
    load = Load()
    async with preloaded(asyncio.Event(), load):
        pass
    assert not load.done.is_set()
