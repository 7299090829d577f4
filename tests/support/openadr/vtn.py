"""A real OpenLEADR VTN (``openleadr.OpenADRServer``) on 127.0.0.1 for the VEN tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from openleadr import OpenADRServer, utils

VTN_ID = "TEST-VTN"
CONTEXT = "oadr://utility.example/peak"


@dataclass
class Vtn:
    """The server plus what it saw: registrations (with the VEN id asked for) and opts."""

    port: int
    tls: dict[str, Any] = field(default_factory=dict)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    opts: list[tuple[str, str]] = field(default_factory=list)
    server: OpenADRServer | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/OpenADR2/Simple/2.0b"

    async def start(self) -> None:
        self.server = OpenADRServer(
            vtn_id=VTN_ID,
            http_host="127.0.0.1",
            http_port=self.port,
            requested_poll_freq=timedelta(seconds=1),
            show_fingerprint=False,
            ven_lookup=self._lookup if self.tls else None,
            **self.tls,
        )
        self.server.add_handler("on_create_party_registration", self._register)
        await self.server.run()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    def _register(self, payload: dict[str, Any]) -> tuple[str, str]:
        self.registrations.append(payload)
        ven_id = payload.get("ven_id") or f"ven-{uuid.uuid4().hex[:8]}"
        return ven_id, f"reg-{uuid.uuid4().hex[:8]}"

    def _lookup(self, ven_id: str) -> dict[str, Any]:
        return {"ven_id": ven_id, "registration_id": "r", "fingerprint": self.tls_fingerprint}

    tls_fingerprint: str | None = None

    @property
    def ven_id(self) -> str | None:
        return self.registrations[-1].get("ven_id") if self.registrations else None

    def add_event(
        self,
        ven_id: str,
        start: datetime,
        *,
        duration: timedelta = timedelta(hours=1),
        payload: float = 4,
        signal: str = "LOAD_CONTROL",
        market_context: str = CONTEXT,
    ) -> str:
        signal_type = "x-loadControlLevelOffset" if signal == "LOAD_CONTROL" else "level"
        assert self.server is not None
        return str(
            self.server.add_event(
                ven_id=ven_id,
                signal_name=signal,
                signal_type=signal_type,
                intervals=[{"dtstart": start, "duration": duration, "signal_payload": payload}],
                callback=self._opted,
                market_context=market_context,
            )
        )

    def _opted(self, ven_id: str, event_id: str, opt_type: str) -> None:
        self.opts.append((event_id, opt_type))

    def modify(self, ven_id: str, event_id: str, change: Callable[[Any], None]) -> None:
        """Change an event in place and bump its modification number (what a VTN operator does)."""
        assert self.server is not None
        event = utils.find_by(self.server.events[ven_id], "event_descriptor.event_id", event_id)
        change(event)
        utils.increment_event_modification_number(event)
        self.server.events_updated[ven_id] = True
        self.server.event_callbacks[event_id] = (event, self._opted)

    def cancel(self, ven_id: str, event_id: str) -> None:
        assert self.server is not None
        self.server.cancel_event(ven_id, event_id)
        event = utils.find_by(self.server.events[ven_id], "event_descriptor.event_id", event_id)
        self.server.event_callbacks[event_id] = (event, self._opted)


async def wait_until(check: Callable[[], Any], what: str, limit: float = 20.0) -> Any:
    """Poll ``check`` until it returns something true (never a fixed sleep)."""
    deadline = time.monotonic() + limit
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        await asyncio.sleep(0.05)


def at(minutes: float) -> datetime:
    """An instant ``minutes`` from now, whole seconds, UTC."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)
