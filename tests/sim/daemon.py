"""One life of the daemon in the simulation: the real engine, controller and clients.

Built as ``drsched run`` builds them (``scheduler.wiring``), with two
differences that keep the simulation deterministic: store calls run inline
(batched ones one by one, or by the store's ``together`` in one transaction when
``World.batched_store``) through :class:`~tests.sim.outside.FaultyStore` instead of a thread (the
engine and the controller share one :class:`SimGateway`, which replaces only
the store gateway), and every vendor call goes through
:class:`~tests.sim.outside.FaultyTransport` to the simulator's app.
A crash drops the whole object graph; the database and the simulator stay.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine as SqlEngine

from scheduler.clock import FakeClock
from scheduler.config import BeconConfig, Config, DrApiConfig, HvacConfig, HvacTarget
from scheduler.config_values import becon_client, dr_client, settings_from
from scheduler.engine.decide import Policy
from scheduler.engine.runner import Engine
from scheduler.hvac.controller import HvacController
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from scheduler.store_gateway import Runner, StoreGateway
from scheduler.wiring import VendorClients
from tests.sim.outside import FaultyStore, FaultyTransport
from tests.sim.reads import SnapshotCache, Writes
from tests.sim.world import SUBMIT_LEAD

P = ParamSpec("P")
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


class SimGateway(StoreGateway):
    """The store gateway inline: each call passes the :class:`FaultyStore` of its store.

    A call to the controller's store goes through ``control`` (a fault may aim
    at it); every other call (the engine's store, the plan files) through
    ``engine``, as when each had a bridge of its own.
    """

    def __init__(self, engine: FaultyStore, control: FaultyStore, *, batched: bool) -> None:
        super().__init__()
        self._engine = engine
        self._control = control
        #: Batches in one transaction (``World.batched_store``), else one call at a time.
        self._batched = batched

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        store = self._control if self._control.wraps(fn) else self._engine
        result: T = await store.call(fn, *args, **kwargs)
        return result

    async def _together(self, runner: Runner, calls: list[Callable[[], Any]]) -> list[Any]:
        """A batch inline, so the run stays deterministic: by the SQL store's own
        ``together`` (one transaction) when batched, else its calls one by one. Either
        way each call passes its :class:`FaultyStore` (a fault aims at its name,
        ``control.claim``)."""
        assert all(isinstance(c, functools.partial) for c in calls)  # as ``batch`` queues
        if self._batched:
            first = calls[0]
            assert isinstance(first, functools.partial)
            store = self._control if self._control.wraps(first.func) else self._engine
            return await store.run_batch(runner, calls)
        results: list[Any] = []
        for call in calls:
            assert isinstance(call, functools.partial)
            try:
                results.append(await self.call(call.func, *call.args, **call.keywords))
            except BaseException as error:  # a crash too: its caller raises it, as unbatched
                results.append(error)
        return results


class Daemon:
    """The in-memory objects of one life of ``drsched run``."""

    def __init__(
        self,
        cfg: Config,
        sql: SqlEngine,
        clock: FakeClock,
        outside: Any,
        writes: Writes,
        *,
        batched: bool = False,
    ) -> None:
        self.cfg = cfg
        self.batched = batched
        self.writes = writes
        self.sql = sql
        self.clock = clock
        self.outside = outside
        self.stack = AsyncExitStack()
        self.engine: Engine | None = None

    async def build(self, transport: FaultyTransport) -> Engine:
        becon = await self.stack.enter_async_context(
            becon_client(self.cfg.becon, transport=transport, clock=self.clock)
        )
        api = await self.stack.enter_async_context(dr_client(self.cfg.dr_api, transport=transport))
        control = FaultyStore(ControlStore(self.sql), self.outside, "control")
        store = FaultyStore(
            DaemonStore(self.sql), self.outside, "engine", SnapshotCache(self.writes)
        )
        gateway = SimGateway(store, control, batched=self.batched)
        controller = HvacController(
            becon,
            control,
            self.cfg.hvac.targets,
            settings_from(self.cfg),
            self.clock,
            gateway=gateway,
        )
        self.engine = Engine(
            store,  # type: ignore[arg-type]  # the proxy has the port's methods
            api,
            self.clock,
            POLICY,
            hvac=controller,
            gateway=gateway,
            # the daemon's: its pools are opened ahead of a burst (on the simulator's
            # transport that opens nothing, but the engine wakes for it as in the daemon)
            pools=VendorClients(api, becon),
        )
        return self.engine

    async def drop(self) -> None:
        """kill -9: memory is gone; the clients' (in-process) connections are just closed."""
        self.engine = None
        await self.stack.aclose()
