"""The writer of PUT answers: a failed write is never lost behind a later one."""

from __future__ import annotations

import asyncio

import pytest

from scheduler.errors import StoreError
from scheduler.hvac.fanout import CoalescingWriter


async def test_answers_queued_while_a_write_runs_go_in_the_next_write() -> None:
    written: list[list[int]] = []

    async def write(items: list[int]) -> None:
        written.append(items)
        await asyncio.sleep(0)

    writer: CoalescingWriter[int] = CoalescingWriter(write)
    writer.add([1])
    writer.add([2])
    await asyncio.sleep(0)  # the first write starts with both
    writer.add([3, 4])
    await writer.drain()
    assert written == [[1, 2], [3, 4]]


async def test_a_failed_write_raises_at_drain_even_when_answers_came_after_it() -> None:
    """Answers after a failed write must not start a new writer that hides the failure:
    drain raises, and the caller settles the records (database before memory)."""
    written: list[list[int]] = []

    async def write(items: list[int]) -> None:
        if items == [1]:
            raise StoreError("database error")
        written.append(items)

    writer: CoalescingWriter[int] = CoalescingWriter(write)
    writer.add([1])
    await asyncio.sleep(0)  # the first write runs and fails
    writer.add([2])
    with pytest.raises(StoreError):
        await writer.drain()
    assert written == []
