"""The engine's store on real SQLite and PostgreSQL: conditional moves, intents, fencing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sql_event
from sqlalchemy.orm import Session

from scheduler.domain.intents import Intent, IntentKind
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.errors import FencedError
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.store.models import EventRow
from tests.support.stored_events import NOW, event


@pytest.fixture
def store(db_url: str) -> Iterator[DaemonStore]:
    upgrade(db_url)
    engine = open_engine(db_url)
    yield DaemonStore(engine)
    engine.dispose()


def change(event_id: str, before: Status, after: Status, detail: str = "") -> Transition:
    return Transition(event_id, before, after, NOW, Source.API, detail)


def test_a_move_only_happens_from_the_status_it_expects(store: DaemonStore) -> None:
    store.apply_events([event("a")], NOW)
    assert store.record(change("a", Status.PLANNED, Status.SUBMITTING))
    assert not store.record(change("a", Status.PLANNED, Status.CANCELED))  # someone was first
    assert store.overview()[0].status == Status.SUBMITTING
    assert not store.record(change("a", Status.PLANNED, Status.PLANNED, "stale note"))
    assert [t.to_status for t in store.timeline("a")] == [Status.SUBMITTING]


def test_an_intent_stays_open_until_its_outcome_is_recorded(store: DaemonStore) -> None:
    store.apply_events([event("a")], NOW)
    intent = Intent("a", IntentKind.CREATE, "a", 1)
    store.begin_intent(intent, change("a", Status.PLANNED, Status.SUBMITTING), NOW)
    assert store.open_intents() == [intent]
    (view,) = store.snapshot(NOW + timedelta(days=1))
    assert (view.open_intent, view.request_id, view.submitted_revision) == (intent, "a", 1)
    store.end_intent(intent, "created", change("a", Status.SUBMITTING, Status.PENDING), NOW)
    assert store.open_intents() == []
    (view,) = store.snapshot(NOW)
    assert view.open_intent is None
    assert view.status == Status.PENDING


def test_the_snapshot_leaves_out_far_planned_and_terminal_events(store: DaemonStore) -> None:
    store.apply_events([event("soon", 1), event("far", 48), event("done", 2)], NOW)
    store.record(change("done", Status.PLANNED, Status.CANCELED))
    horizon = NOW + timedelta(hours=24)
    assert [v.event_id for v in store.snapshot(horizon)] == ["soon"]
    store.request_cancel("far", NOW)  # a cancel request is due at once, however far
    assert [v.event_id for v in store.snapshot(horizon)] == ["soon", "far"]


def test_the_snapshot_reads_the_events_and_their_intents_only(store: DaemonStore) -> None:
    """Every tick reads it: loading each event's signals and targets too cost most of it
    (200 events at a system-wide start, issue 14). Its views need neither."""
    store.apply_events([event("a", 1), event("b", 2)], NOW)
    statements: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sql_event.listen(store.engine, "before_cursor_execute", executed)
    try:
        views = store.snapshot(NOW + timedelta(days=1))
    finally:
        sql_event.remove(store.engine, "before_cursor_execute", executed)
    assert [v.event_id for v in views] == ["a", "b"]
    assert not [s for s in statements if "event_signals" in s or "event_targets" in s]


def test_a_fenced_write_is_refused_and_rolled_back(store: DaemonStore) -> None:
    store.apply_events([event("a")], NOW)

    def stale_leader(session: Session) -> None:
        raise FencedError("leadership lost: epoch 1, the database says 2")

    fenced = DaemonStore(store.engine, fence=stale_leader)
    with pytest.raises(FencedError):
        fenced.record(change("a", Status.PLANNED, Status.SUBMITTING))
    with pytest.raises(FencedError):
        fenced.apply_events([event("a"), event("b")], NOW)
    assert [(r.event_id, r.status) for r in store.overview()] == [("a", Status.PLANNED)]


def test_instants_come_back_as_utc(store: DaemonStore) -> None:
    store.apply_events([event("a")], NOW)
    (row,) = store.overview()
    assert row.start.tzinfo is not None
    assert row.start == NOW + timedelta(hours=2)
    assert row.start.utcoffset() == UTC.utcoffset(None)


def test_a_submission_records_the_content_it_sends_and_its_revision(store: DaemonStore) -> None:
    """What the DR service will run is what the POST sends, even after a change just before."""
    store.apply_events([event("a")], NOW)
    decided = Intent("a", IntentKind.CREATE, "a", 1)  # the engine decided at revision 1
    changed = event("a", end=NOW + timedelta(hours=5))
    store.apply_events([changed], NOW)  # revision 2 lands before the intent
    store.begin_intent(decided, change("a", Status.PLANNED, Status.SUBMITTING), NOW)
    (view,) = store.snapshot(NOW + timedelta(days=1))
    assert (view.revision, view.submitted_revision) == (2, 2)
    assert not view.changed_since_submission
    assert store.running_event("a") == changed
    assert (view.running_start, view.running_end) == (None, None)


def test_after_a_change_the_snapshot_carries_the_running_window(store: DaemonStore) -> None:
    first = event("a")
    store.apply_events([first], NOW)
    store.begin_intent(Intent("a", IntentKind.CREATE, "a", 1), None, NOW)
    store.record(change("a", Status.PLANNED, Status.PENDING))
    store.apply_events([event("a", end=NOW + timedelta(hours=5))], NOW)
    (view,) = store.snapshot(NOW + timedelta(days=1))
    assert (view.revision, view.submitted_revision) == (2, 1)
    assert (view.running_start, view.running_end) == (first.start, first.end)
    assert (view.runs_from, view.runs_until) == (first.start, first.end)
    assert store.running_event("a") == first
    assert store.plan_event("a").end == NOW + timedelta(hours=5)


def test_content_of_another_revision_is_not_taken_for_the_running_one(store: DaemonStore) -> None:
    """A release before migration 0003 re-submitted without recording the content."""
    first = event("a")
    store.apply_events([first], NOW)
    store.begin_intent(Intent("a", IntentKind.CREATE, "a", 1), None, NOW)
    store.apply_events([event("a", end=NOW + timedelta(hours=5))], NOW)
    store.apply_events([event("a", end=NOW + timedelta(hours=6))], NOW)
    with Session(store.engine) as session, session.begin():
        row = session.get(EventRow, "a")
        assert row is not None
        row.submitted_revision = 2  # what the older release wrote: no content for it
    (view,) = store.snapshot(NOW + timedelta(days=1))
    assert (view.running_start, view.running_end) == (None, None)
    assert store.running_event("a") == store.plan_event("a")
