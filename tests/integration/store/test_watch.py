"""Late work for the alerts (``scheduler.store.watch``), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.domain.lateness import Overdue
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.store import open_engine, watch
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade

S = ControlState
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
LEAD = timedelta(hours=1)
APPLIED_AT = NOW - timedelta(days=4)  # when the plan brought the events
HVAC = Signal("s1", "LOAD_CONTROL", "x-loadControlLevelOffset", ("x-DEVICE_AIR_CONDITIONER",))


def event(event_id: str, start_in: timedelta, length: timedelta = timedelta(hours=1)) -> PlanEvent:
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=NOW + start_in,
        end=NOW + start_in + length,
        signals=(HVAC,),
        targets=(EventTarget("CE-02"),),
    )


def record(event_id: str, n: int, state: ControlState, window_end: datetime) -> ControlRecord:
    return ControlRecord(
        event_id,
        FacilityKey("S001", "GW-01", "IDU", f"IDU-{n:04d}"),
        state,
        window_end=window_end,
        created_at=NOW - timedelta(hours=2),
        updated_at=NOW - timedelta(hours=2),
        unit=TempUnit.C,
        mode=Mode.COOL,
        original=24.0,
        target=26.0,
    )


def move(store: DaemonStore, event_id: str, *path: Status) -> None:
    current = Status.PLANNED
    for status in path:
        assert store.record(Transition(event_id, current, status, APPLIED_AT, Source.API, ""))
        current = status


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[DaemonStore, ControlStore]]:
    upgrade(db_url)
    engine = open_engine(db_url)
    try:
        yield DaemonStore(engine), ControlStore(engine)
    finally:
        engine.dispose()


def _read(store: DaemonStore, controls: set[str] | None = None) -> watch.Lateness:
    with Session(store.engine) as session:
        return watch.lateness(
            session, NOW, LEAD, lambda e: controls is None or e.event_id in controls
        )


def test_nothing_late_reads_zero(stores: tuple[DaemonStore, ControlStore]) -> None:
    daemon, _ = stores
    daemon.apply_events([event("later", timedelta(hours=30))], APPLIED_AT)
    assert _read(daemon) == watch.Lateness()


def test_submissions_overdue_since_due_or_since_the_plan_brought_them(
    stores: tuple[DaemonStore, ControlStore],
) -> None:
    daemon, _ = stores
    plan = [
        event("due-10m-ago", LEAD - timedelta(minutes=10)),
        event("due-in-5m", LEAD + timedelta(minutes=5)),
        event("stuck-submitting", LEAD - timedelta(minutes=20)),
        event("accepted", LEAD - timedelta(minutes=30)),
        event("missed-window", timedelta(minutes=-5)),  # still planned: still late
    ]
    daemon.apply_events(plan, APPLIED_AT)
    move(daemon, "stuck-submitting", Status.SUBMITTING)
    move(daemon, "accepted", Status.SUBMITTING, Status.PENDING)
    # brought 2 minutes ago, inside its lead: late by 2 minutes, not by hours
    plan.append(event("late-arrival", timedelta(minutes=20)))
    daemon.apply_events(plan, NOW - timedelta(minutes=2))
    with Session(daemon.engine) as session:
        got = watch.submissions_overdue(session, NOW, LEAD)
    assert got == Overdue(4, (timedelta(minutes=65)).total_seconds())


def test_a_cancel_requested_before_submission_is_not_overdue(
    stores: tuple[DaemonStore, ControlStore],
) -> None:
    daemon, _ = stores
    daemon.apply_events([event("ev", LEAD - timedelta(minutes=10))], APPLIED_AT)
    daemon.request_cancel("ev", NOW - timedelta(minutes=11))
    with Session(daemon.engine) as session:
        assert watch.submissions_overdue(session, NOW, LEAD) == Overdue()


def test_windows_uncontrolled_counts_windows_under_way_with_nothing_applied(
    stores: tuple[DaemonStore, ControlStore],
) -> None:
    daemon, control = stores
    ids = ["none-yet", "all-failed", "one-applied", "all-skipped", "restored", "no-hvac"]
    plan = [event(i, timedelta(minutes=-7)) for i in ids]
    plan += [event("over", timedelta(hours=-2)), event("canceled", timedelta(minutes=-30))]
    daemon.apply_events(plan, APPLIED_AT)
    for event_id in [*ids, "over"]:
        move(daemon, event_id, Status.SUBMITTING, Status.PENDING, Status.ACTIVE)
    move(daemon, "canceled", Status.SUBMITTING, Status.PENDING, Status.CANCELED)
    end = NOW + timedelta(minutes=53)
    control.insert(
        [
            record("all-failed", 1, S.FAILED, end),
            record("all-failed", 2, S.RETRYING, end),
            record("one-applied", 3, S.FAILED, end),
            record("one-applied", 4, S.APPLIED, end),
            record("all-skipped", 5, S.SKIPPED, end),
            record("restored", 6, S.RESTORED, end),
        ]
    )
    controls = {*ids, "over", "canceled"} - {"no-hvac"}
    late = _read(daemon, controls)
    assert late.windows_uncontrolled == Overdue(2, timedelta(minutes=7).total_seconds())


def test_held_past_end_counts_facilities_still_held_after_their_window(
    stores: tuple[DaemonStore, ControlStore],
) -> None:
    daemon, control = stores
    daemon.apply_events(
        [event("ended", timedelta(minutes=-70)), event("running", timedelta(minutes=-10))],
        APPLIED_AT,
    )
    ended_at = NOW - timedelta(minutes=10)
    running_end = NOW + timedelta(minutes=50)
    control.insert(
        [
            record("ended", 1, S.APPLIED, ended_at),
            record("ended", 2, S.RESTORING, ended_at),
            record("ended", 3, S.RETRYING, ended_at),
            record("ended", 4, S.RESTORED, ended_at),
            record("ended", 5, S.OPTED_OUT, ended_at),
            record("ended", 6, S.FAILED, ended_at),
            record("running", 7, S.APPLIED, running_end),
        ]
    )
    assert _read(daemon).held_past_end == Overdue(3, 600.0)
    control.save([replace(record("ended", n, S.RESTORED, ended_at)) for n in (1, 2, 3)])
    assert _read(daemon).held_past_end == Overdue()


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], True),
        ([S.PLANNED], True),
        ([S.INTENT], True),
        ([S.FAILED, S.RETRYING], True),
        ([S.SKIPPED, S.PLANNED], True),
        ([S.SKIPPED], False),
        ([S.APPLIED], False),
        ([S.FAILED, S.RESTORING], False),
        ([S.RESTORED], False),
        ([S.OPTED_OUT, S.SKIPPED], False),
    ],
)
def test_uncontrolled_means_nothing_reached_a_setpoint_and_something_was_left(
    states: list[ControlState], expected: bool
) -> None:
    assert watch.uncontrolled(states) is expected


def test_overdue_ignores_what_is_not_late_yet() -> None:
    ages = [timedelta(seconds=-5), timedelta(0), timedelta(seconds=30), timedelta(seconds=90)]
    assert watch.overdue(ages) == Overdue(2, 90.0)
