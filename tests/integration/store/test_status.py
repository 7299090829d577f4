"""The queries behind ``drsched status``, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.leadership.postgres import PostgresElector, Timing
from scheduler.store import open_engine
from scheduler.store import status as queries
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.store.reader import Reader, open_reader

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
LEAD = timedelta(hours=1)
FAST = Timing(retry_interval=0.2, check_interval=0.2, check_timeout=2.0, idle_session_timeout=1.0)


def event(event_id: str, start_in: timedelta, length: timedelta = timedelta(hours=1)) -> PlanEvent:
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=NOW + start_in,
        end=NOW + start_in + length,
        signals=(Signal("s1", "SIMPLE", "level", ("x-DEVICE_TV",)),),
        targets=(EventTarget("CE-02"),),
        name=f"name of {event_id}",
    )


def move(store: DaemonStore, event_id: str, *path: Status, at: datetime = NOW) -> None:
    current = Status.PLANNED
    for status in path:
        detail = "window missed" if status == Status.FAILED else ""
        assert store.record(Transition(event_id, current, status, at, Source.CLOCK, detail))
        current = status


@pytest.fixture
def store(db_url: str) -> Iterator[DaemonStore]:
    upgrade(db_url)
    engine = open_engine(db_url)
    store = DaemonStore(engine)
    store.apply_events(
        [
            event("later", timedelta(hours=30)),  # submit in 29 h
            event("soon", timedelta(minutes=30)),  # its submission is overdue
            event("flying", timedelta(hours=2)),
            event("active", timedelta(minutes=-10)),  # ends in 50 min
            event("done", timedelta(hours=-5)),
            event("failed-today", timedelta(hours=-2)),
            event("failed-long-ago", timedelta(days=-3)),
        ],
        NOW - timedelta(days=4),
    )
    move(store, "flying", Status.SUBMITTING, Status.PENDING)
    move(store, "active", Status.SUBMITTING, Status.PENDING, Status.ACTIVE)
    move(store, "done", Status.SUBMITTING, Status.PENDING, Status.ACTIVE, Status.COMPLETED)
    move(store, "failed-today", Status.FAILED, at=NOW - timedelta(hours=2))
    move(store, "failed-long-ago", Status.FAILED, at=NOW - timedelta(days=3))
    yield store
    engine.dispose()


@contextmanager
def reading(store: DaemonStore) -> Iterator[Reader]:
    """A read-only :class:`Reader` on the store's database, as ``drsched status`` reads."""
    with open_reader(store.engine.url.render_as_string(hide_password=False)) as reader:
        yield reader


def test_counts_every_status_zeros_included(store: DaemonStore) -> None:
    with reading(store) as reader:
        counts = queries.counts(reader)
    assert counts == {
        Status.PLANNED: 2,
        Status.SUBMITTING: 0,
        Status.PENDING: 1,
        Status.STANDBY: 0,
        Status.ACTIVE: 1,
        Status.COMPLETED: 1,
        Status.CANCELED: 0,
        Status.FAILED: 2,
    }


def test_next_actions_soonest_first_with_overdue_submissions_due_now(store: DaemonStore) -> None:
    with reading(store) as reader:
        actions = queries.next_actions(reader, NOW, LEAD, limit=6)
    assert [(a.at - NOW, a.action, a.event_id, a.overdue) for a in actions] == [
        (timedelta(0), "submit", "soon", True),
        (timedelta(minutes=30), "window starts", "soon", False),
        (timedelta(minutes=50), "window ends", "active", False),
        (timedelta(minutes=90), "window ends", "soon", False),
        (timedelta(hours=2), "window starts", "flying", False),
        (timedelta(hours=3), "window ends", "flying", False),
    ]
    with reading(store) as reader:
        everything = queries.next_actions(reader, NOW, LEAD, limit=50)
    assert ("submit", "later") in [(a.action, a.event_id) for a in everything]
    assert NOW + timedelta(hours=29) in [a.at for a in everything if a.event_id == "later"]


def test_a_cancel_requested_planned_event_is_not_going_to_be_submitted(
    store: DaemonStore,
) -> None:
    store.request_cancel("soon", NOW)
    with reading(store) as reader:
        actions = queries.next_actions(reader, NOW, LEAD, limit=50)
    assert ("submit", "soon") not in [(a.action, a.event_id) for a in actions]


def test_in_flight_lists_submitted_events_not_over(store: DaemonStore) -> None:
    with reading(store) as reader:
        shown, total = queries.in_flight(reader)
        first, same_total = queries.in_flight(reader, limit=1)
    assert [(e.event_id, e.status) for e in shown] == [
        ("active", Status.ACTIVE),
        ("flying", Status.PENDING),
    ]
    assert total == same_total == 2
    assert [e.event_id for e in first] == ["active"]


def test_recent_failures_only_since_with_their_detail(store: DaemonStore) -> None:
    with reading(store) as reader:
        failures = queries.recent_failures(reader, NOW - timedelta(hours=24))
    assert [(f.event_id, f.from_status, f.source, f.detail) for f in failures] == [
        ("failed-today", Status.PLANNED, "clock", "window missed")
    ]
    assert failures[0].at == NOW - timedelta(hours=2)
    assert failures[0].name == "name of failed-today"


async def test_the_lease_as_postgresql_sees_it(pg_url: str) -> None:
    upgrade(pg_url)
    engine = open_engine(pg_url)
    with Session(engine) as session:
        nobody = queries.read_lease(session)
    assert (nobody.epoch, nobody.lock_pid, nobody.instances, nobody.standbys) == (None, None, 0, 0)

    leader = PostgresElector(pg_url, holder="host-a:1", timing=FAST)
    standby = PostgresElector(pg_url, holder="host-b:2", timing=FAST)
    await leader.acquire()
    waiting = asyncio.create_task(standby.acquire())
    try:
        async with asyncio.timeout(10):
            while True:  # until the standby's first attempt has connected
                with Session(engine) as session:
                    lease = queries.read_lease(session)
                if lease.instances == 2:
                    break
                await asyncio.sleep(FAST.retry_interval)
        with Session(engine) as session:
            backend = session.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = 'drsched-leader'")
            ).scalars()
            pids = set(backend)
        assert (lease.epoch, lease.holder) == (1, "host-a:1")
        assert lease.lock_pid in pids
        assert (lease.instances, lease.standbys) == (2, 1)
        assert lease.heartbeat_age is not None
        assert timedelta(0) <= lease.heartbeat_age < timedelta(seconds=5)
    finally:
        waiting.cancel()
        await standby.close()
        await leader.close()
    async with asyncio.timeout(5):  # the server ends the closed session a moment later
        while True:
            with Session(engine) as session:
                gone = queries.read_lease(session)
            if gone.lock_pid is None:
                break
            await asyncio.sleep(FAST.retry_interval)
    assert (gone.epoch, gone.holder, gone.lock_pid) == (1, "host-a:1", None)
    engine.dispose()
