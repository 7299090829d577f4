"""HVAC control records in SQL (SQLite and PostgreSQL): the controller's store, the CLI's reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy import event as sql_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduler.domain.control_records import HELD, ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.store import open_engine
from scheduler.store.control import ControlStore, records_of, under_control
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import alembic_config, upgrade
from tests.support.fakes.hvac import event
from tests.support.harness.control_store import T0, stores

__all__ = ["stores"]  # a fixture: pytest finds it here by name

S = ControlState


def record(event_id: str, n: int, state: ControlState = S.PLANNED) -> ControlRecord:
    return ControlRecord(
        event_id,
        FacilityKey("S001", "GW-01", "IDU", f"IDU-{n:04d}"),
        state,
        window_end=T0 + timedelta(hours=1),
        created_at=T0,
        updated_at=T0,
        reason="cool: 24 °C + offset 2 °C -> 26 °C",
        unit=TempUnit.C,
        mode=Mode.COOL,
        original=24.0,
        target=26.0,
        due_at=T0 + timedelta(hours=1),
    )


def _with_events(daemon: DaemonStore, *event_ids: str) -> None:
    daemon.apply_events([event(e, T0) for e in event_ids], T0 - timedelta(days=1))


def test_prepare_mark_save_and_read_back(stores: tuple[ControlStore, DaemonStore]) -> None:
    store, daemon = stores
    _with_events(daemon, "ev")
    store.replace_planned("ev", [record("ev", n) for n in range(250)])
    store.replace_planned("ev", [record("ev", n) for n in range(3)])  # prepared again
    assert len(store.open_records()) == 3
    assert store.claim("ev", T0) == {}
    assert {r.state for r in store.open_records()} == {S.INTENT}
    applied = replace(
        record("ev", 1, S.APPLIED), applied_at=T0, due_at=T0 + timedelta(minutes=5), updated_at=T0
    )
    store.save([applied])
    got = {r.key.facility_id: r for r in store.open_records()}
    assert got["IDU-0001"] == applied
    assert (got["IDU-0000"].state, got["IDU-0000"].due_at) == (S.INTENT, None)


def test_replace_planned_keeps_records_in_other_states(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    store, daemon = stores
    _with_events(daemon, "ev")
    store.insert([record("ev", 1, S.OPTED_OUT), record("ev", 2, S.SKIPPED)])
    store.replace_planned("ev", [record("ev", 1), record("ev", 2), record("ev", 3)])
    with Session(store.engine) as session:
        states = {r.key.facility_id: r.state for r in records_of(session, "ev")}
    assert states == {"IDU-0001": S.OPTED_OUT, "IDU-0002": S.PLANNED, "IDU-0003": S.PLANNED}


def test_thousands_of_records_in_one_save(stores: tuple[ControlStore, DaemonStore]) -> None:
    store, daemon = stores
    _with_events(daemon, "ev")
    store.replace_planned("ev", [record("ev", n) for n in range(3000)])
    assert store.claim("ev", T0) == {}
    store.save([replace(r, state=S.APPLIED, applied_at=T0) for r in store.open_records()])
    assert {r.state for r in store.open_records()} == {S.APPLIED}


def test_event_statuses_and_unstarted_events(stores: tuple[ControlStore, DaemonStore]) -> None:
    store, daemon = stores
    _with_events(daemon, "a", "b", "c")
    for event_id in ("a", "b"):
        for status in (Status.SUBMITTING, Status.PENDING, Status.STANDBY, Status.ACTIVE):
            previous = daemon.overview()
            current = next(r.status for r in previous if r.event_id == event_id)
            daemon.record(Transition(event_id, current, status, T0, Source.API, ""))
    store.replace_planned("a", [record("a", 1)])  # prepared only: not started
    store.insert([record("b", 2, S.APPLIED)])
    assert store.event_statuses(["a", "c", "gone"]) == {"a": Status.ACTIVE, "c": Status.PLANNED}
    assert [e.event_id for e in store.unstarted_events(T0)] == ["a"]
    assert store.unstarted_events(T0 + timedelta(hours=2)) == []
    assert store.plan_event("b").end == T0 + timedelta(hours=1)


def test_under_control_lists_held_facilities_only(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    store, daemon = stores
    _with_events(daemon, "ev")
    store.insert(
        [
            record("ev", 1, S.PLANNED),
            record("ev", 2, S.APPLIED),
            record("ev", 3, S.RESTORING),
            record("ev", 4, S.RESTORED),
        ]
    )
    with Session(store.engine) as session:
        held = [r.key.facility_id for r in under_control(session)]
    assert held == ["IDU-0002", "IDU-0003"]


def test_fenced_writes_are_refused(stores: tuple[ControlStore, DaemonStore]) -> None:
    store, daemon = stores
    _with_events(daemon, "ev")

    def stale(session: Session) -> None:
        raise RuntimeError("not the leader any more")

    fenced = ControlStore(store.engine, fence=stale)
    with pytest.raises(RuntimeError, match="not the leader"):
        fenced.insert([record("ev", 1)])
    assert store.open_records() == []


def test_migration_0002_up_and_down(db_url: str) -> None:
    upgrade(db_url, "0001")
    engine = open_engine(db_url)
    try:
        assert "facility_controls" not in inspect(engine).get_table_names()
        upgrade(db_url)
        assert "facility_controls" in inspect(engine).get_table_names()
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        assert "facility_controls" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _active(daemon: DaemonStore, *event_ids: str) -> None:
    for event_id in event_ids:
        for status in (Status.SUBMITTING, Status.PENDING, Status.STANDBY, Status.ACTIVE):
            current = next(r.status for r in daemon.overview() if r.event_id == event_id)
            daemon.record(Transition(event_id, current, status, T0, Source.API, ""))


def test_an_event_with_planned_and_skipped_records_is_unstarted(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    """Issue 10 bug 1: a skipped ODU (or a unit that is off) is no sign that control started."""
    store, daemon = stores
    _with_events(daemon, "a", "b", "c")
    _active(daemon, "a", "b", "c")
    store.replace_planned("a", [record("a", 1), record("a", 2, S.SKIPPED)])
    store.replace_planned("b", [record("b", 1, S.SKIPPED)])
    store.insert([record("c", 1, S.SKIPPED), record("c", 2, S.RESTORED)])
    assert [e.event_id for e in store.unstarted_events(T0)] == ["a", "b"]
    assert [store.started(e) for e in ("a", "b", "c", "none")] == [False, False, True, False]


# -- issue 10 bug 4: one holder per facility, owned by the database ----------------------


def test_claim_leaves_facilities_another_event_holds_to_it(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    store, daemon = stores
    _with_events(daemon, "a", "b")
    store.insert([record("a", 1, S.APPLIED), record("a", 2, S.RESTORED)])
    store.replace_planned("b", [record("b", n) for n in (1, 2, 3)])
    taken = store.claim("b", T0)
    assert taken == {record("b", 1).key: "a"}
    with Session(store.engine) as session:
        got = {r.key.facility_id: (r.state, r.reason) for r in records_of(session, "b")}
    assert got["IDU-0001"] == (S.SKIPPED, "under control of event a")
    assert (got["IDU-0002"][0], got["IDU-0003"][0]) == (S.INTENT, S.INTENT)
    assert store.claim("a", T0) == {}, "nothing planned: nothing to claim"


def test_the_database_refuses_a_second_holder_whatever_the_code_does(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    store, daemon = stores
    _with_events(daemon, "a", "b")
    store.insert([record("a", 1, S.RESTORING)])
    with pytest.raises(IntegrityError):
        store.insert([record("b", 1, S.INTENT)])
    store.insert([record("b", 1, S.SKIPPED), record("b", 2, S.PLANNED)])
    with pytest.raises(IntegrityError):
        store.save([replace(record("b", 1), state=S.APPLIED)])
    store.save([replace(record("a", 1), state=S.RESTORE_FAILED)])  # final: the unit is free
    store.save([replace(record("b", 1), state=S.APPLIED)])
    assert {r.key.facility_id: r.event_id for r in store.open_records() if r.state in HELD} == {
        "IDU-0001": "b"
    }
    assert {(r.event_id, r.key.facility_id) for r in store.open_records("b")} == {
        ("b", "IDU-0001"),
        ("b", "IDU-0002"),
    }, "one event's open records (Reconcile.event)"


def test_migration_0003_resolves_facilities_held_twice(db_url: str) -> None:
    """A database a bug-4 race left with two holders: upgrading keeps one, and says why."""
    upgrade(db_url)
    engine = open_engine(db_url)
    try:
        store, daemon = ControlStore(engine), DaemonStore(engine)
        _with_events(daemon, "a", "b", "c")  # through today's models, at head
        _downgrade(engine, "0002")  # the events stay; the one-holder index goes
        first = replace(record("a", 1, S.APPLIED), original=24.0, target=26.0, applied_at=T0)
        later = timedelta(seconds=5)
        second = replace(
            record("b", 1, S.RESTORING),
            original=26.0,
            target=27.0,
            created_at=T0 + later,
            applied_at=T0 + later,
            due_at=None,
        )
        alone = record("c", 2, S.APPLIED)
        store.insert([first, second, alone])
        upgrade(db_url)
        with Session(engine) as session:
            a, b, c = (records_of(session, e)[0] for e in ("a", "b", "c"))
        assert (a.state, a.original, a.target) == (S.APPLIED, 24.0, 27.0)
        assert b.state is S.SKIPPED
        assert "event a also held the facility" in b.detail
        assert c == alone
        with pytest.raises(IntegrityError):
            store.save([replace(b, state=S.APPLIED)])
        _downgrade(engine, "0002")
        upgrade(db_url)
    finally:
        engine.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _stored(store: ControlStore, event_id: str) -> list[tuple[object, ...]]:
    """The event's rows as the database holds them (text on SQLite), but its id and site."""
    with store.engine.connect() as connection:
        rows = connection.execute(  # untyped text: the values as stored
            text("SELECT * FROM facility_controls WHERE event_id = :e ORDER BY facility_id"),
            {"e": event_id},
        )
        names = list(rows.keys())
        return [
            tuple(v for n, v in zip(names, row, strict=True) if n not in ("event_id", "site"))
            for row in rows
        ]


def test_a_save_writes_what_sqlalchemy_itself_writes(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    """``save`` goes past SQLAlchemy's per-row binds (issue 14): the stored values must not
    change form (SQLite compares instants as text)."""
    store, daemon = stores
    _with_events(daemon, "by-sqlalchemy", "by-save")
    at = T0 + timedelta(seconds=1, microseconds=250)
    values = [
        replace(record("", 1, S.RESTORED), applied_at=at, restored_at=at, restored=24.5),
        replace(record("", 2, S.APPLIED), pre_target=25.0, pre_at=at, mode=None, unit=None),
    ]
    other_site = [replace(r, key=replace(r.key, site="S002")) for r in values]  # one holder
    store.insert([replace(r, event_id="by-sqlalchemy") for r in other_site])
    store.insert([replace(r, event_id="by-save", state=S.PLANNED, due_at=None) for r in values])
    store.save([replace(r, event_id="by-save") for r in values])
    assert _stored(store, "by-save") == _stored(store, "by-sqlalchemy")
    assert store.open_records("by-save") == [replace(values[1], event_id="by-save")]


def test_the_saves_of_one_batch_are_one_statement(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    store, daemon = stores
    _with_events(daemon, "ev")
    store.insert([record("ev", n) for n in range(3)])
    updates: list[str] = []

    def executed(connection: object, cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE FACILITY_CONTROLS"):
            updates.append(statement)

    applied = [replace(record("ev", n, S.APPLIED), attempts=n) for n in range(3)]
    sql_event.listen(store.engine, "before_cursor_execute", executed)
    try:
        store.together([partial(store.save, applied[:2]), partial(store.save, applied[2:])])
    finally:
        sql_event.remove(store.engine, "before_cursor_execute", executed)
    assert len(updates) == 1
    assert store.open_records("ev") == applied


def test_a_claim_finds_its_event_s_rows_by_the_event(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    """Not every row in a state: with 5,000 ``planned`` at a system-wide start, the claims
    read them all (the state index alone: 1–2 ms a claim on SQLite, issue 14).

    The plan of each statement a claim runs must search ``facility_controls`` by
    ``event_id``. SQLite says which index and columns it searches by (``EXPLAIN QUERY
    PLAN``); PostgreSQL's plan depends on its statistics, so it is asked on SQLite only.
    """
    store, daemon = stores
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the query plan is checked on SQLite; PostgreSQL plans by statistics")
    _with_events(daemon, "a", "b")
    store.insert([record("a", n) for n in range(20)])
    store.insert([replace(record("b", n), event_id="b") for n in range(20, 40)])
    executed: list[tuple[str, object]] = []

    def seen(_c: object, _cur: object, statement: str, parameters: object, *_: object) -> None:
        if "facility_controls" in statement and not statement.startswith("EXPLAIN"):
            executed.append((statement, parameters))

    sql_event.listen(store.engine, "before_cursor_execute", seen)
    try:
        store.claim("a", T0)
    finally:
        sql_event.remove(store.engine, "before_cursor_execute", seen)
    assert len(executed) == 2  # the holders, then the claim
    with store.engine.connect() as connection:
        for statement, parameters in executed:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            searches = [row[3] for row in plan if " facility_controls " in f" {row[3]} "]
            assert searches, statement
            assert all("event_id=?" in search for search in searches), searches
