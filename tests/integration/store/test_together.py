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
from tests.support.stored_events import NOW, move
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


def statements_of(sql: Engine) -> list[tuple[int, str]]:
    """Each statement executed from now on, with the number of its transaction."""
    numbers = itertools.count(1)
    seen: list[tuple[int, str]] = []

    @event.listens_for(sql, "begin")
    def _begun(connection: Any) -> None:
        connection.info["tx"] = next(numbers)

    @event.listens_for(sql, "before_cursor_execute")
    def _executed(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append((connection.info.get("tx", 0), statement.lstrip().upper()))

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
    assert len(set(transactions)) == 1  # one transaction, not one per intent
    assert sorted(i.event_id for i in store.open_intents()) == sorted(ids)
    assert {r.status for r in store.overview()} == {Status.SUBMITTING}
    assert [t.to_status for t in store.timeline()] == [Status.SUBMITTING] * len(ids)
    assert len(counted) == len(ids)  # the metrics hear of each, once committed


def begin_and_end(store: DaemonStore, ids: list[str]) -> None:
    """Submissions begun together, then their outcomes (``pending``) ended together."""
    store.together([partial(store.begin_intent, *submitting(e), NOW) for e in ids])
    pending = [
        Transition(e, Status.SUBMITTING, Status.PENDING, NOW, Source.API, "accepted") for e in ids
    ]
    ends = [
        partial(store.end_intent, submitting(e)[0], "created", change, NOW)
        for e, change in zip(ids, pending, strict=True)
    ]
    assert store.together(ends) == [None] * len(ids)


def test_intents_begun_or_ended_together_cost_the_same_statements_for_3_or_30(
    sql: Engine,
) -> None:
    """One ``executemany`` per statement for a batch, not a round of statements per intent."""
    counted: list[tuple[str, str, str]] = []
    store = DaemonStore(sql, counted=lambda *moved: counted.append(moved))
    few, many = [f"f{n}" for n in range(3)], [f"m{n}" for n in range(30)]
    store.apply_events([plan_event(e) for e in few + many], NOW)
    statements = statements_of(sql)
    begin_and_end(store, few)
    for_few = len(statements)
    begin_and_end(store, many)
    assert len(statements) - for_few == for_few
    assert store.open_intents() == []
    assert {r.status for r in store.overview()} == {Status.PENDING}
    assert len(store.timeline()) == 2 * len(few + many)
    assert len(counted) == 2 * len(few + many)


def test_a_batch_with_an_event_moved_meanwhile_is_written_one_call_at_a_time(
    sql: Engine,
) -> None:
    """``move_all`` cannot tell which event did not move: each call then runs alone."""
    store = DaemonStore(sql)
    store.apply_events([plan_event(e) for e in ("a", "b", "c")], NOW)
    move(store, "b", Status.PLANNED, Status.SUBMITTING)  # another writer was first
    calls = [partial(store.begin_intent, *submitting(e), NOW) for e in ("a", "b", "c")]
    sent = store.together(calls)
    assert [e.event_id for e in sent] == ["a", "b", "c"]
    assert sorted(i.event_id for i in store.open_intents()) == ["a", "b", "c"]
    assert [t.event_id for t in store.timeline()] == ["b", "a", "c"]  # b's move not twice


def activate(store: DaemonStore, ids: list[str]) -> list[Any]:
    """The moves to ``active`` a start's polls record, together."""
    return store.together(
        [
            partial(
                store.record,
                Transition(e, Status.STANDBY, Status.ACTIVE, NOW, Source.API, "request " + e),
            )
            for e in ids
        ]
    )


def test_moves_recorded_together_cost_the_same_statements_for_3_or_30(sql: Engine) -> None:
    counted: list[tuple[str, str, str]] = []
    store = DaemonStore(sql, counted=lambda *moved: counted.append(moved))
    few, many = [f"f{n}" for n in range(3)], [f"m{n}" for n in range(30)]
    store.apply_events([plan_event(e) for e in few + many], NOW)
    for e in few + many:
        move(store, e, Status.PLANNED, Status.SUBMITTING, Status.PENDING, Status.STANDBY)
    counted.clear()
    statements = statements_of(sql)
    assert activate(store, few) == [True] * 3
    for_few = len(statements)
    assert activate(store, many) == [True] * 30
    assert len(statements) - for_few == for_few
    assert {r.status for r in store.overview()} == {Status.ACTIVE}
    active = [t for t in store.timeline() if t.to_status is Status.ACTIVE]
    assert sorted(t.event_id for t in active) == sorted(few + many)
    assert len(counted) == len(few + many)


def test_moves_recorded_together_say_which_event_had_moved_meanwhile(sql: Engine) -> None:
    """An event another writer moved first is not moved, and its caller hears so."""
    store = DaemonStore(sql)
    store.apply_events([plan_event(e) for e in ("a", "b", "c")], NOW)
    for e in ("a", "b", "c"):
        move(store, e, Status.PLANNED, Status.SUBMITTING, Status.PENDING, Status.STANDBY)
    move(store, "b", Status.STANDBY, Status.CANCELED)
    assert activate(store, ["a", "b", "c"]) == [True, False, True]
    assert {r.event_id: r.status for r in store.overview()} == {
        "a": Status.ACTIVE,
        "b": Status.CANCELED,
        "c": Status.ACTIVE,
    }
    assert [t.event_id for t in store.timeline() if t.to_status is Status.ACTIVE] == ["a", "c"]


def test_calls_that_cannot_go_together_run_in_their_place_in_the_same_transaction(
    sql: Engine,
) -> None:
    store = DaemonStore(sql)
    store.apply_events([plan_event(e) for e in ("a", "b", "c")], NOW)
    note = Transition("b", Status.PLANNED, Status.PLANNED, NOW, Source.PLAN, "a note")
    intent_b = Intent("b", IntentKind.CREATE, "b", 1)
    transactions = transactions_of_intents(sql)
    calls = [
        partial(store.begin_intent, *submitting("a"), NOW),
        partial(store.begin_intent, intent_b, note, NOW),  # a note: alone
        partial(store.begin_intent, *submitting("c"), NOW),
    ]
    assert [e.event_id for e in store.together(calls)] == ["a", "b", "c"]
    assert len(transactions) == 3
    assert len(set(transactions)) == 1
    assert [(t.event_id, t.to_status) for t in store.timeline()] == [
        ("a", Status.SUBMITTING),
        ("b", Status.PLANNED),
        ("c", Status.SUBMITTING),
    ]


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


def test_claims_in_one_batch_cost_the_same_statements_for_3_or_30_events(sql: Engine) -> None:
    """A start's claims together, in the same statements; a facility held by an event
    outside the batch is still left to it."""
    few, many = [f"f{n}" for n in range(3)], [f"m{n}" for n in range(30)]
    DaemonStore(sql).apply_events([plan_event(e) for e in [*few, *many, "holder"]], NOW)
    store = ControlStore(sql)

    def key(event_id: str, name: str) -> FacilityKey:
        return FacilityKey("S001", "GW-01", "IDU", f"IDU-{event_id}-{name}")

    store.replace_planned("holder", [planned("holder", key(e, "held")) for e in few + many])
    store.claim("holder", NOW)
    for event_id in few + many:
        keys = [key(event_id, name) for name in ("1", "2", "held")]
        store.replace_planned(event_id, [planned(event_id, k) for k in keys])
    statements = statements_of(sql)
    # each at its own instant, as the daemon claims them (its clock read per event)
    at = {e: NOW + timedelta(microseconds=n) for n, e in enumerate(few + many)}
    taken = store.together([partial(store.claim, e, at[e]) for e in few])
    assert taken == [{key(e, "held"): "holder"} for e in few]
    for_few = len(statements)
    taken = store.together([partial(store.claim, e, at[e]) for e in many])
    assert taken == [{key(e, "held"): "holder"} for e in many]
    assert len(statements) - for_few == for_few
    with Session(sql) as session:
        for event_id in few + many:
            states = {r.key: (r.state, r.reason) for r in records_of(session, event_id)}
            skipped = (ControlState.SKIPPED, "under control of event holder")
            assert states.pop(key(event_id, "held")) == skipped
            assert {state for state, _ in states.values()} == {ControlState.INTENT}
            assert {r.updated_at for r in records_of(session, event_id)} == {at[event_id]}


def test_claims_in_one_batch_at_different_instants_keep_each_its_own(sql: Engine) -> None:
    DaemonStore(sql).apply_events([plan_event("a"), plan_event("b")], NOW)
    store = ControlStore(sql)
    for n, event_id in enumerate(("a", "b")):
        store.replace_planned(event_id, [planned(event_id, FacilityKey("S", "G", "IDU", str(n)))])
    later = NOW + timedelta(seconds=1)
    assert store.together([partial(store.claim, "a", NOW), partial(store.claim, "b", later)]) == [
        {},
        {},
    ]
    with Session(sql) as session:
        claimed = {e: records_of(session, e)[0].updated_at for e in ("a", "b")}
    assert claimed == {"a": NOW, "b": later}


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
