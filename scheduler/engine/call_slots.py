"""The DR calls' concurrency bound, and when none of them is waiting for a slot.

At a submission instant 200 POSTs wait for ``dr_api.max_concurrency`` slots.
Each one's outcome (the intent closed, ``pending`` recorded) was written as
its answer came in, one store batch after another beside the POSTs still to
leave, and on two cores every batch took the daemon's Python time from them
(issue 14). An outcome delays nothing else that is due (the event's next
action is a later tick's), so it waits until every call queued for a slot has
left, and the outcomes of the burst go to the store together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class CallSlots:
    """A semaphore that also says when no call is waiting for it."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._waiting = 0
        self._none_waiting = asyncio.Event()
        self._none_waiting.set()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the slots for a call."""
        self._waiting += 1
        self._none_waiting.clear()
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._none_waiting.set()
        try:
            yield
        finally:
            self._slots.release()

    async def none_waiting(self) -> None:
        """Return once no call waits for a slot (at once if none does).

        Never call it while holding a slot: the calls waiting for it would
        wait for ever.
        """
        await self._none_waiting.wait()
