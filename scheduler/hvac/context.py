"""What every part of the controller works with: the ports, the memory, one write path.

:meth:`Context.record` is the one way a record changes: the store first,
through the store gateway the engine shares (DESIGN rule 7), then memory.
A failed write raises there and memory keeps the records as they were,
still due when they were (issue 10).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from scheduler import metrics
from scheduler.clock import Clock
from scheduler.domain.control_records import ControlRecord
from scheduler.domain.events import Signal
from scheduler.domain.hvac import FacilityKey, FacilityState
from scheduler.domain.hvac_reads import ReadPhase, reads_of
from scheduler.domain.targets import TargetSpec
from scheduler.errors import DrschedError, StoreError
from scheduler.hvac.memory import ControlMemory
from scheduler.hvac.planning import Settings
from scheduler.hvac.ports import BeconPort, ControlStorePort, ReadSink
from scheduler.store_gateway import StoreGateway

log = structlog.get_logger("scheduler.hvac")


@dataclass(frozen=True)
class Context:
    becon: BeconPort
    store: ControlStorePort
    gateway: StoreGateway
    targets: Sequence[TargetSpec]
    settings: Settings
    clock: Clock
    reads: ReadSink | None
    memory: ControlMemory
    #: BECON calls in flight at once (``becon.max_concurrency``), every part together.
    slots: asyncio.Semaphore
    #: ``tick``, ``stop``, ``reconcile`` and ``release`` run one at a time.
    work_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def record(self, records: Sequence[ControlRecord]) -> None:
        """Write records to the store, then keep the open ones in memory.

        The database first (DESIGN rule 7): a failed write raises here and
        memory keeps the records as they were, still due when they were
        (a restore slot stays a restore slot).
        """
        if not records:
            return
        memory = self.memory
        records = [memory.capped(r) for r in records]
        store = self.store  # in one transaction with the other writes of the moment
        await self.gateway.batch(store.together, store.save, records)
        if memory.written is not None:
            memory.written.update((r.ident, r) for r in records)
        memory.open.remember(records)
        metrics.set_facilities_under_control(memory.open.under_control)

    async def keep_reads(
        self,
        wanted: Sequence[tuple[str, FacilityKey]],
        states: Mapping[FacilityKey, FacilityState | None],
        now: datetime,
        phase: ReadPhase = ReadPhase.PREFETCH,
    ) -> None:
        """Store the reads as evidence; losing them must never stop control."""
        if self.reads is None or not wanted:
            return
        try:
            await self.gateway.call(self.reads.record_reads, reads_of(wanted, states, now, phase))
        except StoreError as error:
            log.warning("hvac.reads_not_stored", reads=len(wanted), error=str(error))

    async def stagger(self, event_id: str) -> timedelta | None:
        """The event's ``restore.stagger``; None: ``hvac.restore_stagger``."""
        memory = self.memory
        if event_id not in memory.shaping:
            try:
                event = await self.gateway.call(self.store.plan_event, event_id)
            except DrschedError:  # a record outliving its event row: the daemon's default
                return None
            memory.shaping[event_id] = event.shaping
            memory.starts.setdefault(event_id, event.start)
        return memory.known_stagger(event_id)

    async def start_of(self, event_id: str) -> datetime | None:
        """The event's window start (loaded once); None: its row is gone."""
        starts = self.memory.starts
        if event_id not in starts:
            try:
                starts[event_id] = (await self.gateway.call(self.store.plan_event, event_id)).start
            except DrschedError:  # a record outliving its event row
                return None
        return starts[event_id]

    async def signal(self, event_id: str) -> Signal | None:
        signals = self.memory.signals
        if event_id not in signals:
            signal = (await self.gateway.call(self.store.plan_event, event_id)).load_control()
            if signal is None:
                return None
            signals[event_id] = signal
        return signals[event_id]
