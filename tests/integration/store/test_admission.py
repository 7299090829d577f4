"""Events from other sources pass the same DR program gate, counting stored events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from scheduler.admission import admit_events
from scheduler.domain.dr_programs import Period, ProgramRules
from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.errors import PlanError
from scheduler.store import open_engine
from scheduler.store.migrate import upgrade
from scheduler.store.models import EventRow
from scheduler.store.plan_apply import apply_plan

RULES = [ProgramRules("cbp", ZoneInfo("America/New_York"), max_events={Period.DAY: 1})]
START = datetime(2027, 7, 9, 18, tzinfo=UTC)


def event(event_id: str, hours_later: int, source: str = "") -> PlanEvent:
    start = START + timedelta(hours=hours_later)
    return PlanEvent(
        event_id,
        "vtn01",
        start,
        start + timedelta(hours=1),
        (Signal("1", "SIMPLE", "level", ("x-DEVICE_TV",)),),
        (EventTarget("CE-02"),),
        dr_program="cbp",
        source=source,
    )


def test_an_openadr_event_is_refused_when_the_day_is_used(db_url: str) -> None:
    upgrade(db_url)
    engine = open_engine(db_url)
    try:
        apply_plan(engine, [event("ran", 0)], START - timedelta(days=1))
        with Session(engine) as session, session.begin():
            session.execute(update(EventRow).values(status="completed"))
        admit_events(engine, [event("next-day", 24)], RULES)
        with pytest.raises(PlanError) as caught:
            admit_events(engine, [event("vtn-42", 3, "openadr vtn01 event 42")], RULES)
    finally:
        engine.dispose()
    assert [str(p) for p in caught.value.problems] == [
        "openadr vtn01 event 42: program cbp: 2 events in 2027-07-09 on VEN CE-02, limit 1: "
        "ran, vtn-42 (1 already stored: ran)"
    ]
