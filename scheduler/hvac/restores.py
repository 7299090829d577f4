"""When facilities get their original setpoints back: at a window's end, a stop, a start-up,
and before the daemon exits (``hvac.on_stop: restore``).

The steps are computed here (restore slots spread over the event's
``restore.stagger``, or ``hvac.restore_stagger``); the caller writes them,
and the periodic work sends each restore in its slot. Only :meth:`Restores.release`
sends at once: the stagger does not fit in systemd's ``TimeoutStopSec``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.hvac import FacilityKey, FacilityState
from scheduler.hvac import transitions as move
from scheduler.hvac.context import Context
from scheduler.hvac.planning import overdue_slots, restore_slots
from scheduler.hvac.reading import read_records
from scheduler.hvac.sending import Sending

log = structlog.get_logger("scheduler.hvac")

#: Records in these states hold a facility at (or on its way to) a DR setpoint.
ENDING = (ControlState.INTENT, ControlState.APPLIED, ControlState.RETRYING)


class Restores:
    def __init__(self, context: Context, sending: Sending) -> None:
        self._context = context
        self._sending = sending

    def end_windows(self, now: datetime) -> list[move.Step]:
        """Planned records whose window ended are skipped; live ones go to restore slots.

        An event stopped in this process counts as ended: if the write of its
        stop failed, its records are still live in memory, and end here.
        """
        memory = self._context.memory
        over = [
            r
            for r in memory.open
            if (r.window_end <= now or r.event_id in memory.stopped)
            and r.event_id not in memory.starting
        ]
        steps = [
            move.not_started(
                r, now, memory.stopped.get(r.event_id, "the window ended before control started")
            )
            for r in over
            if r.state is ControlState.PLANNED
        ]
        ending = [r for r in over if r.state in ENDING and r.due_at is not None]
        by_event: dict[str, list[ControlRecord]] = defaultdict(list)
        for record in ending:
            by_event[record.event_id].append(record)
        for event_id, records in by_event.items():
            why = memory.stopped.get(event_id, "window ended")
            base = min(now, records[0].window_end)
            stagger = memory.known_stagger(event_id)
            slots = restore_slots(records, base, self._context.settings, stagger)
            steps += [move.start_restore(r, slots[r.ident], now, why) for r in records]
        return steps

    def for_stop(
        self, records: Sequence[ControlRecord], now: datetime, why: str
    ) -> list[move.Step]:
        """Restore slots from now (a cancel) or from the window's end, whichever is first."""
        if not records:
            return []
        base = min(now, records[0].window_end)
        stagger = self._context.memory.known_stagger(records[0].event_id)
        slots = restore_slots(records, base, self._context.settings, stagger)
        return [move.start_restore(r, slots[r.ident], now, why) for r in records]

    def over_at_start_up(
        self, records: Sequence[ControlRecord], now: datetime, stagger: timedelta | None
    ) -> list[move.Step]:
        """An event over at start-up: what is overdue is restored over the stagger from now.

        Not all at once (issue 15): a crash through the end would otherwise
        turn into one rebound step for every unit. Restores still ahead keep
        their slot.
        """
        why = "the event was over at start-up"
        steps = [move.not_started(r, now, why) for r in records if r.state is ControlState.PLANNED]
        live = [r for r in records if r.state in ENDING or r.state is ControlState.RESTORING]
        slots = overdue_slots(live, now, self._context.settings, stagger)
        steps += [
            move.start_restore(r, slots[r.ident], now, f"{why}: restored over the stagger")
            for r in live
            if r.state in ENDING
        ]
        steps += [
            move.Step(replace(r, due_at=slots[r.ident]))
            for r in live
            if r.state is ControlState.RESTORING and r.due_at != slots[r.ident]
        ]
        return steps

    async def release(self, now: datetime) -> str:
        """``hvac.on_stop: restore``: put every facility under control back before exit.

        Every held facility is read and restored at once (batched PUTs): the
        stagger and ramps do not fit in systemd's ``TimeoutStopSec``. A unit
        whose occupant changed it is left alone under ``respect``. A unit
        restored inside its event's window is recorded as an ``intent`` due at
        once: the next ``drsched run`` reads it and applies the DR setpoint
        again (control resumes); after the window it finds it at its original.
        A restore that failed stays ``restoring``, due: the next start retries
        it. Returns what it did, for the log and the journal.
        """
        context = self._context
        memory = context.memory
        async with context.work_lock:
            held = sorted(
                (r for r in memory.open if r.state in (*ENDING, ControlState.RESTORING)),
                key=lambda r: r.ident,
            )
            if not held:
                return "no facility under control"
            observed = await read_records(context.becon, held, context.slots)
            held = [r for r in held if not _waiting(r, observed.get(r.key))]
            if not held:
                return "no facility at a DR setpoint"
            why = "daemon stopping (hvac.on_stop: restore)"
            settings = context.settings
            steps = [
                move.restore(
                    replace(r, detail=_note(r.detail, why)), observed.get(r.key), now, settings
                )
                for r in held
            ]
            memory.written = {}
            try:
                await context.record([step.record for step in steps])
                await self._sending.execute(steps)
                return await self._resumable(held, now, memory.written)
            finally:
                memory.written = None

    async def _resumable(
        self,
        held: Sequence[ControlRecord],
        now: datetime,
        written: dict[tuple[str, FacilityKey], ControlRecord],
    ) -> str:
        """After the stop's restores: those inside their window become intents, due at once."""
        context = self._context
        outcome: dict[str, int] = defaultdict(int)
        resume: list[ControlRecord] = []
        for before in held:
            after = written.get(before.ident, before)
            outcome[after.state.value] += 1
            live = before.state in ENDING and before.event_id not in context.memory.stopped
            if after.state is ControlState.RESTORED and live and now < before.window_end:
                resume.append(
                    replace(
                        after,
                        state=ControlState.INTENT,
                        due_at=now,
                        updated_at=now,
                        detail="restored when drsched stopped; control resumes at its next start",
                    )
                )
        # closed records leave memory: the store only
        await context.gateway.call(context.store.save, resume)
        summary = ", ".join(f"{n} {state}" for state, n in sorted(outcome.items()))
        log.info("hvac.released", facilities=len(held), outcome=dict(outcome), resume=len(resume))
        return f"{len(held)} facilities under control: {summary}; {len(resume)} resume at restart"


def _waiting(record: ControlRecord, observed: FacilityState | None) -> bool:
    """An intent whose facility shows no DR setpoint (a randomized start still to come,
    a PUT that did not land): nothing to restore; it stays an intent for the next start."""
    if record.state is not ControlState.INTENT or observed is None:
        return False
    return not move.at_target(record, observed)


def _note(detail: str, note: str) -> str:
    return f"{detail}; {note}" if detail else note
