"""Start-up: memory rebuilt from the store's open records, then whatever is due done at once.

Whatever is still at a DR setpoint of an event that is over (or whose
cancel was recorded while the daemon was down: DESIGN invariant 3, nothing
sent after it) is restored over the stagger from now; an event inside its window stays under control
(an unsettled PUT is settled by reading the facility first, so no control
is sent twice). A database from before migration 0003 may give a facility
two holders: one keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import structlog

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.lifecycle import Status
from scheduler.hvac import transitions as move
from scheduler.hvac.context import Context
from scheduler.hvac.planning import one_holder_each
from scheduler.hvac.restores import Restores
from scheduler.hvac.verification import Verification

log = structlog.get_logger("scheduler.hvac")


class Reconcile:
    def __init__(self, context: Context, restores: Restores, verification: Verification) -> None:
        self._context = context
        self._restores = restores
        self._verification = verification

    async def run(self, now: datetime) -> None:
        """Memory from the store, restores for events that are over, then the work due."""
        context = self._context
        memory = context.memory
        async with context.work_lock:
            stored = await context.gateway.call(context.store.open_records)
            records = await self._one_holder_each(stored, now)
            memory.open.clear()
            memory.open.remember(records)
            events = sorted({r.event_id for r in records})
            statuses = await context.gateway.call(context.store.event_statuses, events)
            canceled = await context.gateway.call(context.store.canceled, events)
            steps: list[move.Step] = []
            for event_id in events:
                mine = [r for r in records if r.event_id == event_id]
                status = statuses.get(event_id)
                stagger = await context.stagger(event_id)  # loaded for the end of its window too
                over = status is None or status.is_terminal or now >= mine[0].window_end
                if over or event_id in canceled:  # a cancel recorded while it was down
                    steps += self._restores.over_at_start_up(mine, now, stagger)
                else:
                    if status is Status.ACTIVE:  # the engine saw it running before the restart
                        memory.started.add(event_id)
                    steps += [move.Step(replace(r, due_at=now)) for r in _unscheduled(mine)]
            await context.record([s.record for s in steps])
            log.info("hvac.reconciled", open=len(records), events=len(events))
            await self._verification.work(now)

    async def event(self, event_id: str, now: datetime) -> None:
        """One event's memory from the store again, after a call for it failed midway.

        ``claim`` writes outside :meth:`.context.Context.record` (the records stay
        ``planned`` in memory until the write after it): when that next write fails,
        the store holds the facilities and memory does not know, and no start or
        periodic work would ever act for them (simulation seed 1198, batched). As at
        start-up, what the failure left without a due time is looked at now.

        That due time is memory's alone, as for a PUT whose answer was not written
        (``Sending._settle_unanswered``): the store's record keeps none, which start-up
        reads as "at once". Written here, a write failing again would leave memory with
        a record nothing is ever due for, not even the window's end (seed 20186, --long).
        """
        context = self._context
        async with context.work_lock:
            mine = await context.gateway.call(context.store.open_records, event_id)
            context.memory.open.forget_event(event_id)
            context.memory.open.remember(mine)
            context.memory.open.remember(replace(r, due_at=now) for r in _unscheduled(mine))

    async def _one_holder_each(
        self, records: Sequence[ControlRecord], now: datetime
    ) -> list[ControlRecord]:
        """Open records with at most one holder per facility (a database from before 0003)."""
        changed = one_holder_each(records, now)
        if not changed:
            return list(records)
        for record in changed:
            if record.state is ControlState.SKIPPED:
                log.error(
                    "hvac.duplicate_hold",
                    event_id=record.event_id,
                    facility=str(record.key),
                    detail=record.detail,
                )
        await self._context.gateway.call(self._context.store.save, changed)
        latest = {r.ident: r for r in changed}
        merged = (latest.get(r.ident, r) for r in records)
        return [r for r in merged if r.state.is_open]


def _unscheduled(records: Iterable[ControlRecord]) -> list[ControlRecord]:
    """Open records left without a due time by a crash mid-call: looked at at once."""
    return [r for r in records if r.due_at is None and r.state is not ControlState.PLANNED]
