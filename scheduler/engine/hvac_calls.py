"""The engine's calls to HVAC control at its points, and what it remembers of them.

The runner's actions and the DR effects (a status the DR service reports)
both call HVAC control through :class:`HvacCalls`; it records in the
engine's memory how far control went, so ``decide`` knows what is due.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from scheduler.clock import Clock
from scheduler.domain.events import PlanEvent
from scheduler.domain.intents import EventView
from scheduler.domain.outside import OutsideCall
from scheduler.engine.hvac import HvacControl
from scheduler.engine.memory import EventMemory
from scheduler.engine.model import ContentKey, HvacPhase, Tracking
from scheduler.engine.ports import EngineStore
from scheduler.store_gateway import StoreGateway

log = structlog.get_logger("scheduler.engine")


class HvacCalls:
    def __init__(
        self,
        hvac: HvacControl,
        store: EngineStore,
        gateway: StoreGateway,
        clock: Clock,
        memory: EventMemory,
        retry_delay: timedelta,
    ) -> None:
        self._hvac = hvac
        self._store = store
        self._gateway = gateway
        self._clock = clock
        self._memory = memory
        self._retry_delay = retry_delay

    async def call(self, view: EventView, phase: HvacPhase, reason: str = "") -> None:
        """Call HVAC control at one of its points; its failure is logged, never fatal here.

        ``started`` is recorded only once the start succeeded: a failed start
        is tried again after ``retry_delay`` while the window lasts (issue 10
        bug 7; see ``decide``). The other phases are recorded first: the
        controller prepares again at the start, and ends windows on its own.
        """
        event_id = view.event_id
        if phase == HvacPhase.STOPPED and self._memory.get(event_id, Tracking()).hvac == phase:
            return
        now = self._clock.now()
        if phase == HvacPhase.STARTED:
            verdict = view.may(OutsideCall.START_CONTROL, now)
            if not verdict.allowed:
                log.warning("hvac.start_refused", event_id=event_id, reason=verdict.reason)
                return
        if phase == HvacPhase.PREPARED and view.pre_condition is not None:
            verdict = view.may(OutsideCall.PRE_CONDITION, now)
            if not verdict.allowed:  # a canceled event, or a window over: never pre-condition
                log.info("hvac.pre_condition_refused", event_id=event_id, reason=verdict.reason)
                self._memory.track(event_id, hvac=phase)
                return
        try:
            event = await self._running_event(view)
        except Exception:  # the engine retries the action; a start after its own pause
            self._start_failed(event_id, phase)
            raise
        hvac = self._hvac
        calls = {
            HvacPhase.PREPARED: lambda: hvac.prepare(event, now),
            HvacPhase.STARTED: lambda: hvac.start(event, now),
            HvacPhase.STOPPED: lambda: hvac.stop(event, now, reason),
        }
        if phase != HvacPhase.STARTED:
            self._memory.track(event_id, hvac=phase)
        bound = log.bind(event_id=event_id, request_id=view.request_id, phase=phase.value)
        bound.info("hvac.call", reason=reason)
        try:
            await calls[phase]()
        except Exception:  # HVAC trouble must not stop DR tracking; HVAC retries on its own
            bound.exception("hvac.call_failed")
            self._start_failed(event_id, phase)
            return
        if phase == HvacPhase.STARTED:
            self._memory.track(event_id, hvac=phase, hvac_retry_at=None)

    async def _running_event(self, view: EventView) -> PlanEvent:
        """The content the DR service runs, read once per revision and submission.

        It changes only with the event's revision or its submission, both in
        the view (:func:`content_key`), so an event's prepare, start and stop
        share one read. At a system-wide start the read of 200 events' rows with
        their signals and targets again at ``active`` took ~0.4 s of the daemon's
        one Python core and put a round of the store before each event's first
        PUT (issue 14).
        """
        key = content_key(view)
        known = self._memory.get(view.event_id, Tracking()).content
        if known is not None and known[0] == key:
            return known[1]
        store = self._store
        event = await self._gateway.batch(store.together, store.running_event, view.event_id)
        self._memory.track(view.event_id, content=(key, event))
        return event

    def _start_failed(self, event_id: str, phase: HvacPhase) -> None:
        if phase == HvacPhase.STARTED:
            self._memory.track(event_id, hvac_retry_at=self._clock.now() + self._retry_delay)


def content_key(view: EventView) -> ContentKey:
    """What the running content depends on: a new revision or submission changes it."""
    return (view.revision, view.submitted_revision, view.request_id)
