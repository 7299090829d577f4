"""``plan apply`` on real SQLite and PostgreSQL: all or nothing, idempotent, lifecycle rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.domain.events import TempUnit
from scheduler.domain.lifecycle import Status
from scheduler.domain.shaping import PreCondition, Ramp, Shaping
from scheduler.errors import PlanError
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.store.models import EventRow, SignalRow
from tests.support.stored_events import NOW, event, move


@pytest.fixture
def store(db_url: str) -> Iterator[DaemonStore]:
    upgrade(db_url)
    engine = open_engine(db_url)
    yield DaemonStore(engine)
    engine.dispose()


def test_events_round_trip_with_signals_and_targets(store: DaemonStore) -> None:
    store.apply_events([event("a")], NOW)
    loaded = store.plan_event("a")
    assert loaded == event("a")
    assert loaded.source == "plans/a.yaml:5"
    assert loaded.start.tzinfo is not None
    assert loaded.fingerprint() == event("a").fingerprint()


def test_load_shaping_round_trips_and_a_change_of_it_is_a_change(store: DaemonStore) -> None:
    shaping = Shaping(
        PreCondition(timedelta(hours=1), 2, TempUnit.F),
        timedelta(minutes=10),
        timedelta(minutes=15),
        Ramp(0.5, TempUnit.C, timedelta(minutes=2)),
    )
    store.apply_events([event("a", shaping=shaping)], NOW)
    assert store.plan_event("a").shaping == shaping
    changed = event("a", shaping=replace(shaping, randomize_start=timedelta(minutes=5)))
    assert len(store.apply_events([changed], NOW).writes) == 1
    assert store.plan_event("a") == changed
    store.apply_events([event("a")], NOW)
    assert store.plan_event("a").shaping is None


def test_applying_the_same_plan_twice_changes_nothing(store: DaemonStore) -> None:
    plan = [event("a"), event("b", 5)]
    first = store.apply_events(plan, NOW)
    revision = store.plan_revision()
    timeline = store.timeline()
    second = store.apply_events(plan, NOW)
    assert len(first.writes) == 2
    assert second.is_empty
    assert second.unchanged == 2
    assert store.plan_revision() == revision
    assert store.timeline() == timeline


def test_a_planned_event_is_updated_in_place(store: DaemonStore) -> None:
    store.apply_events([event("a")], NOW)
    moved = event("a", 3)
    store.apply_events([moved], NOW)
    assert store.plan_event("a") == moved
    (row,) = store.overview()
    assert row.revision == 2
    assert row.status == Status.PLANNED
    with Session(store.engine) as session:  # the old children are replaced, not added to
        assert session.scalar(select(func.count()).select_from(SignalRow)) == 2


def test_a_pending_event_changed_gets_a_new_revision_for_the_daemon(store: DaemonStore) -> None:
    store.apply_events([event("a")], NOW)
    move(store, "a", Status.PLANNED, Status.SUBMITTING, Status.PENDING)
    store.apply_events([event("a", name="renamed")], NOW)
    (view,) = store.snapshot(NOW)
    assert view.revision == 2
    assert view.status == Status.PENDING
    assert "re-submits" in store.timeline("a")[-1].detail


def test_removals_delete_planned_and_cancel_pending(store: DaemonStore) -> None:
    store.apply_events([event("planned"), event("pending", 5), event("keep", 8)], NOW)
    move(store, "pending", Status.PLANNED, Status.SUBMITTING, Status.PENDING)
    store.apply_events([event("keep", 8)], NOW)
    rows = {r.event_id: r for r in store.overview()}
    assert "planned" not in rows
    assert rows["pending"].cancel_requested
    assert rows["pending"].status == Status.PENDING


def test_a_refused_change_writes_nothing_at_all(store: DaemonStore) -> None:
    store.apply_events([event("active"), event("other", 5)], NOW)
    move(store, "active", Status.PLANNED, Status.SUBMITTING, Status.PENDING, Status.ACTIVE)
    before = (store.overview(), store.timeline(), store.plan_revision())
    with pytest.raises(PlanError, match="is active: the DR service can no longer change it"):
        store.apply_events([event("active", name="late edit"), event("new", 9)], NOW)
    assert (store.overview(), store.timeline(), store.plan_revision()) == before


def test_events_already_over_are_not_stored(store: DaemonStore) -> None:
    diff = store.apply_events([event("past", -3), event("future")], NOW)
    assert [r.event_id for r in store.overview()] == ["future"]
    assert len(diff.items) == 2


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ((Status.PLANNED,), "will not be submitted"),
        ((Status.PLANNED, Status.SUBMITTING, Status.PENDING), "deletes request"),
        (
            (Status.PLANNED, Status.SUBMITTING, Status.PENDING, Status.STANDBY),
            "will still run its part",
        ),
        ((Status.PLANNED, Status.CANCELED), "already canceled"),
    ],
)
def test_cancel_requests_say_what_will_happen(
    store: DaemonStore, path: tuple[Status, ...], says: str
) -> None:
    store.apply_events([event("a")], NOW)
    move(store, "a", *path)
    revision = store.plan_revision()
    message = store.request_cancel("a", NOW)
    assert says in message
    terminal = path[-1].is_terminal
    assert store.plan_revision() == revision + (0 if terminal else 1)
    assert store.overview()[0].cancel_requested is not terminal


def test_thousands_of_events_added_changed_and_removed_in_chunks(store: DaemonStore) -> None:
    """More ids than one ``IN (...)`` list or SQLite bound-parameter limit takes."""
    plan = [event(f"e{n:05}", 1 + n) for n in range(3_000)]
    store.apply_events(plan, NOW)
    moved = [replace(e, name="moved") for e in plan[:1_500]]
    diff = store.apply_events(moved, NOW)
    assert len(diff.writes) == 3_000  # 1,500 changed, 1,500 removed
    with Session(store.engine) as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 1_500
        assert session.scalar(select(func.count()).select_from(SignalRow)) == 3_000
