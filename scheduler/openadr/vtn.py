"""A local OpenLEADR VTN with a few events, for demos and tests (``drsched openadr vtn``).

Not part of the daemon. It accepts every VEN that registers (keeping the VEN
id a VEN asks for, so a restarted drsched keeps its id), and once a VEN is
registered it schedules ``events`` events for it, one after the other, and
optionally cancels the last one after the VEN has answered it. Every step is
printed as one line on stdout (``vtn: ...``) for a person or a test to follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.web_exceptions import NotAppKeyWarning
from openleadr import OpenADRServer


@dataclass(frozen=True)
class DemoPlan:
    """What the demo VTN sends each VEN that registers."""

    market_context: str = "oadr://drsched.demo/peak"
    events: int = 2
    lead: timedelta = timedelta(seconds=30)
    duration: timedelta = timedelta(seconds=60)
    gap: timedelta = timedelta(seconds=10)
    signal: str = "LOAD_CONTROL"
    payload: float = 4
    cancel_last: bool = False
    #: Cancel the last event this long after its window starts (while it runs).
    cancel_after: timedelta | None = None


@dataclass
class DemoVtn:
    vtn_id: str
    host: str
    port: int
    plan: DemoPlan
    poll_freq: timedelta = timedelta(seconds=1)
    say: Callable[[str], None] = print
    server: Any = None
    _scheduled: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/OpenADR2/Simple/2.0b"

    async def start(self) -> None:
        logging.getLogger("openleadr").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            # openleadr keys its aiohttp app with a str: this one warning only
            warnings.filterwarnings("ignore", category=NotAppKeyWarning)
            self.server = OpenADRServer(
                vtn_id=self.vtn_id,
                http_host=self.host,
                http_port=self.port,
                requested_poll_freq=self.poll_freq,
                show_fingerprint=False,
                ven_lookup=self._lookup,
            )
        self.server.add_handler("on_create_party_registration", self._register)
        with contextlib.redirect_stdout(io.StringIO()):  # its banner
            await self.server.run()
        self.say(f"vtn: {self.vtn_id} listening on {self.url}")

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()

    def _lookup(self, ven_id: str) -> dict[str, Any]:
        return {"ven_id": ven_id, "registration_id": f"reg-{ven_id}"}

    def _register(self, payload: dict[str, Any]) -> tuple[str, str]:
        ven_id = payload.get("ven_id") or f"ven-{uuid.uuid4().hex[:8]}"
        self.say(f"vtn: registered {payload.get('ven_name')} as {ven_id}")
        if ven_id not in self._scheduled:
            self._scheduled.add(ven_id)
            asyncio.get_running_loop().call_soon(self._schedule, ven_id)
        return ven_id, f"reg-{ven_id}"

    def _schedule(self, ven_id: str) -> None:
        plan = self.plan
        start = datetime.now(UTC).replace(microsecond=0) + plan.lead
        for number in range(1, plan.events + 1):
            last = number == plan.events
            event_id = f"demo-{ven_id}-{number}"
            signal_type = "x-loadControlLevelOffset" if plan.signal == "LOAD_CONTROL" else "level"
            self.server.add_event(
                ven_id=ven_id,
                event_id=event_id,
                signal_name=plan.signal,
                signal_type=signal_type,
                intervals=[
                    {"dtstart": start, "duration": plan.duration, "signal_payload": plan.payload}
                ],
                callback=self._answered(event_id, cancel=last and plan.cancel_last),
                market_context=plan.market_context,
            )
            if last and plan.cancel_after is not None:
                delay = (start + plan.cancel_after - datetime.now(UTC)).total_seconds()
                loop = asyncio.get_running_loop()
                loop.call_later(max(delay, 0), self._cancel, ven_id, event_id)
            end = start + plan.duration
            self.say(
                f"vtn: event {event_id} for {ven_id}: {start:%H:%M:%S}-{end:%H:%M:%S} UTC, "
                f"{plan.signal} {plan.payload:g}"
            )
            start = end + plan.gap

    def _cancel(self, ven_id: str, event_id: str) -> None:
        self.server.cancel_event(ven_id, event_id)
        self.server.event_callbacks[event_id] = (None, self._answered(event_id, cancel=False))
        self.say(f"vtn: cancelled {event_id}")

    def _answered(self, event_id: str, *, cancel: bool) -> Callable[..., None]:
        def callback(ven_id: str, event_id: str, opt_type: str) -> None:
            self.say(f"vtn: {ven_id} answered {opt_type} to {event_id}")
            if cancel:
                self.server.cancel_event(ven_id, event_id)
                self.server.event_callbacks[event_id] = (
                    None,
                    self._answered(event_id, cancel=False),
                )
                self.say(f"vtn: cancelled {event_id}")

        return callback
