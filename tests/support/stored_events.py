"""A plan event as the store tests write it, and moving a stored event through statuses."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.store.daemon import DaemonStore

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def event(event_id: str, hours_ahead: float = 2, **changes: Any) -> PlanEvent:
    start = NOW + timedelta(hours=hours_ahead)
    base = PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=start,
        end=start + timedelta(hours=1),
        signals=(
            Signal(
                "1",
                "LOAD_CONTROL",
                "x-loadControlLevelOffset",
                ("x-DEVICE_AIR_CONDITIONER",),
                min_temp=70,
                max_temp=80,
                temp_offset=4,
                unit=TempUnit.F,
            ),
            Signal("2", "SIMPLE", "level", ("x-DEVICE_TV",)),
        ),
        targets=(EventTarget("CE-02"), EventTarget("CE-01", ("CE-TV", "CE-ESS"))),
        name="peak",
        source="plans/a.yaml:5",
    )
    return replace(base, **changes)


def move(store: DaemonStore, event_id: str, *path: Status) -> None:
    for before, after in itertools.pairwise(path):
        assert store.record(Transition(event_id, before, after, NOW, Source.API, "test"))


def status(store: DaemonStore, event_id: str) -> Status:
    return next(r.status for r in store.overview() if r.event_id == event_id)
