"""When HVAC control prepares an event that pre-conditions (issue 15), table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.clock import FakeClock
from scheduler.domain.intents import EventView
from scheduler.domain.lifecycle import Status
from scheduler.engine import actions as act
from scheduler.engine.decide import Policy, decide, due_actions, prepare_at
from scheduler.engine.hvac_calls import HvacCalls
from scheduler.engine.memory import EventMemory
from scheduler.engine.model import HvacPhase, Tracking
from scheduler.store_gateway import StoreGateway
from tests.support.fakes.engine import FakeStore, RecordingHvac
from tests.support.fakes.hvac import event

NOW = datetime(2026, 7, 15, 13, 0, tzinfo=UTC)
POLICY = Policy(submit_lead=timedelta(hours=24), prefetch_lead=timedelta(seconds=60))
POLLED = Tracking(last_contact=NOW)
H, M, S = timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1)


def view(
    status: Status, start: datetime, pre: timedelta | None, running_start: datetime | None = None
) -> EventView:
    return EventView(
        "ev",
        status,
        start,
        start + H,
        request_id="ev",
        submitted_revision=1,
        running_start=running_start,
        pre_condition=pre,
    )


@pytest.mark.parametrize(
    ("start", "pre", "running_start", "expected"),
    [
        (NOW + H, None, None, NOW + H - 60 * S),  # no pre-conditioning: prefetch_lead
        (NOW + H, H, None, NOW),  # start - duration
        (NOW + H, 15 * M, None, NOW + 45 * M),
        (NOW + H, 30 * S, None, NOW + H - 30 * S),  # shorter than the prefetch lead: still its own
        (NOW + H, H, NOW + 2 * H, NOW + H),  # the window the DR service runs
        (NOW + H, timedelta(0), None, NOW + H - 60 * S),  # zero: none
    ],
)
def test_prepare_at(
    start: datetime, pre: timedelta | None, running_start: datetime | None, expected: datetime
) -> None:
    event = view(Status.PENDING, start, pre, running_start=running_start)
    assert prepare_at(event, POLICY) == expected


@pytest.mark.parametrize(
    ("status", "now", "tracking", "due"),
    [
        (Status.PENDING, NOW, POLLED, True),  # at start - duration, pending
        (Status.STANDBY, NOW + M, POLLED, True),  # a little late: at once
        (Status.PENDING, NOW - S, POLLED, False),  # one second early
        (Status.PLANNED, NOW, Tracking(), False),  # not submitted: nothing to pre-condition for
        (Status.PENDING, NOW, Tracking(last_contact=NOW, hvac=HvacPhase.PREPARED), False),
    ],
)
def test_pre_conditioning_prepare_is_due(
    status: Status, now: datetime, tracking: Tracking, due: bool
) -> None:
    event = view(status, NOW + H, H)
    actions = due_actions(decide([event], {"ev": tracking}, now, POLICY), "ev")
    assert (act.HvacPrepare("ev") in actions) is due


def test_the_wake_up_is_the_pre_conditioning_start() -> None:
    event = view(Status.PENDING, NOW + 2 * H, H)
    decision = decide([event], {"ev": POLLED}, NOW, POLICY)
    assert decision.due_times["ev"] <= NOW + H


def _calls(store: FakeStore, hvac: RecordingHvac, memory: EventMemory) -> HvacCalls:
    clock = FakeClock(NOW)
    return HvacCalls(hvac, store, StoreGateway(), clock, memory, timedelta(seconds=15))


@pytest.mark.parametrize(
    ("cancel", "end", "prepares"),
    [
        (False, NOW + 2 * H, True),
        (True, NOW + 2 * H, False),  # a cancel is recorded: never pre-conditioned
        (False, NOW, False),  # its window is over
    ],
)
async def test_the_outside_gate_decides_whether_an_event_may_pre_condition(
    cancel: bool, end: datetime, prepares: bool
) -> None:
    store, hvac, memory = FakeStore(), RecordingHvac(), EventMemory()
    store.add(event("ev", start=NOW + H))
    pending = replace(view(Status.PENDING, NOW + H, H), end=end, cancel_requested=cancel)
    await _calls(store, hvac, memory).call(pending, HvacPhase.PREPARED)
    assert (("prepare", "ev") in hvac.calls) is prepares
    assert memory["ev"].hvac == HvacPhase.PREPARED, "not asked again"
