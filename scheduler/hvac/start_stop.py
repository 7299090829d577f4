"""An event's control: prepared before its window, started at once, stopped when it ends.

- ``prepare`` (``hvac.prefetch_lead`` before the window): one gateway-wide
  state call per mapped gateway; every mapped facility's DR setpoint is
  decided and written as a ``planned`` record (or ``skipped``, with why),
  and the PUT batches are computed, so that the start costs only PUTs.
- ``prepare`` of an event with ``pre_condition`` (the engine calls it at
  ``start − duration``, issue 15): the facilities are claimed at once, each
  pre-conditioning setpoint recorded, then sent; the periodic work moves
  them to their DR setpoints at the window start (:mod:`.verification`).
- ``start``: the store's ``claim`` turns the event's ``planned`` records into
  ``intent`` in one transaction (DESIGN rule 2: intent before effect), or
  ``skipped`` where another event holds the facility; then the precomputed
  batches leave, ``becon.max_concurrency`` at a time; each answer is written
  as it comes. A start after a restart starts only an event whose records
  show no start yet.
- ``stop`` (end, cancel, remote cancel): restores are scheduled at once.

A facility becomes held only through the store's ``claim`` (:meth:`StartStop._claim`),
which gives it to at most one event. The engine calls one event's points in
order, so ``prepare`` and ``start`` own their event's ``planned`` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from scheduler import metrics
from scheduler.domain.control_records import HELD, ControlRecord, ControlState
from scheduler.domain.events import PlanEvent, Signal
from scheduler.domain.hvac import Batch, FacilityKey, FacilityState
from scheduler.domain.outside import OutsideCall, may_touch_outside
from scheduler.domain.setpoints import Change
from scheduler.domain.shaping import facility_start
from scheduler.domain.targets import TargetSpec
from scheduler.hvac import transitions as move
from scheduler.hvac.context import Context
from scheduler.hvac.mapping import GatewayRead, gateway_reads, mapped, targets_for
from scheduler.hvac.memory import Prepared
from scheduler.hvac.planning import apply_batches, plan_records, pre_condition_of
from scheduler.hvac.reading import read_gateways
from scheduler.hvac.restores import ENDING, Restores
from scheduler.hvac.sending import Sending
from scheduler.hvac.verification import Verification

log = structlog.get_logger("scheduler.hvac")


class StartStop:
    def __init__(
        self,
        context: Context,
        sending: Sending,
        restores: Restores,
        verification: Verification,
    ) -> None:
        self._context = context
        self._sending = sending
        self._restores = restores
        self._verification = verification

    async def start(self, event: PlanEvent, now: datetime) -> None:
        memory = self._context.memory
        if event.event_id in memory.stopped:
            return
        verdict = may_touch_outside(  # the engine asked too; no caller may start after the end
            OutsideCall.START_CONTROL,
            now=now,
            stored_end=event.end,
            running_end=None,
            cancel_requested=False,
        )
        if not verdict.allowed:
            memory.log_event("hvac.start_refused", event.event_id, reason=verdict.reason)
            return
        memory.started.add(event.event_id)
        prepared = memory.prepared.get(event.event_id)
        if prepared is None or prepared.fingerprint != event.fingerprint():
            if memory.held(event.event_id):  # started, or pre-conditioning (issue 15)
                await self._start_planned(event, now)  # only what is left: a claim that failed
                await self._wake(event.event_id, now)
                return
            if prepared is None and await self._context.gateway.call(
                self._context.store.started, event.event_id
            ):
                return  # started before a restart: its records say what is left to do
            prepared = await self.prepare(event, now)
            if prepared is None:
                return
        memory.prepared.pop(event.event_id, None)
        claimed = await self._claim(event.event_id, now)
        batches = prepared.batches
        claimed, delayed = await self._delay_starts(event, claimed, now)
        if delayed or len(claimed) != sum(len(b.controls) for b in batches):
            batches = tuple(apply_batches(claimed))  # some were taken by another event
        metrics.record_control_action("apply", "skipped", prepared.skipped)
        if batches:
            await self._fan_out(event.event_id, batches)
        if prepared.unread:
            await self._start_late(event, prepared.unread)
        await self._wake(event.event_id, now)
        memory.log_event("hvac.started", event.event_id, puts=len(batches))

    async def _start_planned(self, event: PlanEvent, now: datetime) -> None:
        """An event already holding facilities: its ``planned`` records left are started.

        Nothing is left after a start (a repeated call sends nothing); a late
        gateway's records are, when their claim failed and the start is tried
        again (the event then already holds its pre-conditioned facilities).
        """
        claimed = await self._claim(event.event_id, now)
        claimed, _ = await self._delay_starts(event, claimed, now)
        steps = [move.begin_apply(r, now) for r in claimed]
        self._context.memory.open.remember(s.record for s in steps)  # the claim wrote them
        await self._sending.execute(steps)

    async def _wake(self, event_id: str, now: datetime) -> None:
        """The DR service runs the event: its facilities that waited for that are due now.

        Pre-conditioned ones (their DR setpoint, decided from the original) and
        those claimed ahead of their start that never had a DR setpoint (a
        randomized one still waits for its own start: :mod:`.verification`).
        A record whose PUT is in flight (no due time) is left to its answer.
        """
        context = self._context
        memory = context.memory
        waiting = [
            replace(r, due_at=now, updated_at=now)
            for r in memory.open.of(event_id)
            if r.due_at is not None
            and r.due_at > now
            and ((r.preconditioning and r.state in HELD) or move.waits_for_start(r))
        ]
        if not waiting:
            return
        async with context.work_lock:
            await context.record(waiting)
            await self._verification.work(now)

    async def _delay_starts(
        self, event: PlanEvent, claimed: list[ControlRecord], now: datetime
    ) -> tuple[list[ControlRecord], int]:
        """``randomize_start``: the claimed records whose own start is later wait for it.

        Each waits as an ``intent`` due at its start (written before any PUT):
        then its facility is read and its DR setpoint decided afresh and sent
        (:func:`~scheduler.hvac.transitions.retry`), so an occupant's change
        meanwhile is respected and a restart keeps the instant (it is drawn
        from the event and facility alone). Returns the records to start now
        and how many wait.
        """
        spread = self._context.memory.randomize(event.event_id)
        if not claimed or spread <= timedelta(0):
            return claimed, 0
        slot = self._context.settings.restore_spacing
        starts = {
            r.key: facility_start(event.event_id, r.key, event.start, event.end, spread, slot=slot)
            for r in claimed
        }
        later = [
            replace(
                r,
                state=ControlState.INTENT,
                due_at=starts[r.key],
                updated_at=now,
                detail=f"randomized start at {starts[r.key]:%H:%M:%S}",
            )
            if starts[r.key] < event.end
            else move.not_started(r, now, "its randomized start falls after the window").record
            for r in claimed
            if starts[r.key] > now
        ]
        await self._context.record(later)
        waiting = {r.key for r in later}
        return [r for r in claimed if r.key not in waiting], len(later)

    async def _fan_out(self, event_id: str, batches: Sequence[Batch]) -> None:
        """The start's PUTs, right after the intent is in the database.

        The records in memory stay ``planned`` objects until their answer
        moves them (turning thousands into ``intent`` first would delay the
        first PUT); meanwhile the event counts as started (``starting``).
        """
        memory = self._context.memory
        memory.starting.add(event_id)
        try:
            await self._sending.send(batches, self._sending.lookup(event_id, "apply"))
        finally:
            memory.starting.discard(event_id)
            mine = memory.open.of(event_id)
            unanswered = [r for r in mine if r.state is ControlState.PLANNED]
            clock = self._context.clock
            memory.open.remember(  # a crash or bug mid-flight: settled by reading, at once
                replace(r, state=ControlState.INTENT, due_at=clock.now()) for r in unanswered
            )

    async def stop(self, event: PlanEvent, now: datetime, reason: str) -> None:
        context = self._context
        memory = context.memory
        memory.stopped[event.event_id] = reason
        memory.shaping.setdefault(event.event_id, event.shaping)
        async with context.work_lock:
            memory.prepared.pop(event.event_id, None)
            mine = memory.open.of(event.event_id)
            steps = [
                move.not_started(r, now, reason) for r in mine if r.state is ControlState.PLANNED
            ]
            steps += self._restores.for_stop([r for r in mine if r.state in ENDING], now, reason)
            await context.record([s.record for s in steps])
            await self._verification.work(now)
        memory.log_event("hvac.stopped", event.event_id, reason=reason)

    async def prepare(self, event: PlanEvent, now: datetime) -> Prepared | None:
        """Read, decide and write the event's ``planned`` records; None: nothing to start."""
        context = self._context
        memory = context.memory
        signal = event.load_control()
        targets = targets_for(event, context.targets)
        if event.event_id in memory.stopped:
            return None
        if signal is None or not targets:
            why = "no LOAD_CONTROL signal" if signal is None else "no hvac.targets for its VENs"
            log.info("hvac.not_controlled", event_id=event.event_id, why=why)
            return None
        if memory.held(event.event_id):
            await self._follow(event, signal, now)  # pre-conditioning, the event changed
            return None  # control has started: the records say what to do
        memory.signals[event.event_id] = signal
        memory.shaping[event.event_id] = event.shaping
        memory.starts[event.event_id] = event.start
        reads = gateway_reads(targets)
        states, unread = await read_gateways(context.becon, reads, context.slots)
        records = self._plan(event, signal, targets, states, now)
        store = context.store
        await context.gateway.batch(store.together, store.replace_planned, event.event_id, records)
        await context.keep_reads([(event.event_id, r.key) for r in records], states, now)
        memory.open.forget_event(event.event_id)
        memory.open.remember(records)
        planned = [r for r in records if r.state is ControlState.PLANNED]
        if self._preconditions(event, now):
            await self._precondition(event, signal, states, now)
            planned = []  # claimed: each waits for the window in its record
        prepared = Prepared(
            event.fingerprint(),
            tuple(apply_batches(planned)),
            sum(1 for r in records if r.state is ControlState.SKIPPED),
            tuple(unread),
        )
        memory.prepared[event.event_id] = prepared
        memory.log_event(
            "hvac.prepared", event.event_id, skipped=prepared.skipped, unread=len(unread)
        )
        return prepared

    async def _follow(self, event: PlanEvent, signal: Signal, now: datetime) -> None:
        """An event changed while it held its facilities (pre-conditioning, then re-submitted
        while pending): they follow its new window.

        Each held record takes the new end and is looked at now: a
        pre-conditioned unit stays so until the new start (then its DR
        setpoint, decided from its original), one waiting for the start waits
        for the new one; a restore then follows the new end.
        """
        context = self._context
        memory = context.memory
        memory.signals[event.event_id] = signal
        memory.shaping[event.event_id] = event.shaping
        moved = memory.starts.get(event.event_id) != event.start
        memory.starts[event.event_id] = event.start
        mine = [r for r in memory.open.of(event.event_id) if r.state is not ControlState.PLANNED]
        if not moved and all(r.window_end == event.end for r in mine):
            return
        memory.prepared.pop(event.event_id, None)
        followed = [replace(r, window_end=event.end, due_at=now, updated_at=now) for r in mine]
        planned = [r for r in memory.open.of(event.event_id) if r.state is ControlState.PLANNED]
        followed += [replace(r, window_end=event.end, due_at=event.end) for r in planned]
        await context.record(followed)
        memory.log_event("hvac.window_moved", event.event_id, start=event.start.isoformat())

    def _preconditions(self, event: PlanEvent, now: datetime) -> bool:
        """``pre_condition`` asked for, and ``now`` in ``[start − duration, start)``.

        The engine prepares such an event at ``start − duration`` (and asks
        the outside gate first); the controller asks it again (a second line
        of defence, as ``start`` does): never for an event stopped here.
        """
        shaping = event.shaping
        pre = shaping.pre_condition if shaping is not None else None
        if pre is None or not event.start - pre.duration <= now < event.start:
            return False
        verdict = may_touch_outside(
            OutsideCall.PRE_CONDITION,
            now=now,
            stored_end=event.end,
            running_end=None,
            cancel_requested=event.event_id in self._context.memory.stopped,
        )
        return verdict.allowed

    async def _precondition(
        self,
        event: PlanEvent,
        signal: Signal,
        states: dict[FacilityKey, FacilityState],
        now: datetime,
    ) -> None:
        """Pre-conditioning (issue 15): the event holds its facilities from now.

        The store's ``claim`` makes every planned record an ``intent`` (the
        one-holder rule, from the pre-conditioning start); each facility's
        pre-conditioning setpoint (:func:`~scheduler.domain.shaping.precondition_setpoint`)
        is then written into its record before the PUT leaves (intent before
        effect). A facility with no pre-conditioning step waits as an intent
        due at its own start, like a randomized start; the periodic work moves
        every one to its DR setpoint there (:func:`~.transitions.leave_precondition`).
        """
        context = self._context
        pre = event.shaping.pre_condition if event.shaping is not None else None
        assert pre is not None  # _preconditions said so
        claimed = await self._claim(event.event_id, now)
        spread = context.memory.randomize(event.event_id)
        slot = context.settings.restore_spacing
        steps: list[move.Step] = []
        waiting: list[ControlRecord] = []
        for record in claimed:
            decision = pre_condition_of(signal, states[record.key], record, pre, context.settings)
            if isinstance(decision, Change):
                steps.append(move.precondition(record, decision.target, now))
                continue
            begin = facility_start(
                event.event_id, record.key, event.start, event.end, spread, slot=slot
            )
            waiting.append(
                replace(
                    record,
                    state=ControlState.INTENT,
                    due_at=begin,
                    updated_at=now,
                    detail=f"{decision.reason}; starts at {begin:%H:%M:%S}",
                )
            )
        await context.record([s.record for s in steps] + waiting)
        await self._sending.execute(steps)
        memory = context.memory
        memory.log_event("hvac.pre_conditioning", event.event_id, puts=len(steps))

    def _plan(
        self,
        event: PlanEvent,
        signal: Signal,
        targets: Sequence[TargetSpec],
        states: dict[FacilityKey, FacilityState],
        now: datetime,
    ) -> list[ControlRecord]:
        return plan_records(
            event.event_id,
            signal,
            ((key, states[key]) for key in mapped(states, targets)),
            held_by=self._context.memory.holders(exclude=event.event_id),
            auto_mode=self._context.settings.auto_mode,
            now=now,
            window_end=event.end,
        )

    async def _claim(self, event_id: str, now: datetime) -> list[ControlRecord]:
        """The event's planned records become ``intent``: the store decides (``claim``).

        The store is the one owner of "a facility is held by at most one
        event": facilities another event holds are skipped there, in the
        same transaction. Returns the claimed records (still ``planned`` in
        memory: see :meth:`_fan_out`).
        """
        context = self._context
        records = context.memory.open
        mine = [r for r in records.of(event_id) if r.state is ControlState.PLANNED]
        if not mine:
            return []
        store = context.store
        taken = await context.gateway.batch(store.together, store.claim, event_id, now)
        if taken:
            records.remember(
                replace(
                    r,
                    state=ControlState.SKIPPED,
                    due_at=None,
                    updated_at=now,
                    reason=f"under control of event {taken[r.key]}",
                )
                for r in mine
                if r.key in taken
            )
        return [r for r in mine if r.key not in taken]

    async def _start_late(self, event: PlanEvent, unread: Sequence[GatewayRead]) -> None:
        """Gateways that could not be read at prepare: read, record the intent, send."""
        context = self._context
        memory = context.memory
        signal = memory.signals.get(event.event_id) or event.load_control()
        if signal is None:
            return
        now = context.clock.now()
        targets = targets_for(event, context.targets)
        states, still = await read_gateways(context.becon, unread, context.slots)
        for gateway in still:
            log.error(
                "hvac.gateway_unread",
                event_id=event.event_id,
                site=gateway.site,
                gateway=gateway.gateway,
                outcome="its facilities are not controlled in this window",
            )
        records = self._plan(event, signal, targets, states, now)
        await context.gateway.call(context.store.insert, records)
        memory.open.remember(records)
        steps = [move.begin_apply(r, now) for r in await self._claim(event.event_id, now)]
        memory.open.remember(s.record for s in steps)  # the claim wrote them as intents
        await self._sending.execute(steps)
