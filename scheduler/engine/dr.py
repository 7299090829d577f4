"""The engine's DR actions: submit, reconcile, poll, delete, re-submit.

Every call that changes the DR service (POST, DELETE) is preceded by a
committed intent and followed by its committed outcome (DESIGN rule 2). A
retryable failure leaves the intent open: the next tick (or the next start)
reconciles it with a GET before anything else, so no request id is ever
POSTed twice.

:class:`DrEffects` sees only what it needs: the store port through the
store gateway, the clock, the DR API, the engine's memory of events
(:mod:`.memory`) and its calls to HVAC control (:mod:`.hvac_calls`).
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from scheduler.clock import Clock
from scheduler.domain.events import PlanEvent
from scheduler.domain.intents import EventView, Intent, IntentKind
from scheduler.domain.lifecycle import Source, Status, Transition, transition
from scheduler.domain.outside import OutsideCall, Verdict
from scheduler.domain.request_ids import request_id_for
from scheduler.engine import actions as act
from scheduler.engine.call_slots import CallSlots
from scheduler.engine.decide import MISSED_DETAIL
from scheduler.engine.hvac_calls import HvacCalls
from scheduler.engine.memory import EventMemory
from scheduler.engine.model import HvacPhase, Tracking
from scheduler.engine.ports import DrApi, EngineStore, RemoteRequest
from scheduler.engine.remote import HvacCall, on_remote_status
from scheduler.engine.round_trips import RoundTrips
from scheduler.errors import ApiError, NotFoundError, PermanentApiError, RetryableApiError
from scheduler.store_gateway import StoreGateway

log = structlog.get_logger("scheduler.engine.dr")

_HVAC_PHASE = {HvacCall.START: HvacPhase.STARTED, HvacCall.STOP: HvacPhase.STOPPED}


def api_detail(exc: ApiError) -> str:
    """The vendor's code and message and our x-message-id, for a transition's detail."""
    parts = [f"code {exc.code}" if exc.code else f"HTTP {exc.http_status}"]
    if exc.message:
        parts.append(repr(exc.message))
    if exc.message_id:
        parts.append(f"x-message-id {exc.message_id}")
    return ", ".join(parts)


class _Missing:
    """The GET answered 404."""


_MISSING = _Missing()


class DrEffects:
    def __init__(
        self,
        store: EngineStore,
        gateway: StoreGateway,
        clock: Clock,
        memory: EventMemory,
        hvac: HvacCalls,
        api: DrApi,
        slots: CallSlots,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._clock = clock
        self._memory = memory
        self._hvac = hvac
        self._api = api
        self._slots = slots
        #: The GETs' round trips: how early a start's poll leaves (:mod:`.round_trips`).
        self.round_trips = RoundTrips()

    async def run(self, view: EventView, action: act.Action) -> None:
        self._memory.track(view.event_id, last_contact=self._clock.now())
        match action:
            case act.Submit():
                await self._submit(view, action)
            case act.Reconcile(intent=intent):
                await self.reconcile(intent, view)
            case act.Poll(request_id=request_id):
                await self._poll(view, request_id)
            case act.Delete():
                self._memory.track(view.event_id, delete_tried=True)
                intent = Intent(
                    view.event_id, IntentKind.DELETE, action.request_id, action.revision
                )
                await self._begin(intent, None)
                await self._delete(intent, view)
            case act.Resubmit():
                await self._resubmit(view, action)

    # -- intents ---------------------------------------------------------------

    async def _begin(self, intent: Intent, change: Transition | None) -> PlanEvent | None:
        """Commit the intent; a submission's returns the content its POST sends."""
        store = self._store
        return await self._gateway.batch(
            store.together, store.begin_intent, intent, change, self._clock.now()
        )

    async def _end(self, intent: Intent, outcome: str, change: Transition | None) -> None:
        await self._slots.none_waiting()  # the calls still to leave go first (.call_slots)
        now = self._clock.now()
        store = self._store
        await self._gateway.batch(store.together, store.end_intent, intent, outcome, change, now)
        log.info(
            "dr.intent_done",
            event_id=intent.event_id,
            request_id=intent.request_id,
            kind=intent.kind.value,
            outcome=outcome,
            status=change.to_status.value if change else None,
        )

    async def _record(self, change: Transition) -> bool:
        """``EngineStore.record``, in one transaction with the others of the moment."""
        store = self._store
        return await self._gateway.batch(store.together, store.record, change)

    def _change(
        self, view: EventView, new: Status, source: Source, detail: str
    ) -> Transition | None:
        now = self._clock.now()
        return transition(view.event_id, view.status, new, at=now, source=source, detail=detail)

    # -- submit ----------------------------------------------------------------

    async def _submit(self, view: EventView, action: act.Submit) -> None:
        intent = Intent(view.event_id, IntentKind.CREATE, action.request_id, action.revision)
        detail = f"submitting as request {action.request_id}"
        change = self._change(view, Status.SUBMITTING, Source.CLOCK, detail)
        # The content the POST sends comes back with the intent, in the same batch:
        # 200 submissions due at once wait for one round of the store (issue 14).
        event = await self._begin(intent, change)
        await self._create(intent, replace_status(view, Status.SUBMITTING), event)

    async def _create(
        self, intent: Intent, view: EventView, event: PlanEvent | None = None
    ) -> None:
        """POST (if still allowed); record the outcome, or leave the intent open if unknown.

        What goes out is the content recorded with the intent (``event``, as
        ``begin_intent`` returned it; else ``running_event``): a plan change in
        between is a later revision, re-submitted in turn.
        """
        verdict = view.may(OutsideCall.POST, self._clock.now())
        if not verdict.allowed:
            await self._not_sent(intent, view, verdict)
            return
        if event is None:
            store = self._store
            event = await self._gateway.batch(store.together, store.running_event, intent.event_id)
        ids = {"event_id": intent.event_id, "request_id": intent.request_id}  # see ``_get``
        try:
            async with self._slots.slot():
                await self._api.create(event, intent.request_id)
        except RetryableApiError as exc:
            log.warning("dr.submit_unknown", **ids, error=str(exc), message_id=exc.message_id)
            return
        except PermanentApiError as exc:
            log.error("dr.rejected", **ids, error=str(exc), message_id=exc.message_id)
            detail = f"rejected by the DR service: {api_detail(exc)}"
            await self._end(
                intent, "rejected", self._change(view, Status.FAILED, Source.API, detail)
            )
            return
        detail = f"accepted as request {intent.request_id}"
        await self._end(intent, "created", self._change(view, Status.PENDING, Source.API, detail))
        self._memory.track(intent.event_id, last_contact=None)  # poll at once: it may be active

    # -- reconcile -------------------------------------------------------------

    async def reconcile(self, intent: Intent, view: EventView | None) -> None:
        """Finish an intent whose outcome is unknown, asking the DR service first."""
        if view is None or view.status.is_terminal:
            await self._end(intent, "abandoned", None)
            return
        if intent.kind == IntentKind.DELETE:
            await self._delete(intent, view)
            return
        remote = await self._get(intent.request_id, view)
        if remote is None:
            return
        if isinstance(remote, _Missing):
            await self._create_missing(intent, view)
            return
        await self._found(intent, view, remote)

    async def _found(self, intent: Intent, view: EventView, remote: RemoteRequest) -> None:
        status = remote.status or Status.PENDING
        now = self._clock.now()
        outcome = on_remote_status(
            view.event_id,
            view.status,
            status,
            at=now,
            detail=f"request {intent.request_id} found at the DR service",
            may_start=view.may(OutsideCall.START_CONTROL, now),
        )
        await self._end(intent, "created", outcome.transition)
        await self._after(view, outcome.hvac, outcome.hvac_reason)

    async def _create_missing(self, intent: Intent, view: EventView) -> None:
        """The POST never reached the DR service: send it now, if still allowed (``_create``)."""
        verdict = view.may(OutsideCall.POST, self._clock.now())
        if not verdict.allowed:
            await self._not_sent(intent, view, verdict)
            return
        if view.revision != intent.revision:
            await self._end(intent, "not sent", None)
            intent = Intent(intent.event_id, IntentKind.CREATE, intent.request_id, view.revision)
            await self._create(intent, view, await self._begin(intent, None))
            return
        await self._create(intent, view)

    async def _not_sent(self, intent: Intent, view: EventView, verdict: Verdict) -> None:
        """A POST refused by :func:`may_touch_outside`: the event ends without the request."""
        log.info(
            "dr.post_refused",
            event_id=view.event_id,
            request_id=intent.request_id,
            reason=verdict.reason,
        )
        if view.cancel_requested:
            detail = (
                f"canceled: request {intent.request_id} never reached the DR service, "
                "and was not sent"
            )
            change = self._change(view, Status.CANCELED, Source.ADMIN, detail)
        else:
            change = self._change(view, Status.FAILED, Source.CLOCK, MISSED_DETAIL)
        await self._end(intent, "not sent", change)

    # -- poll ------------------------------------------------------------------

    async def _get(self, request_id: str, view: EventView) -> RemoteRequest | _Missing | None:
        """GET the request: the request, ``_MISSING`` on 404, None when unknown for now.

        Its log lines name the event and request without a bound logger: binding one
        for every call cost a few percent of a burst's Python time (issue 14).
        """
        try:
            async with self._slots.slot():
                sent = self._clock.now()
                remote = await self._api.get(request_id)
                self.round_trips.observe(self._clock.now() - sent)
                return remote
        except NotFoundError:
            return _MISSING
        except ApiError as exc:
            ids = {"event_id": view.event_id, "request_id": request_id}
            log.warning("dr.get_failed", **ids, error=str(exc), message_id=exc.message_id)
            return None

    async def _poll(self, view: EventView, request_id: str) -> None:
        remote = await self._get(request_id, view)
        if remote is None:
            return
        if isinstance(remote, _Missing):
            await self._missing(view, request_id)
            return
        if remote.status is None:
            log.warning("dr.status_unknown", event_id=view.event_id, request_id=request_id)
            return
        await self.apply_remote(view, remote.status, f"request {request_id}")

    async def _missing(self, view: EventView, request_id: str) -> None:
        """The DR service no longer has the request (404): ask again until the window is over.

        After it, nothing will ever answer for it: the event fails with the
        reason in its timeline and HVAC control stops (issue 16, finding 4).
        """
        log.error("dr.request_missing", event_id=view.event_id, request_id=request_id)
        if self._clock.now() < view.runs_until:
            return
        detail = (
            f"request {request_id} is no longer at the DR service (404 on poll) "
            "and its window is over"
        )
        change = self._change(view, Status.FAILED, Source.API, detail)
        if change is not None and await self._record(change):
            log.info("event.transition", event_id=view.event_id, to="failed", detail=detail)
            reason = "request missing at the DR service"
            await self._hvac.call(view, HvacPhase.STOPPED, reason)

    async def apply_remote(self, view: EventView, status: Status, detail: str) -> None:
        now = self._clock.now()
        outcome = on_remote_status(
            view.event_id,
            view.status,
            status,
            at=now,
            detail=detail,
            may_start=view.may(OutsideCall.START_CONTROL, now),
        )
        if outcome.transition is None or not await self._record(outcome.transition):
            return
        log.info(
            "event.transition",
            event_id=view.event_id,
            request_id=view.request_id,
            to=status.value,
            source="api",
            detail=detail,
        )
        await self._after(view, outcome.hvac, outcome.hvac_reason)

    async def _after(self, view: EventView, call: HvacCall | None, reason: str) -> None:
        if call is not None:
            await self._hvac.call(view, _HVAC_PHASE[call], reason)

    # -- delete and re-submit --------------------------------------------------

    async def _delete(self, intent: Intent, view: EventView) -> None:
        """DELETE (404 means already gone); then cancel, or re-submit the changed event."""
        bound = log.bind(event_id=view.event_id, request_id=intent.request_id)
        verdict = view.may(OutsideCall.DELETE, self._clock.now())
        if not verdict.allowed:  # a re-submission whose window is over: keep what runs
            bound.info("dr.delete_refused_locally", reason=verdict.reason)
            await self._end(intent, "not sent", None)
            return
        try:
            async with self._slots.slot():
                await self._api.delete(intent.request_id)
        except NotFoundError:
            bound.info("dr.delete_already_gone")
        except RetryableApiError as exc:
            bound.warning("dr.delete_unknown", error=str(exc), message_id=exc.message_id)
            return
        except PermanentApiError as exc:
            await self._delete_refused(intent, view, exc)
            return
        if view.cancel_requested:
            detail = f"deleted request {intent.request_id} at the DR service"
            await self._end(
                intent, "deleted", self._change(view, Status.CANCELED, Source.ADMIN, detail)
            )
            if view.pre_condition is not None:  # it may be pre-conditioning: put it back
                await self._after(view, HvacCall.STOP, "canceled")
            return
        await self._end(intent, "deleted", None)
        await self._create_revision(view, intent.request_id)

    async def _delete_refused(
        self, intent: Intent, view: EventView, exc: PermanentApiError
    ) -> None:
        """Too late to delete (no longer pending): learn the status; a cancel becomes local.

        A change (not a cancel) is then not applied: the DR service runs the
        revision it has. The move past ``pending`` the poll records says so
        in the timeline (``store.events.move``), which last said the daemon
        would delete and re-submit.
        """
        log.warning(
            "dr.delete_refused",
            event_id=view.event_id,
            request_id=intent.request_id,
            error=str(exc),
            message_id=exc.message_id,
        )
        await self._end(intent, "refused", None)
        await self._poll(view, intent.request_id)

    async def _resubmit(self, view: EventView, action: act.Resubmit) -> None:
        self._memory.track(view.event_id, resubmit_tried=action.revision)
        intent = Intent(
            view.event_id, IntentKind.DELETE, action.old_request_id, view.submitted_revision or 1
        )
        await self._begin(intent, None)
        await self._delete(intent, view)

    async def _create_revision(self, view: EventView, old_request_id: str) -> None:
        if self._memory.get(view.event_id, Tracking()).hvac == HvacPhase.PREPARED:
            # HVAC control prepares the new revision at its own time (a pre-conditioning
            # event holds its facilities already: they follow the new window, issue 15)
            self._memory.track(view.event_id, hvac=HvacPhase.NONE)
        new_id = request_id_for(view.event_id, view.revision, old_request_id)
        note = Transition(
            view.event_id,
            view.status,
            view.status,
            self._clock.now(),
            Source.PLAN,
            f"revision {view.revision} changed while pending: deleted request {old_request_id}, "
            f"re-submitting as {new_id}",
        )
        intent = Intent(view.event_id, IntentKind.CREATE, new_id, view.revision)
        await self._create(intent, view, await self._begin(intent, note))


def replace_status(view: EventView, status: Status) -> EventView:
    return replace(view, status=status)
