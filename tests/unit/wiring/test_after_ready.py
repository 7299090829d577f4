"""Once the daemon is READY, not before and not when first needed (issue 14): the vendor
transport loaded, start-up's objects set aside from the garbage collector."""

from __future__ import annotations

import asyncio
import gc
import threading

from structlog.testing import capture_logs

from scheduler.wiring import after_ready, freeze_start_up


class Load:
    def __init__(self, error: Exception | None = None) -> None:
        self.done = threading.Event()
        self.error = error

    def __call__(self) -> None:
        self.done.set()
        if self.error is not None:
            raise self.error


async def test_it_is_loaded_and_settled_once_ready_and_not_before() -> None:
    ready, load, settle = asyncio.Event(), Load(), Load()
    async with after_ready(ready, load, settle):
        for _ in range(5):
            await asyncio.sleep(0)
        assert not load.done.is_set()  # start-up to READY does not pay for it
        ready.set()
        assert await asyncio.to_thread(load.done.wait, 5)
        assert await asyncio.to_thread(settle.done.wait, 5)


async def test_a_failed_load_is_logged_and_the_daemon_goes_on() -> None:
    ready, load, settle = asyncio.Event(), Load(ImportError("no module named aiohttp")), Load()
    ready.set()
    with capture_logs() as logs:
        async with after_ready(ready, load, settle):
            assert await asyncio.to_thread(settle.done.wait, 5)
            for _ in range(10_000):  # the task logs once the thread has returned
                if logs:
                    break
                await asyncio.sleep(0)
    assert [entry["event"] for entry in logs] == ["daemon.after_ready_failed"]
    assert "no module named aiohttp" in logs[0]["error"]


async def test_leaving_before_ready_cancels_it() -> None:
    load, settle = Load(), Load()
    async with after_ready(asyncio.Event(), load, settle):
        pass
    assert not load.done.is_set()
    assert not settle.done.is_set()


def test_start_up_objects_are_left_out_of_later_collections() -> None:
    """A full collection walked every object start-up made: ~100 ms at 200 submissions."""
    kept = [[n] for n in range(1000)]  # alive now, as start-up's objects are
    try:
        freeze_start_up()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
