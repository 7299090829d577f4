"""Many store calls as one transaction (``together``, issue 14), on SQLite and PostgreSQL.

A tick's writes go to the store together (``StoreGateway.batch``): one fenced
transaction. Should a call fail, nothing of the batch is written and each call runs
again alone (its own error to its caller, the others written); a failure of the
transaction writes nothing at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.intents import Intent, IntentKind
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.errors import FencedError
from scheduler.store import open_engine
from scheduler.store.control import ControlStore, records_of
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.stored_events import NOW
from tests.support.stored_events import event as plan_event


@pytest.fixture
def sql(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    engine = open_engine(db_url, busy_timeout=2)  # a wait for a lock fails fast
    yield engine
    engine.dispose()


def transactions_of_intents(sql: Engine) -> list[int]:
    """For each INSERT into ``intents`` from now on, the number of its transaction."""
    numbers = itertools.count(1)
    seen: list[int] = []

    @event.listens_for(sql, "begin")
    def _begun(connection: Any) -> None:
        connection.info["tx"] = next(numbers)

    @event.listens_for(sql, "before_cursor_execute")
    def _executed(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO INTENTS"):
            seen.append(connection.info["tx"])

    return seen


def submitting(event_id: str) -> tuple[Intent, Transition]:
    change = Transition(event_id, Status.PLANNED, Status.SUBMITTING, NOW, Source.CLOCK, "")
    return Intent(event_id, IntentKind.CREATE, event_id, 1), change


def alone_error(store: DaemonStore, event_id: str) -> Exception:
    """What ``begin_intent`` raises for an event no longer stored, outside any batch."""
    with pytest.raises(Exception) as raised:  # noqa: PT011  # whatever it is, the batch must match
        store.begin_intent(*submitting(event_id), NOW)
    assert isinstance(raised.value, Exception)
    return raised.value


def test_n_intents_are_written_in_one_transaction(sql: Engine) -> None:
    counted: list[tuple[str, str, str]] = []
    store = DaemonStore(sql, counted=lambda *moved: counted.append(moved))
    ids = [f"e{n}" for n in range(12)]
    store.apply_events([plan_event(e) for e in ids], NOW)
    transactions = transactions_of_intents(sql)
    calls = [partial(store.begin_intent, *submitting(e), NOW) for e in ids]
    sent = store.together(calls)
    assert sent == [store.running_event(e) for e in ids]  # each the content its POST sends
    assert len(transactions) == len(ids)
    assert len(set(transactions)) == 1  # one transaction, not one per intent
    assert sorted(i.event_id for i in store.open_intents()) == sorted(ids)
    assert {r.status for r in store.overview()} == {Status.SUBMITTING}
    assert len(counted) == len(ids)  # the metrics hear of each, once committed


def test_a_call_that_fails_mid_batch_leaves_nothing_of_itself_and_the_others_go_alone(
    sql: Engine,
) -> None:
    store = DaemonStore(sql)
    store.apply_events([plan_event("a"), plan_event("c")], NOW)
    calls = [partial(store.begin_intent, *submitting(e), NOW) for e in ("a", "gone", "c")]
    first, failed, last = store.together(calls)
    assert (first.event_id, last.event_id) == ("a", "c")
    assert type(failed) is type(alone_error(store, "gone"))  # the error it raises alone
    assert sorted(i.event_id for i in store.open_intents()) == ["a", "c"]
    assert [t.event_id for t in store.timeline()] == ["a", "c"]  # no half of "gone"


def test_a_failed_transaction_writes_nothing_and_raises(sql: Engine) -> None:
    def stale(session: Session) -> None:
        raise FencedError("this instance no longer leads (epoch 2 > 1)")

    counted: list[tuple[str, str, str]] = []
    DaemonStore(sql).apply_events([plan_event("a"), plan_event("b")], NOW)
    store = DaemonStore(sql, fence=stale, counted=lambda *moved: counted.append(moved))
    calls = [partial(store.begin_intent, *submitting(e), NOW) for e in ("a", "b")]
    with pytest.raises(FencedError):
        store.together(calls)
    assert store.open_intents() == []
    assert {r.status for r in store.overview()} == {Status.PLANNED}
    assert counted == []


def test_reads_in_a_batch_see_its_writes_and_do_not_wait_for_its_lock(sql: Engine) -> None:
    """On SQLite a read on a connection of its own would wait for the batch's write lock."""
    store = DaemonStore(sql)
    store.apply_events([plan_event("a")], NOW)
    written, running = store.together(
        [partial(store.begin_intent, *submitting("a"), NOW), partial(store.running_event, "a")]
    )
    assert written == running
    assert running.event_id == "a"
    assert store.open_intents() == [submitting("a")[0]]


def test_one_call_alone_runs_as_outside_a_batch(sql: Engine) -> None:
    store = DaemonStore(sql)
    (result,) = store.together([partial(store.begin_intent, *submitting("gone"), NOW)])
    assert type(result) is type(alone_error(store, "gone"))
    assert store.open_intents() == []


def test_claims_in_one_batch_still_give_a_facility_to_one_event(sql: Engine) -> None:
    DaemonStore(sql).apply_events([plan_event("a"), plan_event("b")], NOW)
    store = ControlStore(sql)
    key = FacilityKey("S001", "GW-01", "IDU", "IDU-01")
    for event_id in ("a", "b"):
        store.replace_planned(event_id, [planned(event_id, key)])
    taken = store.together([partial(store.claim, e, NOW) for e in ("a", "b")])
    assert taken == [{}, {key: "a"}]  # the second sees the first's claim in the same transaction
    with Session(sql) as session:
        states = {e: records_of(session, e)[0].state for e in ("a", "b")}
    assert states == {"a": ControlState.INTENT, "b": ControlState.SKIPPED}


def planned(event_id: str, key: FacilityKey) -> ControlRecord:
    return ControlRecord(
        event_id=event_id,
        key=key,
        state=ControlState.PLANNED,
        window_end=NOW + timedelta(hours=3),
        created_at=NOW,
        updated_at=NOW,
        unit=TempUnit.F,
        original=75.0,
        target=79.0,
    )
