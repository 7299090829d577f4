"""The engine and the daemon's loop on the in-memory fakes of :mod:`tests.support.fakes.engine`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scheduler.clock import FakeClock, SystemClock
from scheduler.engine.daemon import Daemon
from scheduler.engine.decide import Policy
from scheduler.engine.runner import Engine
from scheduler.systemd import Notifier
from tests.support.fakes.engine import T0, FakeDr, FakeStore, RecordingHvac

POLICY = Policy(submit_lead=timedelta(hours=1), prefetch_lead=timedelta(seconds=60))


class World:
    def __init__(self, start: datetime = T0) -> None:
        self.clock = FakeClock(start)
        self.store = FakeStore()
        self.dr = FakeDr(self.clock)
        self.hvac = RecordingHvac()
        self.engine = self.new_engine()

    def new_engine(self) -> Engine:
        """A fresh engine on the same store and DR service: a daemon restart."""
        return Engine(self.store, self.dr, self.clock, POLICY, hvac=self.hvac, max_concurrency=2)

    async def run_until(self, until: datetime, max_ticks: int = 2000) -> None:
        """Tick at every wake-up the engine asks for, moving the fake clock there."""
        for _ in range(max_ticks):
            decision = await self.engine.tick()
            if self.clock.now() >= until:
                return
            self.clock.set(min(max(decision.next_wake, self.clock.now()), until))
        raise AssertionError("engine did not settle")


def make_daemon(
    notifier: Notifier | None = None, apply_plans: Callable[[], str] | None = None
) -> tuple[Daemon, FakeStore]:
    store = FakeStore()
    clock = SystemClock()
    engine = Engine(store, FakeDr(clock), clock, Policy(submit_lead=timedelta(hours=1)))
    daemon = Daemon(
        engine,
        apply_plans=apply_plans,
        notifier=notifier,
        revision_interval=timedelta(milliseconds=50),
        stop_timeout=timedelta(seconds=2),
    )
    return daemon, store
