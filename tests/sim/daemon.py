"""One life of the daemon in the simulation: the real engine, controller and clients.

Built as ``drsched run`` builds them (``scheduler.wiring``), with two
differences that keep the simulation deterministic: store calls run inline
through :class:`~tests.sim.outside.FaultyStore` instead of a thread
(``Engine.db`` and ``HvacController._db`` are the one bridge each; the
subclasses below replace only that bridge), and every vendor call goes
through :class:`~tests.sim.outside.FaultyTransport` to the simulator's app.
A crash drops the whole object graph; the database and the simulator stay.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine as SqlEngine

from scheduler.clock import FakeClock
from scheduler.config import BeconConfig, Config, DrApiConfig, HvacConfig, HvacTarget
from scheduler.config_values import becon_client, dr_client, settings_from
from scheduler.engine.decide import Policy
from scheduler.engine.runner import Engine
from scheduler.hvac.controller import HvacController
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from tests.sim.outside import FaultyStore, FaultyTransport
from tests.sim.reads import SnapshotCache, Writes
from tests.sim.world import SUBMIT_LEAD

T = TypeVar("T")

POLICY = Policy(submit_lead=SUBMIT_LEAD, prefetch_lead=timedelta(seconds=60))
RESTORE_STAGGER = timedelta(minutes=10)


def config(targets: tuple[HvacTarget, ...]) -> Config:
    once = {"retry_attempts": 1, "retry_total": timedelta(seconds=1)}  # retries: the engine's
    return Config(
        dr_api=DrApiConfig(base_url="http://sim/dr", **once),
        becon=BeconConfig(base_url="http://sim", max_concurrency=4, **once),
        hvac=HvacConfig(
            verify_interval=timedelta(minutes=5),
            restore_stagger=RESTORE_STAGGER,
            targets=list(targets),
        ),
    )


class SimEngine(Engine):
    """The engine with its store bridge inline (see the module docstring)."""

    async def db(self, fn: Callable[..., T], *args: object) -> T:
        store: FaultyStore = self.store  # type: ignore[assignment]  # set in Daemon.start
        result: T = await store.call(fn, *args)
        return result


class SimController(HvacController):
    """The HVAC controller with its store bridge inline."""

    async def _db(self, fn: Callable[..., T], *args: object) -> T:
        store: FaultyStore = self._store  # type: ignore[assignment]  # set in Daemon.start
        result: T = await store.call(fn, *args)
        return result


class Daemon:
    """The in-memory objects of one life of ``drsched run``."""

    def __init__(
        self, cfg: Config, sql: SqlEngine, clock: FakeClock, outside: Any, writes: Writes
    ) -> None:
        self.cfg = cfg
        self.writes = writes
        self.sql = sql
        self.clock = clock
        self.outside = outside
        self.stack = AsyncExitStack()
        self.engine: SimEngine | None = None

    async def build(self, transport: FaultyTransport) -> SimEngine:
        becon = await self.stack.enter_async_context(
            becon_client(self.cfg.becon, transport=transport, clock=self.clock)
        )
        api = await self.stack.enter_async_context(dr_client(self.cfg.dr_api, transport=transport))
        control = FaultyStore(ControlStore(self.sql), self.outside, "control")
        controller = SimController(
            becon,
            control,
            self.cfg.hvac.targets,
            settings_from(self.cfg),
            self.clock,
        )
        store = FaultyStore(
            DaemonStore(self.sql), self.outside, "engine", SnapshotCache(self.writes)
        )
        self.engine = SimEngine(
            store,
            api,
            self.clock,
            POLICY,
            hvac=controller,
        )
        return self.engine

    async def drop(self) -> None:
        """kill -9: memory is gone; the clients' (in-process) connections are just closed."""
        self.engine = None
        await self.stack.aclose()
