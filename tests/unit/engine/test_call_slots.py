"""The DR calls' slots, and outcomes written once no call waits for one (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from scheduler.domain.events import PlanEvent
from scheduler.domain.intents import Intent
from scheduler.domain.lifecycle import Status, Transition
from scheduler.engine.call_slots import CallSlots
from scheduler.engine.runner import Engine
from scheduler.store_gateway import Runner, StoreGateway
from tests.support.fakes.engine import T0, plan_event
from tests.support.harness.engine_on_fakes import POLICY, World


async def test_none_waiting_returns_at_once_when_no_call_waits() -> None:
    slots = CallSlots(1)
    async with slots.slot():  # held, but nobody waits for it
        await asyncio.wait_for(slots.none_waiting(), 1)


async def test_none_waiting_waits_until_the_last_waiting_call_has_its_slot() -> None:
    slots = CallSlots(1)
    release = asyncio.Event()
    order: list[str] = []

    async def call(name: str) -> None:
        async with slots.slot():
            order.append(name)
            await release.wait()

    first = asyncio.create_task(call("first"))
    second = asyncio.create_task(call("second"))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(slots.none_waiting())
    await asyncio.sleep(0)
    assert not waiter.done()  # "second" waits for the one slot
    release.set()
    await waiter
    assert order == ["first", "second"]
    await asyncio.gather(first, second)


async def test_a_waiting_call_cancelled_no_longer_counts() -> None:
    slots = CallSlots(1)
    async with slots.slot():
        queued = asyncio.create_task(slots.slot().__aenter__())
        await asyncio.sleep(0)
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        await asyncio.wait_for(slots.none_waiting(), 1)


class InlineGateway(StoreGateway):
    """Runs a batch in the event loop: when it runs among the calls is deterministic."""

    async def _together(self, runner: Runner, calls: list[Callable[[], Any]]) -> Sequence[Any]:
        return runner(calls)


async def test_a_burst_s_outcomes_are_written_after_every_post_has_left() -> None:
    """Outcomes written between the POSTs took the daemon's one Python core from the
    POSTs still to leave: the last of 200 left 0.25-0.32 s late instead of 0.16-0.22 s."""
    w = World()
    engine = Engine(
        w.store, w.dr, w.clock, POLICY, hvac=w.hvac, max_concurrency=2, gateway=InlineGateway()
    )
    log: list[str] = []
    create, end_intent = w.dr.create, w.store.end_intent

    async def posting(event: PlanEvent, request_id: str) -> None:
        await asyncio.sleep(0)  # on its way: the other calls go on meanwhile
        log.append("POST")
        await create(event, request_id)

    def ending(intent: Intent, outcome: str, change: Transition | None, at: datetime) -> Any:
        log.append("end")
        return end_intent(intent, outcome, change, at)

    w.dr.create = posting  # type: ignore[method-assign]
    w.store.end_intent = ending  # type: ignore[method-assign]
    start = T0 + POLICY.submit_lead + timedelta(minutes=5)
    for n in range(6):
        w.store.add(plan_event(f"ev{n}", start))
    w.clock.set(start - POLICY.submit_lead)
    await engine.tick()
    assert log == ["POST"] * 6 + ["end"] * 6
    assert {w.store.status(f"ev{n}") for n in range(6)} == {Status.PENDING}
