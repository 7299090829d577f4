"""The engine: read the database, ask the decision core what is due, carry it out.

One :meth:`Engine.tick` reads a snapshot of the events near in time, calls
:func:`scheduler.engine.decide.decide`, and runs the actions: one event's
actions in order, different events concurrently, DR calls bounded by
``dr_api.max_concurrency``. Database calls cross into the event loop in one
place, the :class:`~scheduler.store_gateway.StoreGateway` it shares with HVAC
control, one at a time, so SQLite sees a single writer.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from scheduler import metrics
from scheduler.clock import Clock
from scheduler.domain.intents import EventView
from scheduler.domain.lifecycle import Source, Status, transition
from scheduler.engine import actions as act
from scheduler.engine import ahead
from scheduler.engine.ahead import Burst, next_burst
from scheduler.engine.call_slots import CallSlots
from scheduler.engine.decide import Decision, Policy, decide
from scheduler.engine.dr import DrEffects
from scheduler.engine.hvac import HvacControl, NoHvac
from scheduler.engine.hvac_calls import HvacCalls
from scheduler.engine.memory import EventMemory
from scheduler.engine.model import HvacPhase
from scheduler.engine.ports import DrApi, EngineStore, VendorPools
from scheduler.store_gateway import StoreGateway

log = structlog.get_logger("scheduler.engine")

_CONTROLLING = (HvacPhase.PREPARED, HvacPhase.STARTED)


class Engine:
    """Carries out the decisions; holds the clock, the adapters and its memory of events."""

    def __init__(
        self,
        store: EngineStore,
        api: DrApi,
        clock: Clock,
        policy: Policy,
        *,
        hvac: HvacControl | None = None,
        gateway: StoreGateway | None = None,
        max_concurrency: int = 10,
        pools: VendorPools | None = None,
    ) -> None:
        self.store = store
        #: The bridge to the blocking store, shared with HVAC control (built by the wiring).
        self.gateway = gateway or StoreGateway()
        self.clock = clock
        self.policy = policy
        self.hvac: HvacControl = hvac or NoHvac()
        self.memory = EventMemory()
        #: When the last decision expected each event's next action (lateness metric).
        self._due_times: dict[str, datetime] = {}
        self._failures = 0
        self._views: dict[str, EventView] = {}
        #: After a failed HVAC tick, HVAC work is not due again before this instant.
        self._hvac_pause: datetime | None = None
        self._hvac_calls = HvacCalls(
            self.hvac, store, self.gateway, clock, self.memory, policy.retry_delay
        )
        slots = CallSlots(max_concurrency)
        self._dr = DrEffects(store, self.gateway, clock, self.memory, self._hvac_calls, api, slots)
        #: The vendor pools to open ahead of a burst (:mod:`.ahead`); None: never.
        self._pools = pools
        #: The burst they were last opened for.
        self._opened_for: datetime | None = None

    async def start_up(self) -> None:
        """Before anything new: HVAC reconcile, then every unfinished intent (GET).

        An event active at start-up is not taken for started: the first tick
        calls HVAC start for it, and the controller, which knows from its
        records what it holds, starts whatever is still planned (issue 10 bug 1).
        """
        await self.hvac.reconcile(self.clock.now())
        intents = await self.gateway.call(self.store.open_intents)
        log.info("engine.reconcile", open_intents=len(intents))
        views = {v.event_id: v for v in await self._snapshot(self.clock.now())}
        await self._gather(self._dr.reconcile(i, views.get(i.event_id)) for i in intents)

    async def tick(self) -> Decision:
        """Do what is due now; return the decision, whose ``next_wake`` says when to come back."""
        now = self.clock.now()
        views = await self._snapshot(now)
        burst = next_burst(views, now, self.policy.submit_lead) if self._pools else None
        hvac_due = await self._hvac_due(now)
        poll_ahead = self._dr.round_trips.one_way()
        decision = decide(
            views, self.memory, now, self.policy, hvac_due=hvac_due, poll_ahead=poll_ahead
        )
        by_event: dict[str, list[act.Action]] = defaultdict(list)
        for action in decision.actions:
            by_event[action.event_id].append(action)
        self._observe_lateness(by_event, now)
        self._due_times = dict(decision.due_times)
        index = {v.event_id: v for v in views}
        self._failures = 0
        opening = self._opening(burst, now)  # beside the actions, not before them
        await self._gather(
            [*(self._run_event(index[e], todo) for e, todo in by_event.items()), *opening]
        )
        await self._forget_all_but(index)
        if decision.hvac_tick:
            await self._hvac_tick()
        later = await self._hvac_due(now)  # what the actions and the tick changed
        if later is not None and later < decision.next_wake:
            decision = replace(decision, next_wake=max(later, now))
        if burst is not None and now < burst.at - ahead.LEAD < decision.next_wake:
            decision = replace(decision, next_wake=burst.at - ahead.LEAD)  # to open the pools
        if self._failures:  # come back after a pause, not in a tight loop
            retry = now + self.policy.retry_delay
            return replace(decision, next_wake=min(decision.next_wake, retry))
        if decision.actions:  # what they changed may make more due at once (submit -> poll)
            return replace(decision, next_wake=now)
        return decision

    def _opening(self, burst: Burst | None, now: datetime) -> list[Coroutine[Any, Any, None]]:
        """The pools' opening, once per burst, when it is :data:`.ahead.LEAD` away or less.

        Within half the lead: a vendor that does not answer delays nothing due at
        the burst (the tick waits for it, beside its actions).
        """
        if self._pools is None or burst is None or burst.at - ahead.LEAD > now:
            return []
        if self._opened_for == burst.at:
            return []
        self._opened_for = burst.at
        return [self._open_pools(self._pools, burst.window)]

    async def _open_pools(self, pools: VendorPools, window: bool) -> None:
        try:
            await pools.open_ahead(window=window, within=ahead.LEAD.total_seconds() / 2)
        except Exception:  # best effort: the calls make their own connections
            log.warning("engine.open_ahead_failed", exc_info=True)

    def _observe_lateness(self, due_now: Iterable[str], now: datetime) -> None:
        """``drsched_scheduler_lateness_seconds``: how late each awaited action ran."""
        for event_id in due_now:
            due = self._due_times.get(event_id)
            if due is not None:
                metrics.observe_lateness(due, now)

    async def _snapshot(self, now: datetime) -> Sequence[EventView]:
        bound = now + self.policy.horizon + self.policy.submit_lead
        return await self.gateway.call(self.store.snapshot, bound)

    async def _gather(self, coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
        async with asyncio.TaskGroup() as group:
            for coroutine in coroutines:
                group.create_task(coroutine)

    async def _run_event(self, view: EventView, todo: list[act.Action]) -> None:
        """One event's actions in order; a failure is logged and retried at a later tick."""
        for action in todo:
            try:
                await self._run(view, action)
            except Exception:  # one event's bug must not stop the others; logged with its id
                log.exception(
                    "engine.action_failed",
                    event_id=view.event_id,
                    request_id=view.request_id,
                    action=type(action).__name__,
                )
                self.memory.track(view.event_id, last_contact=self.clock.now())
                self._failures += 1
                return

    async def _run(self, view: EventView, action: act.Action) -> None:
        match action:
            case act.HvacPrepare():
                await self._hvac_calls.call(view, HvacPhase.PREPARED)
            case act.HvacStart():
                await self._hvac_calls.call(view, HvacPhase.STARTED)
            case act.HvacStop(reason=reason):
                await self._hvac_calls.call(view, HvacPhase.STOPPED, reason)
            case act.MarkMissed(detail=detail):
                await self._record_local(view, Status.FAILED, Source.CLOCK, detail)
            case act.CancelPlanned():
                await self._record_local(
                    view, Status.CANCELED, Source.ADMIN, "canceled before submission"
                )
            case act.CancelLocally(request_id=request_id):
                await self._cancel_locally(view, request_id)
            case _:
                await self._dr.run(view, action)

    async def _record_local(
        self, view: EventView, new: Status, source: Source, detail: str
    ) -> None:
        change = transition(
            view.event_id, view.status, new, at=self.clock.now(), source=source, detail=detail
        )
        store = self.store
        if change is not None and await self.gateway.batch(store.together, store.record, change):
            log.info(
                "event.transition",
                event_id=view.event_id,
                request_id=view.request_id,
                to=new.value,
                source=source.value,
                detail=detail,
            )

    async def _cancel_locally(self, view: EventView, request_id: str) -> None:
        """Stop HVAC first (idempotent), then record: a crash in between repeats the stop."""
        await self._hvac_calls.call(view, HvacPhase.STOPPED, "canceled locally")
        detail = (
            f"canceled locally from {view.status.value}: HVAC control stopped and setpoints "
            f"restored; the DR service will still run its part of request {request_id}"
        )
        await self._record_local(view, Status.CANCELED, Source.ADMIN, detail)

    async def _hvac_due(self, now: datetime) -> datetime | None:
        """When HVAC control next needs a tick; its failure means "ask again after a pause"."""
        try:
            due = await self.hvac.due(now)
        except Exception:  # HVAC trouble must not stop DR tracking
            log.exception("hvac.due_failed")
            return now + self.policy.retry_delay
        if due is not None and self._hvac_pause is not None and due < self._hvac_pause:
            return self._hvac_pause  # its failed work is still due: again after a pause
        return due

    async def _hvac_tick(self) -> None:
        """HVAC control's own work (verify, restore slots, retries); a failure is logged."""
        now = self.clock.now()
        try:
            await self.hvac.tick(now)
        except Exception:  # HVAC trouble must not stop DR tracking; it retries on its own
            log.exception("hvac.tick_failed")
            self._hvac_pause = now + self.policy.retry_delay
        else:
            self._hvac_pause = None

    async def _forget_all_but(self, index: dict[str, EventView]) -> None:
        """Keep memory bounded: drop events that left the snapshot (terminal or far away).

        One that left while under HVAC control (ended by another writer) is
        stopped first: no facility stays at a DR setpoint (DESIGN rule 2).
        """
        for event_id in [e for e in self.memory if e not in index]:
            previous = self._views.get(event_id)
            if previous is not None and self.memory[event_id].hvac in _CONTROLLING:
                await self._hvac_calls.call(
                    previous, HvacPhase.STOPPED, "event ended outside the daemon"
                )
            del self.memory[event_id]
        self._views = index
