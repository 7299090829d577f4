"""The one way from the event loop to the blocking store: one call at a time, in a thread.

Store methods are synchronous (SQLAlchemy sessions). The engine and HVAC
control share one :class:`StoreGateway` (built once by the daemon's wiring),
so SQLite sees a single writer and no store call blocks the event loop. It
knows nothing of the store: it runs whatever blocking callable it is given,
and checks its arguments against the callable's signature.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class StoreGateway:
    """Runs blocking store calls in a worker thread, one at a time (one lock)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a thread, after every call before it has returned."""
        async with self._lock:
            return await asyncio.to_thread(fn, *args, **kwargs)
