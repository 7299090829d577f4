"""The plain-SQL reads of the read-only commands say what the ORM's reads say.

``events list/show`` and ``status`` read through :mod:`scheduler.store.reader` (issue 14);
the daemon and the other commands through the ORM. Both read the same rows: each read is
compared with its ORM twin on one database with every kind of value (bounds and units,
resources, shaping, names, requests, transitions, facilities pre-conditioned and not),
on SQLite and PostgreSQL, so that a column added to one and not the other fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import PlanEvent, TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.domain.intents import Intent, IntentKind
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.plans import load_plans
from scheduler.store import event_reads as reads
from scheduler.store import events as repo
from scheduler.store import open_engine
from scheduler.store.control import ControlStore, records_of
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.store.models import EventRow
from scheduler.store.reader import Reader, open_reader

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SHAPED = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-09, resources: [R1, R2]}]
  signals:
    - {name: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER], min_temp: 18.5, max_temp: 23,
       temp_offset: 2.5, unit: C}
events:
  - id: shaped
    name: Shaped "peak" – with a dash
    start: 2031-07-15 14:00
    end: 2031-07-15 16:00
    randomize_start: 10m
    restore: {stagger: 20m, ramp: 1F/5m}
"""


@pytest.fixture
def stored(db_url: str, tmp_path: Path) -> Iterator[str]:
    upgrade(db_url)
    (tmp_path / "shaped.yaml").write_text(SHAPED)
    plans = [*sorted((ROOT / "config" / "plans").glob("*.yaml")), tmp_path / "shaped.yaml"]
    engine = open_engine(db_url)
    try:
        store = DaemonStore(engine)
        store.apply_events(load_plans(plans), NOW)
        first = store.overview()[0].event_id
        intent = Intent(first, IntentKind.CREATE, f"{first}-r1", 1)
        submit = Transition(first, Status.PLANNED, Status.SUBMITTING, NOW, Source.CLOCK, "due")
        store.begin_intent(intent, submit, NOW)
        pending = Transition(first, Status.SUBMITTING, Status.PENDING, NOW, Source.API, "201")
        store.end_intent(intent, "created", pending, NOW + timedelta(seconds=1))
        store.request_cancel("shaped", NOW)
        ControlStore(engine).insert([_facility(1, pre=True), _facility(2, pre=False)])
        yield db_url
    finally:
        engine.dispose()


def _facility(n: int, *, pre: bool) -> ControlRecord:
    return ControlRecord(
        "shaped",
        FacilityKey("S001", "GW-01", "IDU", f"IDU-{n:04d}"),
        ControlState.APPLIED,
        window_end=NOW + timedelta(hours=2),
        created_at=NOW,
        updated_at=NOW + timedelta(seconds=n),
        reason="cool",
        unit=TempUnit.C,
        mode=Mode.COOL,
        original=24.0,
        target=25.5,
        applied_at=NOW,
        due_at=NOW + timedelta(minutes=5),
        pre_target=25.5 if pre else None,
        pre_at=NOW if pre else None,
    )


@pytest.fixture
def both(stored: str) -> Iterator[tuple[Reader, Session]]:
    engine = open_engine(stored)
    try:
        with open_reader(stored) as reader, Session(engine) as session:
            yield reader, session
    finally:
        engine.dispose()


def test_every_listing_is_the_orms(both: tuple[Reader, Session]) -> None:
    reader, session = both
    orm = repo.list_events(session)
    assert len(orm) > 40
    assert reads.list_events(reader, reads.EventFilter()) == orm
    assert reads.count_events(reader, reads.EventFilter()) == len(orm)
    page = reads.list_events(reader, reads.EventFilter(), limit=7, offset=3)
    assert page == orm[3:10]
    recent = datetime(2031, 7, 15, tzinfo=UTC)
    for chosen, kwargs in [
        (reads.EventFilter(statuses=[Status.PENDING]), {"statuses": [Status.PENDING]}),
        (
            reads.EventFilter(unfinished_or_ended_after=recent),
            {"unfinished_or_ended_after": recent},
        ),
    ]:
        assert reads.list_events(reader, chosen) == repo.list_events(session, **kwargs)


def test_every_event_shows_what_the_orm_loads(both: tuple[Reader, Session]) -> None:
    reader, session = both
    for row in session.query(EventRow).all():
        detail = reads.event_detail(reader, row.event_id)
        assert detail.summary == repo.summary(row)
        assert detail.event == repo.to_plan_event(row)
        assert detail.created_at == row.created_at
        assert reads.timeline(reader, row.event_id) == repo.timeline(session, row.event_id)
        assert reads.control_records(reader, row.event_id) == records_of(session, row.event_id)
        sent = [
            (i.kind, i.request_id, i.revision, i.begun_at, i.outcome, i.ended_at)
            for i in repo.intents_of(session, row.event_id)
        ]
        assert [
            (r.kind, r.request_id, r.revision, r.begun_at, r.outcome, r.ended_at)
            for r in reads.requests_sent(reader, row.event_id)
        ] == sent


def test_the_values_that_differ_by_backend_come_back_the_same(
    both: tuple[Reader, Session],
) -> None:
    """JSON, booleans, floats, instants and text with quotes: what a driver hands back as
    text on one backend and as a value on the other."""
    reader, _ = both
    detail = reads.event_detail(reader, "shaped")
    event: PlanEvent = detail.event
    assert detail.summary.cancel_requested is True
    assert detail.summary.name == 'Shaped "peak" – with a dash'
    assert [(t.ven_id, t.resource_ids) for t in event.targets] == [("CE-09", ("R1", "R2"))]
    (signal,) = event.signals
    assert (signal.min_temp, signal.max_temp, signal.temp_offset) == (18.5, 23.0, 2.5)
    assert signal.unit == TempUnit.C
    assert event.shaping is not None
    assert event.shaping.randomize_start == timedelta(minutes=10)
    assert detail.summary.start == datetime(2031, 7, 15, 14, tzinfo=UTC)
    facilities = reads.control_records(reader, "shaped")
    assert [(f.pre_target, f.pre_at, f.preconditioning) for f in facilities] == [
        (25.5, NOW, True),
        (None, None, False),
    ]
    with pytest.raises(Exception, match="nosuch"):
        reads.event_detail(reader, "nosuch")
