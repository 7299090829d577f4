"""The daemon's engine with HVAC control on the real store, the real clients and the simulator.

The simulator (both APIs, one app) runs in process behind ``httpx.ASGITransport``
or on a real socket; time is a :class:`FakeClock` the test moves, never slept.
``crash()`` drops the engine and the controller without stopping them (kill -9);
``restart()`` builds new ones on the same database, as ``drsched run`` would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from scheduler.clock import FakeClock
from scheduler.config import BeconConfig, Config, DrApiConfig, HvacConfig, HvacTarget
from scheduler.config_values import dr_client
from scheduler.domain.control_records import ControlRecord
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.lifecycle import Status
from scheduler.engine.decide import Policy
from scheduler.engine.runner import Engine
from scheduler.simulator.app import Simulator
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from scheduler.store import open_engine
from scheduler.store.control import records_of
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.wiring import hvac_control


class CountingTransport(httpx.AsyncBaseTransport):
    """Forwards to the simulator and logs (time, method, path) of every vendor call."""

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: FakeClock) -> None:
        self.inner = inner
        self.clock = clock
        self.calls: list[tuple[datetime, str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((self.clock.now(), request.method, request.url.path))
        return await self.inner.handle_async_request(request)

    def state_reads(self) -> list[tuple[datetime, str]]:
        return [(at, path) for at, method, path in self.calls if path.endswith("/state")]


POLICY = Policy(submit_lead=timedelta(hours=1), prefetch_lead=timedelta(seconds=60))
SITES, GATEWAYS, UNITS = 2, 3, 20


def targets(sites: int = SITES, gateways: int = GATEWAYS) -> list[HvacTarget]:
    return [
        HvacTarget(ven="CE-02", site=f"S{s:03d}", gateway=f"GW-{g:02d}")
        for s in range(1, sites + 1)
        for g in range(1, gateways + 1)
    ]


def config(override: str = "respect", **hvac: Any) -> Config:
    quick = {"retry_attempts": 1, "retry_total": timedelta(seconds=1)}
    return Config(
        dr_api=DrApiConfig(base_url="http://sim/dr", **quick),
        becon=BeconConfig(base_url="http://sim", max_concurrency=8, **quick),
        hvac=HvacConfig(
            verify_interval=timedelta(minutes=5),
            restore_stagger=timedelta(minutes=10),
            override=override,
            targets=hvac.pop("targets", targets()),
            **hvac,
        ),
    )


def peak(event_id: str, start: datetime, minutes: int = 60) -> PlanEvent:
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=start,
        end=start + timedelta(minutes=minutes),
        signals=(
            Signal(
                "s1",
                "LOAD_CONTROL",
                "x-loadControlLevelOffset",
                ("x-DEVICE_AIR_CONDITIONER",),
                max_temp=80,
                temp_offset=4,
                unit=TempUnit.F,
            ),
        ),
        targets=(EventTarget("CE-02"),),
    )


@dataclass
class World:
    clock: FakeClock
    simulator: Simulator
    admin: httpx.AsyncClient
    store: DaemonStore
    config: Config
    transport: CountingTransport | None
    engine: Engine | None = None
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def restart(self) -> Engine:
        """A (new) daemon on the same database: HVAC reconcile, then the DR intents."""
        await self.stack.aclose()
        self.stack = AsyncExitStack()
        hvac = await self.stack.enter_async_context(
            hvac_control(self.config, self.store.engine, self.clock, transport=self.transport)
        )
        api = await self.stack.enter_async_context(_dr_client(self.config, self.transport))
        self.engine = Engine(self.store, api, self.clock, POLICY, hvac=hvac)
        await self.engine.start_up()
        return self.engine

    def crash(self) -> None:
        """kill -9: the engine and controller vanish; their clients are just dropped."""
        self.engine = None

    async def run_until(self, until: datetime, max_ticks: int = 5000) -> None:
        assert self.engine is not None
        for _ in range(max_ticks):
            decision = await self.engine.tick()
            if self.clock.now() >= until:
                return
            self.clock.set(min(max(decision.next_wake, self.clock.now()), until))
        raise AssertionError("engine did not settle")

    def apply(self, *events: PlanEvent) -> None:
        self.store.apply_events(list(events), self.clock.now())

    def status(self, event_id: str) -> Status:
        return next(r.status for r in self.store.overview() if r.event_id == event_id)

    def records(self, event_id: str) -> list[ControlRecord]:
        with Session(self.store.engine) as session:
            return records_of(session, event_id)

    async def facilities(self) -> dict[FacilityKey, dict[str, Any]]:
        """Every simulated facility's state, by key (admin endpoint)."""
        listed = (await self.admin.get("/_sim/becon/facilities")).json()
        return {
            FacilityKey(f["site"], f["gateway"], f["facilityType"], f["facilityId"]): f
            for f in listed
        }

    async def controls(self) -> list[dict[str, Any]]:
        """The simulator's control log: every PUT with its controls and results."""
        return list((await self.admin.get("/_sim/becon/controls")).json())

    async def sent(self) -> Counter[tuple[FacilityKey, float]]:
        """How many times each (facility, setpoint) was sent."""
        counts: Counter[tuple[FacilityKey, float]] = Counter()
        for put in await self.controls():
            for control in put["controls"]:
                key = FacilityKey(
                    put["site"], put["gateway"], put["facility_type"], control["facilityId"]
                )
                counts[(key, float(control["setTemp"]))] += 1
        return counts

    async def occupant(self, key: FacilityKey, **change: Any) -> None:
        path = f"/_sim/becon/facilities/{key.site}/{key.gateway}/{key.facility_id}"
        (await self.admin.post(path, json=change)).raise_for_status()


@asynccontextmanager
async def _dr_client(config: Config, transport: httpx.AsyncBaseTransport | None) -> Any:

    async with dr_client(config.dr_api, transport=transport) as api:
        yield api


def sim_options(clock: FakeClock) -> SimOptions:
    return SimOptions(
        clock=clock,
        standby_lead=timedelta(minutes=5),
        sites=SITES,
        gateways=GATEWAYS,
        facilities=UNITS,
    )


@asynccontextmanager
async def world(
    db_url: str, start: datetime, cfg: Config | None = None, *, socket: bool = False
) -> AsyncIterator[World]:
    """The world in process (ASGI) or, with ``socket``, the simulator on a real port."""
    clock = FakeClock(start)
    cfg = cfg or config()
    upgrade(db_url)
    sql = open_engine(db_url)
    async with AsyncExitStack() as outer:
        if socket:
            running = outer.enter_context(serve_in_background(sim_options(clock), "127.0.0.1"))
            simulator, transport, base = running.simulator, None, running.url
            cfg = cfg.model_copy(
                update={
                    "dr_api": cfg.dr_api.model_copy(update={"base_url": running.dr_url}),
                    "becon": cfg.becon.model_copy(update={"base_url": running.url}),
                }
            )
            admin = await outer.enter_async_context(httpx.AsyncClient(base_url=base))
        else:
            simulator = Simulator(sim_options(clock))
            transport = CountingTransport(httpx.ASGITransport(app=simulator.app), clock)
            admin = await outer.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=simulator.app), base_url="http://sim"
                )
            )
        w = World(clock, simulator, admin, DaemonStore(sql), cfg, transport)
        try:
            await w.restart()
            yield w
        finally:
            await w.stack.aclose()
            sql.dispose()
