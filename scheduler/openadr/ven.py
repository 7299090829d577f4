"""The VEN: openleadr's ``OpenADRClient`` driven by drsched, its state in the database.

We do not call ``OpenADRClient.run()``: it gives up for good when the VTN is
unreachable at start ("No RegistrationID received... aborting"), keeps the
registration and the answered events only in memory, and opts out of a whole
batch when one event's handler raises. Instead :class:`Ven` uses the client's
message methods (``create_party_registration``, ``request_event``, ``poll``,
``created_event``, ``send_response``) in its own loop:

1. register (with the stored or configured VEN id), retrying with exponential
   back-off (``retry_initial`` .. ``retry_max``) and recording each failure;
2. ask for every current event once, then poll every ``poll_interval`` (or the
   VTN's requested frequency);
3. each event goes through :func:`~scheduler.openadr.ingest.ingest` on its own:
   an error stores nothing and answers nothing for that event (the next cycle
   asks for the events again), it never changes the answer to the others.

Only the leading instance runs a :class:`Ven` (``drsched run`` starts it with
the daemon); the stored VEN id lets a standby take over under the same id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine

from scheduler.clock import Clock
from scheduler.config import OpenadrConfig
from scheduler.errors import FencedError
from scheduler.store import transaction
from scheduler.store.fenced import Fence
from scheduler.store.openadr import Answer, VenState, load_ven, save_ven

from .ingest import OPT_OUT, ingest
from .mapping import UnreadableEvent, read_event
from .openleadr import Client, quiet_logger

log = structlog.get_logger("scheduler.openadr")


@dataclass
class VenHealth:
    """What ``/healthz`` and the log say of the VEN (the database has the same)."""

    state: str = "starting"
    last_error: str | None = None
    last_poll_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.state == "registered" and self.last_error is None


class Ven:
    def __init__(
        self,
        config: OpenadrConfig,
        engine: Engine,
        clock: Clock,
        fence: Fence | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.fence = fence
        self.health = VenHealth()
        self.client: Client | None = None
        self._vtn_id: str | None = None
        self._interval = config.poll_interval or timedelta(seconds=10)

    # -- the loop ------------------------------------------------------------

    async def run(self) -> None:
        """Register, then poll until cancelled; a database failure restarts it after a pause.

        A stale leader's write (:class:`FencedError`) ends it: the daemon stops too.
        """
        quiet_logger()
        while True:
            try:
                await self._run_once()
            except FencedError:
                raise
            except Exception as exc:  # the database, most likely: never stop polling for good
                log.exception("openadr.ven_failed", vtn_url=self.config.vtn_url)
                self.health = VenHealth("failed", f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(self.config.retry_initial.total_seconds())

    async def _run_once(self) -> None:
        state = await self._load()
        self.client = Client(self.config, self._ven_id(state))
        try:
            while True:
                await self._register(state)
                await self._serve()
                state = await self._load()
        finally:
            await self.client.close()

    def _ven_id(self, state: VenState | None) -> str | None:
        return self.config.ven_id or (state.ven_id if state else None)

    async def _register(self, state: VenState | None) -> None:
        """Until the VTN gives a registration: back off from retry_initial to retry_max."""
        assert self.client is not None
        delay = self.config.retry_initial
        registration_id = state.registration_id if state else None
        while True:
            payload = await self.client.register(registration_id)
            if payload is not None:
                await self._registered(payload)
                return
            error = self.client.last_problem() or "the VTN gave no registration"
            retry_at = self.clock.now() + delay
            await self._failed("retrying", error, next_retry_at=retry_at)
            await asyncio.sleep(delay.total_seconds())
            delay = min(delay * 2, self.config.retry_max)

    async def _registered(self, payload: Mapping[str, Any]) -> None:
        assert self.client is not None
        self._vtn_id = str(payload.get("vtn_id") or "") or self._vtn_id
        if self.config.poll_interval is None and self.client.poll_frequency is not None:
            self._interval = self.client.poll_frequency
        now = self.clock.now()
        await self._save(
            now,
            ven_id=self.client.ven_id,
            registration_id=self.client.registration_id,
            vtn_id=self._vtn_id,
            state="registered",
            registered_at=now,
            last_error=None,
            next_retry_at=None,
        )
        self.health = VenHealth("registered", None, self.health.last_poll_at)
        log.info(
            "openadr.registered",
            vtn_url=self.config.vtn_url,
            vtn_id=self._vtn_id,
            ven_id=self.client.ven_id,
            registration_id=self.client.registration_id,
            poll_interval=self._interval.total_seconds(),
        )

    async def _serve(self) -> None:
        """Ask for all events, then poll; returns when the VTN asks us to register again."""
        assert self.client is not None
        resync = True
        while True:
            if resync:
                kind, payload = await self.client.request_events()
            else:
                kind, payload = await self.client.poll()
            if kind is None:
                await self._failed("registered", self.client.last_problem() or "no answer")
            else:
                await self._polled()
                if kind == "oadrRequestReregistration":
                    log.info("openadr.reregistration_requested", vtn_id=self._vtn_id)
                    await self.client.acknowledge()
                    return
                if kind == "oadrDistributeEvent":
                    resync = not await self.distribute(payload)
                else:
                    resync = False
            await asyncio.sleep(self._interval.total_seconds())

    # -- events ----------------------------------------------------------------

    async def distribute(self, payload: Mapping[str, Any]) -> bool:
        """Answer each event of an ``oadrDistributeEvent``; False if one could not be handled."""
        assert self.client is not None
        vtn_id = str(payload.get("vtn_id") or self._vtn_id or "")
        request_id = str(payload.get("request_id") or "")
        complete = True
        for raw in payload.get("events") or ():
            try:
                answer = await self._one(vtn_id, raw)
            except Exception:  # an event we could not store: no answer, ask again next time
                log.exception("openadr.event_failed", vtn_id=vtn_id, oadr_event_id=_event_id(raw))
                complete = False
                continue
            if answer is not None and raw.get("response_required", "always") == "always":
                await self.client.answer(request_id, answer)
        return complete

    async def _one(self, vtn_id: str, raw: Mapping[str, Any]) -> Answer | None:
        try:
            event = read_event(vtn_id, raw)
        except UnreadableEvent as exc:
            event_id, modification = _event_id(raw), _modification(raw)
            if event_id is None:
                log.error("openadr.event_unreadable", vtn_id=vtn_id, error=str(exc))
                return None
            log.warning("openadr.opted_out", vtn_id=vtn_id, event_id=event_id, reason=str(exc))
            return Answer(vtn_id, event_id, modification, OPT_OUT, str(exc))
        contexts, now = self.config.market_contexts, self.clock.now()
        answer = await asyncio.to_thread(ingest, self.engine, event, contexts, now, self.fence)
        level = "info" if answer.opt != OPT_OUT else "warning"
        getattr(log, level)(
            "openadr.answered",
            vtn_id=vtn_id,
            oadr_event_id=event.event_id,
            modification=event.modification,
            vtn_status=event.status,
            opt=answer.opt,
            reason=answer.reason or None,
            event_id=answer.event_id,
        )
        return answer

    # -- state -----------------------------------------------------------------

    async def _polled(self) -> None:
        now = self.clock.now()
        recovered = self.health.last_error is not None
        await self._save(now, last_poll_at=now, last_error=None, state="registered")
        self.health = VenHealth("registered", None, now)  # the database first (DESIGN rule)
        if recovered:
            log.info("openadr.recovered", vtn_url=self.config.vtn_url)

    async def _failed(self, state: str, error: str, **fields: object) -> None:
        """Record a failed contact; logged when it starts or changes, not on every retry."""
        if error != self.health.last_error:
            log.error("openadr.vtn_unavailable", vtn_url=self.config.vtn_url, error=error)
        await self._save(self.clock.now(), state=state, last_error=error, **fields)
        self.health = VenHealth(state, error, self.health.last_poll_at)

    async def _load(self) -> VenState | None:
        return await asyncio.to_thread(_load, self.engine, self.config.vtn_url)

    async def _save(self, now: datetime, **fields: object) -> None:
        """Update the VEN's row in a worker thread (fenced when leading)."""
        config = self.config
        await asyncio.to_thread(
            _save, self.engine, self.fence, config.vtn_url, config.ven_name, now, fields
        )


def _load(engine: Engine, vtn_url: str) -> VenState | None:
    with transaction(engine) as session:
        return load_ven(session, vtn_url)


def _save(
    engine: Engine,
    fence: Fence | None,
    vtn_url: str,
    ven_name: str,
    now: datetime,
    fields: Mapping[str, object],
) -> None:
    with transaction(engine) as session:
        if fence is not None:
            fence(session)
        save_ven(session, vtn_url, ven_name, now, **fields)


def _event_id(raw: Mapping[str, Any]) -> str | None:
    try:
        return str(raw["event_descriptor"]["event_id"])
    except (KeyError, TypeError):
        return None


def _modification(raw: Mapping[str, Any]) -> int:
    try:
        return int(raw["event_descriptor"]["modification_number"])
    except (KeyError, TypeError, ValueError):
        return 0
