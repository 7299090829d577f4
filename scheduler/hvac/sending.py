"""The controller's PUTs: sent in parallel, each answer moving its record, written as it comes.

Every part sends through :class:`Sending`: the records the PUTs follow are
already written (intent before effect); the answers are written in
coalesced batches, and a PUT whose answer could not be written leaves its
record due at once, to be settled by reading its facility (issue 10 bug 5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import structlog

from scheduler import metrics
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.hvac import Batch, FacilityKey, plan_control_batches
from scheduler.hvac import transitions as move
from scheduler.hvac.context import Context
from scheduler.hvac.fanout import CoalescingWriter, Sent, send_all

log = structlog.get_logger("scheduler.hvac")

Lookup = Callable[[FacilityKey], tuple[ControlRecord, str] | None]

_AFTER = {
    "apply": move.after_apply,
    "pre_condition": move.after_apply,
    "reassert": move.after_reassert,
    "restore": move.after_restore,
    "release": move.after_release,
}
#: A ramp step whose event's ramp is no longer known (cannot happen: the step needs it)
#: is answered like a restore attempt.
_AFTER["ramp"] = move.after_restore


class Sending:
    def __init__(self, context: Context) -> None:
        self._context = context

    async def execute(self, steps: Sequence[move.Step]) -> None:
        """PUT the steps' controls (their records are already written)."""
        pending = {s.send.key: (s.record, s.action) for s in steps if s.send is not None}
        if not pending:
            return
        controls = (s.send for s in steps if s.send is not None)
        try:
            await self.send(plan_control_batches(controls), pending.get)
        finally:
            self._settle_unanswered([record for record, _ in pending.values()])

    def _settle_unanswered(self, sent: Iterable[ControlRecord]) -> None:
        """A PUT whose answer was not written (a failed write): read its facility at once.

        In flight, a record has no due time; in the store it keeps none (which
        reconcile reads as "at once"), and memory says the same with a due
        time, so it is never left without one (issue 10 bug 5). Reading
        first settles it without sending anything twice.
        """
        now = self._context.clock.now()
        records = self._context.memory.open
        current = (records.get(r.event_id, r.key) for r in sent)
        records.remember(
            replace(r, due_at=now) for r in current if r is not None and r.due_at is None
        )

    def lookup(self, event_id: str, action: str) -> Lookup:
        """The event's open record of a facility, answered as ``action``."""
        records = self._context.memory.open

        def find(key: FacilityKey) -> tuple[ControlRecord, str] | None:
            record = records.get(event_id, key)
            return None if record is None else (record, action)

        return find

    async def send(self, batches: Sequence[Batch], lookup: Lookup) -> list[Sent]:
        """The PUTs in parallel; each answer moves its record, written as answers come."""
        context = self._context
        writer: CoalescingWriter[ControlRecord] = CoalescingWriter(context.record)

        def on_answers(answers: Sequence[Sent]) -> None:
            moved = []
            for sent in answers:
                found = lookup(sent.key)
                if found is not None:
                    moved.append(self._outcome(*found, sent))
            writer.add(moved)  # memory follows once the store has them (Context.record)

        try:
            workers = context.settings.max_concurrency
            return await send_all(context.becon, batches, context.slots, on_answers, workers)
        finally:
            await writer.drain()

    def _outcome(self, record: ControlRecord, action: str, sent: Sent) -> ControlRecord:
        context = self._context
        current = context.memory.open.get(record.event_id, record.key) or record
        now = context.clock.now()
        settings = context.settings
        ramp = context.memory.ramp(record.event_id)
        if action == "ramp" and ramp is not None:
            after = move.after_ramp(current, sent.outcome, sent.reason, now, settings, ramp)
        else:
            after = _AFTER[action](current, sent.outcome, sent.reason, now, settings)
        metrics.record_control_action(action, "ok" if sent.outcome == move.SUCCESS else "failed")
        if after.record.state is ControlState.RESTORE_FAILED:  # an operator must look at it
            log.error(
                "hvac.restore_failed",
                event_id=record.event_id,
                facility=str(record.key),
                detail=after.record.detail,
            )
        return after.record
