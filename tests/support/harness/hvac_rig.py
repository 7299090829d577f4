"""The controller on the fakes with a fake clock, driven as the engine would drive it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from scheduler.clock import FakeClock
from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import Status
from scheduler.hvac.controller import HvacController
from scheduler.hvac.planning import Settings
from tests.support.fakes.hvac import T0, FakeBecon, FakeControlStore, Target

SETTINGS = Settings(
    verify_interval=timedelta(minutes=5),
    restore_stagger=timedelta(minutes=10),
    max_concurrency=4,
    restore_spacing=timedelta(seconds=30),
)
TARGETS = (Target("CE-01", "S1", "GW1"),)
PREFETCH = timedelta(seconds=60)


class Rig:
    def __init__(
        self,
        settings: Settings = SETTINGS,
        targets: Sequence[Target] = TARGETS,
        start: datetime = T0 - PREFETCH,
    ) -> None:
        self.clock = FakeClock(start)
        self.becon = FakeBecon(self.clock)
        self.store = FakeControlStore()
        self.settings = settings
        self.targets = list(targets)
        self.hvac = self.new_controller()

    def new_controller(self) -> HvacController:
        """A daemon restart: a fresh controller (empty memory) on the same store and BECON."""
        self.hvac = HvacController(
            self.becon,
            self.store,
            self.targets,
            self.settings,
            self.clock,
        )
        return self.hvac

    @property
    def now(self) -> datetime:
        return self.clock.now()

    async def prepare(self, plan: PlanEvent) -> None:
        self.store.add_event(plan, Status.STANDBY)
        self.clock.set(max(self.now, plan.start - PREFETCH))
        await self.hvac.prepare(plan, self.now)

    async def start(self, plan: PlanEvent) -> None:
        self.store.statuses[plan.event_id] = Status.ACTIVE
        self.clock.set(max(self.now, plan.start))
        await self.hvac.start(plan, self.now)

    async def stop(self, plan: PlanEvent, reason: str = "window ended") -> None:
        if reason == "window ended":
            self.clock.set(max(self.now, plan.end))
        await self.hvac.stop(plan, self.now, reason)

    async def run_until(self, until: datetime, max_ticks: int = 5000) -> list[datetime]:
        """Tick at every instant the controller asks for, up to ``until``."""
        ticks = []
        for _ in range(max_ticks):
            due = await self.hvac.due(self.now)
            if due is None or due > until:
                self.clock.set(max(until, self.now))
                return ticks
            self.clock.set(max(due, self.now))
            ticks.append(self.now)
            await self.hvac.tick(self.now)
        raise AssertionError("the controller did not settle")

    async def whole_window(self, plan: PlanEvent) -> None:
        """Prefetch, start, every verify, end, every restore slot."""
        await self.prepare(plan)
        await self.start(plan)
        await self.run_until(plan.end - timedelta(microseconds=1))
        await self.stop(plan)
        await self.run_until(plan.end + self.settings.restore_stagger)


__all__ = ["PREFETCH", "SETTINGS", "T0", "TARGETS", "Rig"]
