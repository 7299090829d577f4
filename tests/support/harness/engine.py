"""The engine on the real store and the DR simulator (in-process ASGI), with a fake clock.

``FlakyTransport`` sits between the DR client and the simulator to lose a
POST before it arrives or its response after it was applied, the two crash
windows of DESIGN rule 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from scheduler import metrics
from scheduler.clients.dr.client import DrApiClient
from scheduler.clock import FakeClock
from scheduler.config import DrApiConfig
from scheduler.config_values import dr_client
from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import Status, Transition
from scheduler.engine.decide import Policy
from scheduler.engine.runner import Engine
from scheduler.simulator.app import create_app
from scheduler.simulator.options import SimOptions
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.fakes.engine import RecordingHvac

POLICY = Policy(submit_lead=timedelta(hours=1), prefetch_lead=timedelta(seconds=60))


class FlakyTransport(httpx.AsyncBaseTransport):
    """Forwards to the simulator; ``mode`` drops POSTs before or after they land."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.mode = "ok"  # "ok" | "post-never-lands" | "post-response-lost" | "down"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "POST" and self.mode == "post-never-lands":
            raise httpx.ConnectError("connection reset", request=request)
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and self.mode == "post-response-lost":
            await response.aread()
            self.mode = "down"  # and then the daemon "crashes" before it learns anything
            raise httpx.ReadTimeout("response lost", request=request)
        return response


@dataclass
class World:
    clock: FakeClock
    store: DaemonStore
    sim: httpx.AsyncClient
    transport: FlakyTransport
    api: DrApiClient
    hvac: RecordingHvac
    engine: Engine

    def new_engine(self) -> Engine:
        """A daemon restart: a fresh engine (empty memory) on the same database."""
        self.engine = Engine(self.store, self.api, self.clock, POLICY, hvac=self.hvac)
        return self.engine

    def apply(self, *events: PlanEvent) -> Any:
        return self.store.apply_events(list(events), self.clock.now())

    def status(self, event_id: str) -> Status:
        return next(r.status for r in self.store.overview() if r.event_id == event_id)

    def timeline(self, event_id: str) -> list[Transition]:
        return [t for t in self.store.timeline() if t.event_id == event_id]

    async def calls(self, method: str, request_id: str) -> int:
        """How many times the simulator saw ``method`` for ``request_id`` (its call log)."""
        log = (await self.sim.get("/_sim/dr/calls")).json()
        return sum(1 for c in log if c["method"] == method and c["request_id"] == request_id)

    async def run_until(self, until: datetime, max_ticks: int = 3000) -> None:
        for _ in range(max_ticks):
            decision = await self.engine.tick()
            if self.clock.now() >= until:
                return
            self.clock.set(min(max(decision.next_wake, self.clock.now()), until))
        raise AssertionError("engine did not settle")


@asynccontextmanager
async def world(db_url: str, start: datetime) -> AsyncIterator[World]:
    clock = FakeClock(start)
    app = create_app(SimOptions(clock=clock, standby_lead=timedelta(minutes=5)))
    transport = FlakyTransport(httpx.ASGITransport(app=app))
    upgrade(db_url)
    sql = open_engine(db_url)
    config = DrApiConfig(
        base_url="http://sim/dr", retry_attempts=1, retry_total=timedelta(seconds=1)
    )
    try:
        async with (
            dr_client(config, transport=transport) as api,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as sim,
        ):
            store = DaemonStore(sql, counted=metrics.record_transition)
            hvac = RecordingHvac()
            engine = Engine(store, api, clock, POLICY, hvac=hvac)
            yield World(clock, store, sim, transport, api, hvac, engine)
    finally:
        sql.dispose()
