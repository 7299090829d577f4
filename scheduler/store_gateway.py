"""The one way from the event loop to the blocking store: one call at a time, in a thread.

Store methods are synchronous (SQLAlchemy sessions). The engine and HVAC
control share one :class:`StoreGateway` (built once by the daemon's wiring),
so SQLite sees a single writer and no store call blocks the event loop. It
knows nothing of the store: it runs whatever blocking callable it is given,
and checks its arguments against the callable's signature.

At a window's start hundreds of events want the same small write at once (an
intent, a transition, a claim). One transaction each, one after the other,
made the last of 200 submissions two seconds late (issue 14). :meth:`StoreGateway.batch`
gathers them instead: every call given for the same runner while the gateway is
busy (or in the same turn of the event loop) goes to that runner in one list, which
runs them in one transaction (the store's ``together``), and each caller gets its
own call's result or error.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: Runs calls together: for each, in order, its result or the exception it alone raised
#: (an error of them all, such as a failed commit, raises).
Runner = Callable[[Sequence[Callable[[], Any]]], Sequence[Any]]


class StoreGateway:
    """Runs blocking store calls in a worker thread, one at a time (one lock)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        #: Calls waiting for their runner's next turn, by runner.
        self._queued: dict[Runner, list[tuple[Callable[[], Any], asyncio.Future[Any]]]] = {}
        self._flushing: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a thread, after every call before it has returned."""
        async with self._lock:
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def batch(
        self, runner: Runner, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(*args, **kwargs)``, run by ``runner`` with the calls queued beside it.

        The first call of a batch starts a task that waits for the gateway
        (in turn, like :meth:`call`); every call given for the same runner
        until that task runs goes in the same list. The exception ``runner``
        returns for this call is raised here; one it raises (nothing written)
        is raised to every caller of the batch.
        """
        return await self.enqueue(runner, fn, *args, **kwargs)

    def enqueue(
        self, runner: Runner, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """:meth:`batch` without waiting: calls enqueued one after the other, with no
        ``await`` between them, go in the same batch, in that order."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        queued = self._queued.get(runner)
        if queued is None:
            queued = self._queued[runner] = []
            task = loop.create_task(self._flush(runner), name="store-batch")
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
        queued.append((functools.partial(fn, *args, **kwargs), future))
        return future

    async def _flush(self, runner: Runner) -> None:
        async with self._lock:
            # a caller cancelled while it waited never started its call (as with ``call``)
            queued = [(c, f) for c, f in self._queued.pop(runner) if not f.done()]
            if not queued:
                return
            try:
                results = await self._together(runner, [call for call, _ in queued])
            except asyncio.CancelledError:  # the loop is closing: no caller may wait for ever
                for _, future in queued:
                    future.cancel()
                raise
            except BaseException as error:  # every caller hears of it, as from its own call
                results = [error] * len(queued)
        for (_, future), result in zip(queued, results, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _together(self, runner: Runner, calls: list[Callable[[], Any]]) -> Sequence[Any]:
        """``runner(calls)`` in a thread (the simulation's gateway runs them inline)."""
        return await asyncio.to_thread(runner, calls)
