"""The HVAC controller: the engine's ``HvacControl`` over BECON and the store.

- ``prepare`` (``hvac.prefetch_lead`` before the window): one gateway-wide
  state call per mapped gateway; every mapped facility's DR setpoint is
  decided and written as a ``planned`` record (or ``skipped``, with why),
  and the PUT batches are computed, so that the start costs only PUTs.
- ``start``: the store's ``claim`` turns the event's ``planned`` records into
  ``intent`` in one transaction (DESIGN rule 2: intent before effect), or
  ``skipped`` where another event holds the facility; then the precomputed
  batches leave, ``becon.max_concurrency`` at a time; each answer is written
  as it comes. A start after a restart starts only an event whose records
  show no start yet.
- ``tick`` (when ``due`` says): verify every ``hvac.verify_interval``,
  retry failed PUTs with backoff inside the window, end control at the
  window's end, and restore in the slots spread over ``hvac.restore_stagger``.
- ``stop`` (end, cancel, remote cancel): restores are scheduled at once.
- ``reconcile`` (start-up): whatever is still at a DR setpoint of an event
  that is over is restored at once; an event inside its window stays under
  control (an unsettled PUT is settled by reading the facility first, so no
  control is sent twice).

The records (:mod:`.records`) are the truth; the controller keeps the open
ones in memory as well, and writes every change to the store first, then to
memory: a failed write leaves memory as it was, so the work is still due
(issue 10). A facility becomes held only through the store's ``claim``,
which gives it to at most one event. The engine calls one event's points in
order, so ``prepare`` and ``start`` own their event's ``planned`` records;
``tick``, ``stop`` and ``reconcile`` share a lock.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from scheduler import metrics
from scheduler.clock import Clock
from scheduler.domain.events import PlanEvent, Signal
from scheduler.domain.hvac import Batch, FacilityKey, FacilityState, plan_control_batches
from scheduler.domain.hvac_reads import ReadPhase, reads_of
from scheduler.domain.outside import OutsideCall, may_touch_outside
from scheduler.domain.shaping import Ramp, Shaping, facility_start
from scheduler.domain.targets import TargetSpec
from scheduler.errors import DrschedError, StoreError
from scheduler.hvac import transitions as move
from scheduler.hvac.fanout import CoalescingWriter, Sent, send_all
from scheduler.hvac.mapping import GatewayRead, gateway_reads, mapped, targets_for
from scheduler.hvac.memory import OpenRecords
from scheduler.hvac.planning import (
    Settings,
    apply_batches,
    one_holder_each,
    overdue_slots,
    plan_records,
    restore_slots,
)
from scheduler.hvac.ports import BeconPort, ControlStorePort, ReadSink
from scheduler.hvac.reading import read_gateways, read_records
from scheduler.hvac.records import ControlRecord, ControlState
from scheduler.store_gateway import StoreGateway

log = structlog.get_logger("scheduler.hvac")

Lookup = Callable[[FacilityKey], tuple[ControlRecord, str] | None]

_AFTER = {"apply": move.after_apply, "reassert": move.after_reassert, "restore": move.after_restore}
#: A ramp step whose event's ramp is no longer known (cannot happen: the step needs it)
#: is answered like a restore attempt.
_AFTER["ramp"] = move.after_restore
_ENDING = (ControlState.INTENT, ControlState.APPLIED, ControlState.RETRYING)
#: Due in these states, a record's facility is read and its DR setpoint decided again.
_RETRIED = (ControlState.INTENT, ControlState.RETRYING)


@dataclass(frozen=True)
class _Prepared:
    fingerprint: str
    batches: tuple[Batch, ...]
    skipped: int
    unread: tuple[GatewayRead, ...]


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
        self._becon = becon
        #: The bridge to the blocking store, shared with the engine (built by the wiring).
        self._gateway = gateway or StoreGateway()
        self._reads = reads
        self._store = store
        self._targets = list(targets)
        self._settings = settings
        self._clock = clock
        self._open = OpenRecords()
        self._signals: dict[str, Signal] = {}
        #: Each event's own load shaping (issue 15), None where it asks for none.
        self._shaping: dict[str, Shaping | None] = {}
        self._prepared: dict[str, _Prepared] = {}
        #: Events stopped in this process: a late prepare or start for them does nothing.
        #: (A failed write in ``stop`` is made good by the next tick: see :meth:`_end_windows`.)
        self._stopped: dict[str, str] = {}
        #: Events whose start's PUTs are in flight (see :meth:`_fan_out`).
        self._starting: set[str] = set()
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._work_lock = asyncio.Lock()
        #: While :meth:`release` runs: every record written, by ident (final ones included).
        self._written: dict[tuple[str, FacilityKey], ControlRecord] | None = None

    # -- the engine's points -------------------------------------------------

    async def prepare(self, event: PlanEvent, now: datetime) -> None:
        await self._prepare(event, now)

    async def start(self, event: PlanEvent, now: datetime) -> None:
        if event.event_id in self._stopped:
            return
        verdict = may_touch_outside(  # the engine asked too; no caller may start after the end
            OutsideCall.START_CONTROL,
            now=now,
            stored_end=event.end,
            running_end=None,
            cancel_requested=False,
        )
        if not verdict.allowed:
            self._log_event("hvac.start_refused", event.event_id, reason=verdict.reason)
            return
        prepared = self._prepared.get(event.event_id)
        if prepared is None or prepared.fingerprint != event.fingerprint():
            if self._held(event.event_id):
                return  # already started (a repeated call): nothing new to send
            if prepared is None and await self._gateway.call(self._store.started, event.event_id):
                return  # started before a restart: its records say what is left to do
            prepared = await self._prepare(event, now)
            if prepared is None:
                return
        self._prepared.pop(event.event_id, None)
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
        self._log_event("hvac.started", event.event_id, puts=len(batches))

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
        spread = self._randomize(event.event_id)
        if not claimed or spread <= timedelta(0):
            return claimed, 0
        slot = self._settings.restore_spacing
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
        await self._record(later)
        waiting = {r.key for r in later}
        return [r for r in claimed if r.key not in waiting], len(later)

    def _ramp(self, event_id: str) -> Ramp | None:
        """The event's ``restore.ramp`` (loaded at prepare, stop or reconcile), else hvac's."""
        shaping = self._shaping.get(event_id)
        if shaping is not None and shaping.ramp is not None:
            return shaping.ramp
        return self._settings.ramp

    def _randomize(self, event_id: str) -> timedelta:
        shaping = self._shaping.get(event_id)
        if shaping is not None and shaping.randomize_start is not None:
            return shaping.randomize_start
        return self._settings.randomize_start

    async def _fan_out(self, event_id: str, batches: Sequence[Batch]) -> None:
        """The start's PUTs, right after the intent is in the database.

        The records in memory stay ``planned`` objects until their answer
        moves them (turning thousands into ``intent`` first would delay the
        first PUT); meanwhile the event counts as started (``_starting``).
        """
        self._starting.add(event_id)
        try:
            await self._send(batches, self._lookup(event_id, "apply"))
        finally:
            self._starting.discard(event_id)
            unanswered = [r for r in self._open.of(event_id) if r.state is ControlState.PLANNED]
            self._remember(  # a crash or bug mid-flight: settled by reading, at once
                replace(r, state=ControlState.INTENT, due_at=self._clock.now()) for r in unanswered
            )

    async def stop(self, event: PlanEvent, now: datetime, reason: str) -> None:
        self._stopped[event.event_id] = reason
        self._shaping.setdefault(event.event_id, event.shaping)
        async with self._work_lock:
            self._prepared.pop(event.event_id, None)
            mine = self._open.of(event.event_id)
            steps = [
                move.not_started(r, now, reason) for r in mine if r.state is ControlState.PLANNED
            ]
            steps += self._restores([r for r in mine if r.state in _ENDING], now, reason)
            await self._record([s.record for s in steps])
            await self._work(now)
        self._log_event("hvac.stopped", event.event_id, reason=reason)

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
        async with self._work_lock:
            held = sorted(
                (r for r in self._open if r.state in (*_ENDING, ControlState.RESTORING)),
                key=lambda r: r.ident,
            )
            if not held:
                return "no facility under control"
            observed = await read_records(self._becon, held, self._slots)
            held = [r for r in held if not _waiting(r, observed.get(r.key))]
            if not held:
                return "no facility at a DR setpoint"
            why = "daemon stopping (hvac.on_stop: restore)"
            settings = self._settings
            steps = [
                move.restore(
                    replace(r, detail=_note(r.detail, why)), observed.get(r.key), now, settings
                )
                for r in held
            ]
            self._written = {}
            try:
                await self._record([step.record for step in steps])
                await self._execute_sends(steps)
                return await self._resumable(held, now, self._written)
            finally:
                self._written = None

    async def _resumable(
        self,
        held: Sequence[ControlRecord],
        now: datetime,
        written: dict[tuple[str, FacilityKey], ControlRecord],
    ) -> str:
        """After the stop's restores: those inside their window become intents, due at once."""
        outcome: dict[str, int] = defaultdict(int)
        resume: list[ControlRecord] = []
        for before in held:
            after = written.get(before.ident, before)
            outcome[after.state.value] += 1
            live = before.state in _ENDING and before.event_id not in self._stopped
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
        await self._gateway.call(
            self._store.save, resume
        )  # closed records leave memory: the store only
        summary = ", ".join(f"{n} {state}" for state, n in sorted(outcome.items()))
        log.info("hvac.released", facilities=len(held), outcome=dict(outcome), resume=len(resume))
        return f"{len(held)} facilities under control: {summary}; {len(resume)} resume at restart"

    async def due(self, now: datetime) -> datetime | None:
        return min((r.due_at for r in self._open if r.due_at is not None), default=None)

    async def tick(self, now: datetime) -> None:
        async with self._work_lock:
            await self._work(now)

    async def reconcile(self, now: datetime) -> None:
        async with self._work_lock:
            records = await self._one_holder_each(
                await self._gateway.call(self._store.open_records), now
            )
            self._open.clear()
            self._open.remember(records)
            events = sorted({r.event_id for r in records})
            statuses = await self._gateway.call(self._store.event_statuses, events)
            steps: list[move.Step] = []
            for event_id in events:
                mine = [r for r in records if r.event_id == event_id]
                status = statuses.get(event_id)
                stagger = await self._stagger(event_id)  # loaded for the end of its window too
                if status is None or status.is_terminal or now >= mine[0].window_end:
                    steps += self._reconcile_over(mine, now, stagger)
                else:
                    steps += [move.Step(replace(r, due_at=now)) for r in _unscheduled(mine)]
            await self._record([s.record for s in steps])
            log.info("hvac.reconciled", open=len(records), events=len(events))
            await self._work(now)
        for event in await self._gateway.call(self._store.unstarted_events, now):
            await self.start(event, now)  # it became active, then the daemon stopped

    # -- prepare and start -----------------------------------------------------

    async def _prepare(self, event: PlanEvent, now: datetime) -> _Prepared | None:
        signal = event.load_control()
        targets = targets_for(event, self._targets)
        if event.event_id in self._stopped:
            return None
        if signal is None or not targets:
            why = "no LOAD_CONTROL signal" if signal is None else "no hvac.targets for its VENs"
            log.info("hvac.not_controlled", event_id=event.event_id, why=why)
            return None
        if self._held(event.event_id):
            return None  # control has started: the records say what to do
        self._signals[event.event_id] = signal
        self._shaping[event.event_id] = event.shaping
        reads = gateway_reads(targets)
        states, unread = await read_gateways(self._becon, reads, self._slots)
        records = self._plan(event, signal, targets, states, now)
        await self._gateway.call(self._store.replace_planned, event.event_id, records)
        await self._keep_reads([(event.event_id, r.key) for r in records], states, now)
        self._open.forget_event(event.event_id)
        self._remember(records)
        prepared = _Prepared(
            event.fingerprint(),
            tuple(apply_batches(r for r in records if r.state is ControlState.PLANNED)),
            sum(1 for r in records if r.state is ControlState.SKIPPED),
            tuple(unread),
        )
        self._prepared[event.event_id] = prepared
        self._log_event(
            "hvac.prepared", event.event_id, skipped=prepared.skipped, unread=len(unread)
        )
        return prepared

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
            held_by=self._holders(exclude=event.event_id),
            auto_mode=self._settings.auto_mode,
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
        mine = [r for r in self._open.of(event_id) if r.state is ControlState.PLANNED]
        if not mine:
            return []
        taken = await self._gateway.call(self._store.claim, event_id, now)
        if taken:
            self._remember(
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
        signal = self._signals.get(event.event_id) or event.load_control()
        if signal is None:
            return
        now = self._clock.now()
        targets = targets_for(event, self._targets)
        states, still = await read_gateways(self._becon, unread, self._slots)
        for gateway in still:
            log.error(
                "hvac.gateway_unread",
                event_id=event.event_id,
                site=gateway.site,
                gateway=gateway.gateway,
                outcome="its facilities are not controlled in this window",
            )
        records = self._plan(event, signal, targets, states, now)
        await self._gateway.call(self._store.insert, records)
        self._remember(records)
        steps = [move.begin_apply(r, now) for r in await self._claim(event.event_id, now)]
        self._remember(s.record for s in steps)  # the claim wrote them as intents
        await self._execute_sends(steps)

    # -- the periodic work -----------------------------------------------------

    async def _work(self, now: datetime) -> None:
        """End windows that are over, then verify, retry and restore what is due."""
        await self._record([s.record for s in self._end_windows(now)])
        due = sorted(
            (r for r in self._open if r.is_due(now) and r.event_id not in self._starting),
            key=lambda r: r.ident,
        )
        if not due:
            return
        for event_id in {r.event_id for r in due if r.state in _RETRIED}:
            await self._signal(event_id)
        observed = await read_records(self._becon, due, self._slots)
        await self._keep_reads([(r.event_id, r.key) for r in due], observed, now, ReadPhase.VERIFY)
        steps = [self._step(r, observed.get(r.key), now) for r in due]
        await self._record([s.record for s in steps])
        await self._execute_sends(steps)
        self._log_work(steps)

    def _end_windows(self, now: datetime) -> list[move.Step]:
        """Planned records whose window ended are skipped; live ones go to restore slots.

        An event stopped in this process counts as ended: if the write of its
        stop failed, its records are still live in memory, and end here.
        """
        over = [
            r
            for r in self._open
            if (r.window_end <= now or r.event_id in self._stopped)
            and r.event_id not in self._starting
        ]
        steps = [
            move.not_started(
                r, now, self._stopped.get(r.event_id, "the window ended before control started")
            )
            for r in over
            if r.state is ControlState.PLANNED
        ]
        ending = [r for r in over if r.state in _ENDING and r.due_at is not None]
        by_event: dict[str, list[ControlRecord]] = defaultdict(list)
        for record in ending:
            by_event[record.event_id].append(record)
        for event_id, records in by_event.items():
            why = self._stopped.get(event_id, "window ended")
            base = min(now, records[0].window_end)
            slots = restore_slots(records, base, self._settings, self._known_stagger(event_id))
            steps += [move.start_restore(r, slots[r.ident], now, why) for r in records]
        return steps

    def _step(
        self, record: ControlRecord, observed: FacilityState | None, now: datetime
    ) -> move.Step:
        settings = self._settings
        match record.state:
            case ControlState.INTENT | ControlState.RETRYING:
                signal = self._signals.get(record.event_id)
                if signal is None:  # the event no longer controls HVAC: make sure it is back
                    return move.restore(record, observed, now, settings)
                return move.retry(record, observed, signal, now, settings)
            case ControlState.APPLIED:
                return move.verify(record, observed, now, settings)
            case ControlState.RESTORING:
                return move.restore(record, observed, now, settings, self._ramp(record.event_id))
            case _:  # planned and final records are never due
                return move.Step(record)

    def _restores(
        self, records: Sequence[ControlRecord], now: datetime, why: str
    ) -> list[move.Step]:
        """Restore slots from now (a cancel) or from the window's end, whichever is first."""
        if not records:
            return []
        base = min(now, records[0].window_end)
        stagger = self._known_stagger(records[0].event_id)
        slots = restore_slots(records, base, self._settings, stagger)
        return [move.start_restore(r, slots[r.ident], now, why) for r in records]

    def _reconcile_over(
        self, records: Sequence[ControlRecord], now: datetime, stagger: timedelta | None
    ) -> list[move.Step]:
        """An event over at start-up: what is overdue is restored over the stagger from now.

        Not all at once (issue 15): a crash through the end would otherwise
        turn into one rebound step for every unit. Restores still ahead keep
        their slot.
        """
        why = "the event was over at start-up"
        steps = [move.not_started(r, now, why) for r in records if r.state is ControlState.PLANNED]
        live = [r for r in records if r.state in _ENDING or r.state is ControlState.RESTORING]
        slots = overdue_slots(live, now, self._settings, stagger)
        steps += [
            move.start_restore(r, slots[r.ident], now, f"{why}: restored over the stagger")
            for r in live
            if r.state in _ENDING
        ]
        steps += [
            move.Step(replace(r, due_at=slots[r.ident]))
            for r in live
            if r.state is ControlState.RESTORING and r.due_at != slots[r.ident]
        ]
        return steps

    # -- sending -------------------------------------------------------------

    async def _execute_sends(self, steps: Sequence[move.Step]) -> None:
        """PUT the steps' controls (their records are already written)."""
        pending = {s.send.key: (s.record, s.action) for s in steps if s.send is not None}
        if not pending:
            return
        controls = (s.send for s in steps if s.send is not None)
        try:
            await self._send(plan_control_batches(controls), pending.get)
        finally:
            self._settle_unanswered([record for record, _ in pending.values()])

    def _settle_unanswered(self, sent: Iterable[ControlRecord]) -> None:
        """A PUT whose answer was not written (a failed write): read its facility at once.

        In flight, a record has no due time; in the store it keeps none (which
        reconcile reads as "at once"), and memory says the same with a due
        time, so it is never left without one (issue 10 bug 5). Reading
        first settles it without sending anything twice.
        """
        now = self._clock.now()
        current = (self._open.get(r.event_id, r.key) for r in sent)
        self._remember(
            replace(r, due_at=now) for r in current if r is not None and r.due_at is None
        )

    def _lookup(self, event_id: str, action: str) -> Lookup:
        def find(key: FacilityKey) -> tuple[ControlRecord, str] | None:
            record = self._open.get(event_id, key)
            return None if record is None else (record, action)

        return find

    async def _send(self, batches: Sequence[Batch], lookup: Lookup) -> list[Sent]:
        """The PUTs in parallel; each answer moves its record, written as answers come."""
        writer: CoalescingWriter[ControlRecord] = CoalescingWriter(self._record)

        def on_answers(answers: Sequence[Sent]) -> None:
            moved = []
            for sent in answers:
                found = lookup(sent.key)
                if found is not None:
                    moved.append(self._outcome(*found, sent))
            writer.add(moved)  # memory follows once the store has them (:meth:`_record`)

        try:
            workers = self._settings.max_concurrency
            return await send_all(self._becon, batches, self._slots, on_answers, workers)
        finally:
            await writer.drain()

    def _outcome(self, record: ControlRecord, action: str, sent: Sent) -> ControlRecord:
        current = self._open.get(record.event_id, record.key) or record
        now = self._clock.now()
        ramp = self._ramp(record.event_id)
        if action == "ramp" and ramp is not None:
            after = move.after_ramp(current, sent.outcome, sent.reason, now, self._settings, ramp)
        else:
            after = _AFTER[action](current, sent.outcome, sent.reason, now, self._settings)
        metrics.record_control_action(action, "ok" if sent.outcome == move.SUCCESS else "failed")
        if after.record.state is ControlState.RESTORE_FAILED:  # an operator must look at it
            log.error(
                "hvac.restore_failed",
                event_id=record.event_id,
                facility=str(record.key),
                detail=after.record.detail,
            )
        return after.record

    # -- memory and store --------------------------------------------------------

    def _remember(self, records: Iterable[ControlRecord]) -> None:
        self._open.remember(records)

    async def _record(self, records: Sequence[ControlRecord]) -> None:
        """Write records to the store, then keep the open ones in memory.

        The database first (DESIGN rule 7): a failed write raises here and
        memory keeps the records as they were, still due when they were
        (a restore slot stays a restore slot).
        """
        if not records:
            return
        await self._gateway.call(self._store.save, list(records))
        if self._written is not None:
            self._written.update((r.ident, r) for r in records)
        self._remember(records)
        self._publish()

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
        await self._gateway.call(self._store.save, changed)
        latest = {r.ident: r for r in changed}
        merged = (latest.get(r.ident, r) for r in records)
        return [r for r in merged if r.state.is_open]

    async def _keep_reads(
        self,
        wanted: Sequence[tuple[str, FacilityKey]],
        states: Mapping[FacilityKey, FacilityState | None],
        now: datetime,
        phase: ReadPhase = ReadPhase.PREFETCH,
    ) -> None:
        """Store the reads as evidence; losing them must never stop control."""
        if self._reads is None or not wanted:
            return
        try:
            await self._gateway.call(self._reads.record_reads, reads_of(wanted, states, now, phase))
        except StoreError as error:
            log.warning("hvac.reads_not_stored", reads=len(wanted), error=str(error))

    def _publish(self) -> None:
        metrics.set_facilities_under_control(self._open.under_control)

    def _held(self, event_id: str) -> bool:
        return event_id in self._starting or self._open.held(event_id)

    def _holders(self, exclude: str | None = None) -> dict[FacilityKey, str]:
        """Which event holds each facility (an event starting holds its planned ones)."""
        holders = self._open.holders(exclude=exclude)
        for event_id in self._starting - {exclude}:
            holders.update((r.key, event_id) for r in self._open.of(event_id))
        return holders

    def _known_stagger(self, event_id: str) -> timedelta | None:
        shaping = self._shaping.get(event_id)
        return shaping.restore_stagger if shaping else None

    async def _stagger(self, event_id: str) -> timedelta | None:
        """The event's ``restore.stagger``; None: ``hvac.restore_stagger``."""
        if event_id not in self._shaping:
            try:
                event = await self._gateway.call(self._store.plan_event, event_id)
            except DrschedError:  # a record outliving its event row: the daemon's default
                return None
            self._shaping[event_id] = event.shaping
        return self._known_stagger(event_id)

    async def _signal(self, event_id: str) -> Signal | None:
        if event_id not in self._signals:
            signal = (await self._gateway.call(self._store.plan_event, event_id)).load_control()
            if signal is None:
                return None
            self._signals[event_id] = signal
        return self._signals[event_id]

    # -- logs --------------------------------------------------------------------

    def _log_event(self, name: str, event_id: str, **fields: object) -> None:
        states: dict[str, int] = defaultdict(int)
        for record in self._open.of(event_id):
            states[record.state.value] += 1
        log.info(name, event_id=event_id, open=dict(states), **fields)

    def _log_work(self, steps: Sequence[move.Step]) -> None:
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


def _waiting(record: ControlRecord, observed: FacilityState | None) -> bool:
    """An intent whose facility shows no DR setpoint (a randomized start still to come,
    a PUT that did not land): nothing to restore; it stays an intent for the next start."""
    if record.state is not ControlState.INTENT or observed is None:
        return False
    return not move.at_target(record, observed)


def _note(detail: str, note: str) -> str:
    return f"{detail}; {note}" if detail else note


def _unscheduled(records: Iterable[ControlRecord]) -> list[ControlRecord]:
    """Open records left without a due time by a crash mid-call: looked at at once."""
    return [r for r in records if r.due_at is None and r.state is not ControlState.PLANNED]
