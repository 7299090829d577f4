"""The decision core: which actions are due for an event in each situation, and when to wake."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.intents import EventView, Intent, IntentKind
from scheduler.domain.lifecycle import Status
from scheduler.engine import actions as act
from scheduler.engine.decide import MISSED_DETAIL, Policy, decide, due_actions
from scheduler.engine.model import HvacPhase, Tracking

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
LEAD = timedelta(hours=24)
POLICY = Policy(submit_lead=LEAD, prefetch_lead=timedelta(seconds=60))
START = NOW + timedelta(hours=2)
END = START + timedelta(hours=1)


def view(status: Status = Status.PLANNED, **kw: Any) -> EventView:
    base = EventView("ev", status, START, END)
    if status not in (Status.PLANNED,):
        base = replace(base, request_id="ev", submitted_revision=1)
    return replace(base, **kw)


def only(event: EventView, tracking: Tracking | None = None, now: datetime = NOW) -> list[object]:
    memory = {event.event_id: tracking} if tracking else {}
    return list(due_actions(decide([event], memory, now, POLICY), event.event_id))


CREATE = Intent("ev", IntentKind.CREATE, "ev", 1)
POLLED_NOW = Tracking(last_contact=NOW)


@pytest.mark.parametrize(
    ("event", "tracking", "expected"),
    [
        # planned: submit inside the lead, at once
        (view(), None, [act.Submit("ev", "ev", 1)]),
        # planned far ahead: nothing yet
        (
            view(start=NOW + LEAD + timedelta(hours=1), end=NOW + LEAD + timedelta(hours=2)),
            None,
            [],
        ),
        # planned and window over: missed
        (
            view(start=NOW - timedelta(hours=2), end=NOW - timedelta(hours=1)),
            None,
            [act.MarkMissed("ev", MISSED_DETAIL)],
        ),
        # planned inside its window: submit what remains
        (view(start=NOW - timedelta(minutes=5)), None, [act.Submit("ev", "ev", 1)]),
        # planned, changed before ever being submitted: still the plain id
        (view(revision=3), None, [act.Submit("ev", "ev", 3)]),
        # an open intent comes before anything else, even a cancel
        (
            view(Status.SUBMITTING, open_intent=CREATE, cancel_requested=True),
            None,
            [act.Reconcile(CREATE)],
        ),
        # an open intent after a failed attempt waits for the retry delay
        (view(Status.SUBMITTING, open_intent=CREATE), POLLED_NOW, []),
        # submitting with no intent row: reconcile by request id
        (view(Status.SUBMITTING), None, [act.Reconcile(CREATE)]),
        # pending, never polled in this process: poll at once
        (view(Status.PENDING), None, [act.Poll("ev", "ev")]),
        # pending, just polled: nothing
        (view(Status.PENDING), POLLED_NOW, []),
        # cancel requests by status
        (view(cancel_requested=True), None, [act.CancelPlanned("ev")]),
        (view(Status.PENDING, cancel_requested=True), None, [act.Delete("ev", "ev", 1)]),
        (view(Status.STANDBY, cancel_requested=True), None, [act.CancelLocally("ev", "ev")]),
        (view(Status.ACTIVE, cancel_requested=True), None, [act.CancelLocally("ev", "ev")]),
        # changed while pending: delete and re-submit as -r2
        (view(Status.PENDING, revision=2), None, [act.Resubmit("ev", "ev", "ev-r2", 2)]),
        (
            view(Status.PENDING, revision=3, request_id="ev-r2", submitted_revision=2),
            None,
            [act.Resubmit("ev", "ev-r2", "ev-r3", 3)],
        ),
        # changed right after a poll: re-submitted at once, not after retry_delay
        (
            view(Status.PENDING, revision=2),
            Tracking(last_contact=NOW - timedelta(seconds=1)),
            [act.Resubmit("ev", "ev", "ev-r2", 2)],
        ),
        # a re-submission of this revision was just tried: wait retry_delay
        (
            view(Status.PENDING, revision=2),
            Tracking(last_contact=NOW - timedelta(seconds=1), resubmit_tried=2),
            [],
        ),
        # changed while pending, window over (the daemon was down): no re-submission
        # (its DELETE and POST are refused by the outside gate); poll what runs: it
        # completes, or a 404 after the window ends the event failed
        (
            view(Status.PENDING, revision=2, start=NOW - timedelta(hours=2), end=NOW),
            None,
            [act.Poll("ev", "ev")],
        ),
        # changed but already standby: the store refused it; keep polling
        (view(Status.STANDBY, revision=2), None, [act.Poll("ev", "ev")]),
        # terminal: nothing at all
        (view(Status.COMPLETED, cancel_requested=True), None, []),
        (view(Status.FAILED), None, []),
    ],
)
def test_actions_due(event: EventView, tracking: Tracking | None, expected: list[object]) -> None:
    assert only(event, tracking) == expected


def test_hvac_prepare_at_prefetch_lead() -> None:
    event = view(Status.STANDBY, start=NOW + timedelta(seconds=30))
    assert act.HvacPrepare("ev") in only(event, POLLED_NOW)
    early = view(Status.STANDBY, start=NOW + timedelta(minutes=5))
    assert act.HvacPrepare("ev") not in only(early, POLLED_NOW)
    prepared = Tracking(last_contact=NOW, hvac=HvacPhase.PREPARED)
    assert act.HvacPrepare("ev") not in only(event, prepared)


def test_hvac_stop_when_the_window_ends_by_the_clock() -> None:
    started = Tracking(last_contact=NOW, hvac=HvacPhase.STARTED)
    active = view(Status.ACTIVE, start=NOW - timedelta(hours=1), end=NOW)
    assert act.HvacStop("ev", "window ended") in only(active, started)
    running = view(Status.ACTIVE, start=NOW - timedelta(hours=1), end=NOW + timedelta(minutes=30))
    assert only(running, started) == []
    decision = decide([running], {"ev": started}, NOW, POLICY)
    assert decision.next_wake <= running.end


def test_next_wake_is_the_earliest_due_instant() -> None:
    later = view(start=NOW + LEAD + timedelta(hours=3), end=NOW + LEAD + timedelta(hours=4))
    soon = replace(later, event_id="soon", start=NOW + LEAD + timedelta(minutes=5))
    decision = decide([later, soon], {}, NOW, POLICY)
    assert decision.actions == ()
    assert decision.next_wake == NOW + timedelta(minutes=5)


def test_next_wake_never_beyond_the_horizon() -> None:
    far = view(start=NOW + timedelta(days=30), end=NOW + timedelta(days=30, hours=1))
    assert decide([far], {}, NOW, POLICY).next_wake == NOW + POLICY.horizon
    assert decide([], {}, NOW, POLICY).next_wake == NOW + POLICY.horizon


statuses = st.sampled_from(list(Status))
offsets = st.integers(min_value=-3 * 86400, max_value=3 * 86400).map(lambda s: timedelta(seconds=s))


@given(
    status=statuses,
    start_offset=offsets,
    length=st.integers(min_value=1, max_value=86400),
    cancel=st.booleans(),
    revision=st.integers(min_value=1, max_value=4),
    last=st.none() | offsets,
    phase=st.sampled_from(list(HvacPhase)),
)
def test_properties_of_every_decision(
    status: Status,
    start_offset: timedelta,
    length: int,
    cancel: bool,
    revision: int,
    last: timedelta | None,
    phase: HvacPhase,
) -> None:
    start = NOW + start_offset
    event = view(
        status,
        start=start,
        end=start + timedelta(seconds=length),
        cancel_requested=cancel,
        revision=revision,
    )
    tracking = Tracking(last_contact=None if last is None else NOW - abs(last), hvac=phase)
    decision = decide([event], {"ev": tracking}, NOW, POLICY)
    dr = [a for a in decision.actions if isinstance(a, act.DR_ACTIONS)]
    assert len(dr) <= 1, "at most one DR call per event per tick"
    assert NOW <= decision.next_wake <= NOW + POLICY.horizon
    if status.is_terminal:
        assert decision.actions == ()
    if status == Status.PLANNED:
        assert not any(isinstance(a, act.Poll | act.Delete | act.CancelLocally) for a in dr)
    for action in decision.actions:
        if isinstance(action, act.Submit):
            assert event.start - LEAD <= NOW
            assert event.end > NOW


# -- issue 10: HVAC start until it succeeded (bugs 1 and 7) ---------------------------

INSIDE = START + timedelta(minutes=5)
CONTACTED = Tracking(last_contact=INSIDE)


@pytest.mark.parametrize(
    ("event", "tracking", "now", "expected"),
    [
        (view(Status.ACTIVE), CONTACTED, INSIDE, [act.HvacStart("ev")]),
        (
            view(Status.ACTIVE),
            replace(CONTACTED, hvac=HvacPhase.PREPARED),
            INSIDE,
            [act.HvacStart("ev")],
        ),
        (view(Status.ACTIVE), replace(CONTACTED, hvac=HvacPhase.STARTED), INSIDE, []),
        (view(Status.ACTIVE), replace(CONTACTED, hvac=HvacPhase.STOPPED), INSIDE, []),
        (
            view(Status.ACTIVE),
            replace(CONTACTED, hvac_retry_at=INSIDE + timedelta(seconds=15)),
            INSIDE,
            [],
        ),
        (
            view(Status.ACTIVE),
            replace(CONTACTED, hvac_retry_at=INSIDE),
            INSIDE,
            [act.HvacStart("ev")],
        ),
        (view(Status.ACTIVE, cancel_requested=True), CONTACTED, INSIDE, []),
        (view(Status.ACTIVE), Tracking(last_contact=END), END, []),
        (view(Status.STANDBY), CONTACTED, INSIDE, []),
    ],
    ids=[
        "active, not started",
        "active, prepared",
        "started",
        "stopped",
        "failed start waits",
        "failed start due",
        "cancel requested",
        "window over",
        "standby: prepare already done or due",
    ],
)
def test_hvac_start_is_due_while_active_until_it_succeeded(
    event: EventView, tracking: Tracking, now: datetime, expected: list[object]
) -> None:
    hvac = [a for a in only(event, tracking, now) if isinstance(a, act.HvacStart)]
    assert hvac == expected


def test_a_failed_hvac_start_sets_the_next_wake() -> None:
    retry_at = INSIDE + timedelta(seconds=15)
    tracking = Tracking(last_contact=INSIDE, hvac_retry_at=retry_at)
    decision = decide([view(Status.ACTIVE)], {"ev": tracking}, INSIDE, POLICY)
    assert decision.next_wake <= retry_at
