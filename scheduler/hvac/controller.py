"""The HVAC controller: the engine's ``HvacControl`` over BECON and the store.

It builds its parts around one :class:`~.context.Context` (the ports, the
shared :class:`~.memory.ControlMemory`, the one write path) and hands each
call to the part that holds it:

- ``prepare``, ``start``, ``stop``: :mod:`.start_stop` (a facility becomes
  held only through the store's ``claim``, which gives it to at most one event);
- ``tick`` (when ``due`` says): :mod:`.verification`, the periodic work:
  verify every ``hvac.verify_interval``, retry failed PUTs with backoff
  inside the window, end control at the window's end, and restore in the
  slots spread over ``hvac.restore_stagger`` (:mod:`.restores`);
- ``reconcile`` (start-up): :mod:`.reconcile`, then a start for every event
  that became active while control never started;
- ``release`` (``hvac.on_stop: restore``): :mod:`.restores`.

The records (:mod:`.records`) are the truth; the controller keeps the open
ones in memory as well, and writes every change to the store first, then to
memory (:meth:`.context.Context.record`): a failed write leaves memory as it
was, so the work is still due (issue 10). The engine calls one event's
points in order, so ``prepare`` and ``start`` own their event's ``planned``
records; ``tick``, ``stop``, ``reconcile`` and ``release`` share a lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import datetime

import structlog

from scheduler.clock import Clock
from scheduler.domain.events import PlanEvent
from scheduler.domain.targets import TargetSpec
from scheduler.hvac.context import Context
from scheduler.hvac.memory import ControlMemory
from scheduler.hvac.planning import Settings
from scheduler.hvac.ports import BeconPort, ControlStorePort, ReadSink
from scheduler.hvac.reconcile import Reconcile
from scheduler.hvac.restores import Restores
from scheduler.hvac.sending import Sending
from scheduler.hvac.start_stop import StartStop
from scheduler.hvac.verification import Verification
from scheduler.store_gateway import StoreGateway

log = structlog.get_logger("scheduler.hvac")


class HvacController:
    """See the module docstring; ``targets`` are the config's ``hvac.targets``."""

    def __init__(
        self,
        becon: BeconPort,
        store: ControlStorePort,
        targets: Sequence[TargetSpec],
        settings: Settings,
        clock: Clock,
        reads: ReadSink | None = None,
        gateway: StoreGateway | None = None,
    ) -> None:
        context = Context(
            becon=becon,
            store=store,
            gateway=gateway or StoreGateway(),  # the daemon's wiring shares the engine's
            targets=list(targets),
            settings=settings,
            clock=clock,
            reads=reads,
            memory=ControlMemory(settings),
            slots=asyncio.Semaphore(settings.max_concurrency),
        )
        sending = Sending(context)
        self._restores = Restores(context, sending)
        self._verification = Verification(context, sending, self._restores)
        self._start_stop = StartStop(context, sending, self._restores, self._verification)
        self._reconcile = Reconcile(context, self._restores, self._verification)
        self._context = context

    async def prepare(self, event: PlanEvent, now: datetime) -> None:
        await self._resync_on_failure(self._start_stop.prepare(event, now), event, now)

    async def start(self, event: PlanEvent, now: datetime) -> None:
        await self._resync_on_failure(self._start_stop.start(event, now), event, now)

    async def stop(self, event: PlanEvent, now: datetime, reason: str) -> None:
        await self._start_stop.stop(event, now, reason)

    async def release(self, now: datetime) -> str:
        """``hvac.on_stop: restore``: every facility under control put back before exit."""
        return await self._restores.release(now)

    async def due(self, now: datetime) -> datetime | None:
        return self._context.memory.due()

    async def tick(self, now: datetime) -> None:
        async with self._context.work_lock:
            await self._verification.work(now)

    async def _resync_on_failure(
        self, call: Awaitable[object], event: PlanEvent, now: datetime
    ) -> None:
        """``call``, and when it fails, the event's memory from the store (its claim may
        be written: :meth:`.reconcile.Reconcile.event`) before its error goes on."""
        try:
            await call
        except Exception:
            try:
                await self._reconcile.event(event.event_id, now)
            except Exception:  # the store still failing: the next call tries again
                log.warning("hvac.resync_failed", event_id=event.event_id, exc_info=True)
            raise

    async def reconcile(self, now: datetime) -> None:
        await self._reconcile.run(now)
        context = self._context
        for event in await context.gateway.call(context.store.unstarted_events, now):
            await self.start(event, now)  # it became active, then the daemon stopped
