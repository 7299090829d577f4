"""The controller's periodic work: end windows that are over, then verify, retry and restore.

Every record due (a read-back every ``hvac.verify_interval``, a retry with
backoff, a restore slot) has its facility read first; what to do next is
decided from what the read shows (:mod:`.transitions`), written, then sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from scheduler import metrics
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.hvac import FacilityState
from scheduler.domain.hvac_reads import ReadPhase
from scheduler.domain.shaping import facility_start
from scheduler.hvac import transitions as move
from scheduler.hvac.context import Context
from scheduler.hvac.reading import read_records
from scheduler.hvac.restores import Restores
from scheduler.hvac.sending import Sending

log = structlog.get_logger("scheduler.hvac")

#: Due in these states, a record's facility is read and its DR setpoint decided again.
_RETRIED = (ControlState.INTENT, ControlState.RETRYING)
#: How long a pre-conditioned unit keeps its setpoint past the window's start while the
#: DR service's ``active`` is awaited: the engine polls at the start and every 5 s around it.
START_GRACE = timedelta(seconds=10)
#: Due in these states, a record needs its window's start (pre-conditioning ends there).
_HELD_ON = (ControlState.INTENT, ControlState.RETRYING, ControlState.APPLIED)


class Verification:
    def __init__(self, context: Context, sending: Sending, restores: Restores) -> None:
        self._context = context
        self._sending = sending
        self._restores = restores

    async def work(self, now: datetime) -> None:
        """End windows that are over, then verify, retry and restore what is due.

        The caller holds the context's ``work_lock``.
        """
        context = self._context
        memory = context.memory
        await context.record([s.record for s in self._restores.end_windows(now)])
        due = sorted(
            (r for r in memory.open if r.is_due(now) and r.event_id not in memory.starting),
            key=lambda r: r.ident,
        )
        if not due:
            return
        for event_id in {r.event_id for r in due if r.state in _RETRIED or r.preconditioning}:
            await context.signal(event_id)
        for event_id in {r.event_id for r in due if r.state in _HELD_ON}:
            await context.start_of(event_id)
        observed = await read_records(context.becon, due, context.slots)
        wanted = [(r.event_id, r.key) for r in due]
        await context.keep_reads(wanted, observed, now, ReadPhase.VERIFY)
        steps = [self._step(r, observed.get(r.key), now) for r in due]
        await context.record([s.record for s in steps])
        await self._sending.execute(steps)
        _log_work(steps)

    def _step(
        self, record: ControlRecord, observed: FacilityState | None, now: datetime
    ) -> move.Step:
        """What a due record does next, from what its facility shows.

        A DR setpoint goes only to a facility of an event the DR service was
        seen running (``memory.started``): a pre-conditioned facility whose
        window has come by the plan's clock but not by the DR service's
        (statuses late, a change not yet accepted) gets its original back and
        waits; one claimed before the window waits, sending nothing.
        """
        settings = self._context.settings
        memory = self._context.memory
        start = memory.starts.get(record.event_id)
        before = start is not None and now < start
        started = record.event_id in memory.started
        match record.state:
            case ControlState.INTENT | ControlState.RETRYING:
                signal = memory.signals.get(record.event_id)
                if signal is None:  # the event no longer controls HVAC: make sure it is back
                    return move.restore(record, observed, now, settings)
                if record.preconditioning:
                    if before and not started:
                        return move.resend_precondition(record, observed, now, settings)
                    if not started:
                        return _unconfirmed(record, start, now)
                    begin = self._begin(record, start)
                    return move.leave_precondition(record, observed, signal, now, settings, begin)
                begin = self._begin(record, start)
                later = begin is not None and now < begin
                if later or (not started and record.applied_at is None):
                    # claimed ahead of its start (pre-conditioning, a randomized start, a
                    # crash mid-claim): it waits; ``StartStop.start`` wakes it
                    if later:
                        return move.Step(replace(record, due_at=begin, updated_at=now))
                    return move.wait_for_start(record, now)
                return move.retry(record, observed, signal, now, settings)
            case ControlState.APPLIED:
                signal = memory.signals.get(record.event_id)
                if record.preconditioning and not before and signal is not None:
                    if not started:
                        return _unconfirmed(record, start, now)
                    begin = self._begin(record, start)
                    return move.leave_precondition(record, observed, signal, now, settings, begin)
                return move.verify(record, observed, now, settings)
            case ControlState.RESTORING:
                return move.restore(record, observed, now, settings, memory.ramp(record.event_id))
            case _:  # planned and final records are never due
                return move.Step(record)

    def _begin(self, record: ControlRecord, start: datetime | None) -> datetime | None:
        """The unit's own start under ``randomize_start`` (None: the window's start)."""
        if start is None:
            return None
        spread = self._context.memory.randomize(record.event_id)
        slot = self._context.settings.restore_spacing
        return facility_start(
            record.event_id, record.key, start, record.window_end, spread, slot=slot
        )


def _unconfirmed(record: ControlRecord, start: datetime | None, now: datetime) -> move.Step:
    """A pre-conditioned unit past its window's start, the DR service not yet seen running
    the event: it waits :data:`START_GRACE` for that (no PUT in the common case, where
    the start's poll says ``active``), then gets its original back and waits."""
    if start is not None and now < start + START_GRACE:
        return move.Step(replace(record, due_at=start + START_GRACE, updated_at=now))
    return move.release_precondition(record, now, None)


def _log_work(steps: Sequence[move.Step]) -> None:
    done: dict[str, int] = defaultdict(int)
    for step in steps:
        done[step.action or step.record.state.value] += 1
        if step.record.state is ControlState.OPTED_OUT:
            metrics.record_control_action("opt_out", "ok")
            log.info(
                "hvac.opted_out",
                event_id=step.record.event_id,
                facility=str(step.record.key),
                detail=step.record.detail,
            )
    log.debug("hvac.work", steps=dict(done))
