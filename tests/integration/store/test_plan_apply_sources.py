"""``plan apply`` owns only plan-file events: a VTN's events stay; an id clash names both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from scheduler.domain.events import PlanEvent
from scheduler.domain.plan_diff import Change
from scheduler.domain.sources import openadr_source
from scheduler.errors import PlanError
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.store.plan_apply import preview
from tests.support.stored_events import NOW, event


@pytest.fixture
def store(db_url: str) -> Iterator[DaemonStore]:
    upgrade(db_url)
    engine = open_engine(db_url)
    yield DaemonStore(engine)
    engine.dispose()


def vtn_event(event_id: str) -> PlanEvent:
    return replace(event(event_id, 5), source=openadr_source("VTN-1", event_id, 2))


def test_apply_never_removes_or_changes_an_event_from_a_vtn(store: DaemonStore) -> None:
    store.apply_events([vtn_event("oadr-1")], NOW)
    diff = store.apply_events([event("plan-1")], NOW)
    assert [i.event_id for i in diff.writes] == ["plan-1"]
    assert {s.event_id: s.source for s in store.overview()} == {
        "oadr-1": "openadr VTN-1 oadr-1 mod 2",
        "plan-1": "plans/a.yaml:5",
    }
    removal = store.apply_events([], NOW)
    assert [(i.change, i.event_id) for i in removal.writes] == [(Change.DELETE, "plan-1")]
    assert [s.event_id for s in store.overview()] == ["oadr-1"]


def test_an_id_clash_with_a_vtn_event_is_refused_naming_both(store: DaemonStore) -> None:
    store.apply_events([vtn_event("peak")], NOW)
    with pytest.raises(PlanError) as caught:
        store.apply_events([event("peak"), event("other", 9)], NOW)
    assert str(caught.value) == (
        "plans/a.yaml:5:1: event id 'peak' is already taken by an event from "
        "openadr VTN-1 peak mod 2"
    )
    assert [s.event_id for s in store.overview()] == ["peak"]
    assert preview(store.engine, [event("peak")], NOW).refused
