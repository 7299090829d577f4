"""``drsched events list``: by default every unfinished event (a stuck one too) and those
that ended in the last 24 h; ``--all`` for the rest (issue 16, finding 15)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.commands.events import _list
from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade

NOW = datetime(2031, 7, 1, 12, tzinfo=UTC)


def _event(event_id: str, start_in: timedelta) -> PlanEvent:
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=NOW + start_in,
        end=NOW + start_in + timedelta(hours=1),
        signals=(Signal("s1", "SIMPLE", "level", ("x-DEVICE_TV",)),),
        targets=(EventTarget("CE-02"),),
    )


def _move(store: DaemonStore, event_id: str, *path: Status) -> None:
    current = Status.PLANNED
    for status in path:
        assert store.record(Transition(event_id, current, status, NOW, Source.CLOCK, ""))
        current = status


@pytest.fixture
def listed(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(db_url)
    engine = open_engine(db_url)
    store = DaemonStore(engine)
    store.apply_events(
        [
            _event("ahead", timedelta(hours=5)),
            _event("stuck-pending", timedelta(hours=-30)),  # ended 29 h ago, never resolved
            _event("stuck-active", timedelta(hours=-3)),
            _event("just-completed", timedelta(minutes=-61)),  # ended 1 min ago
            _event("completed-yesterday", timedelta(hours=-20)),
            _event("completed-long-ago", timedelta(days=-3)),
        ],
        NOW - timedelta(days=4),
    )
    _move(store, "stuck-pending", Status.SUBMITTING, Status.PENDING)
    _move(store, "stuck-active", Status.SUBMITTING, Status.PENDING, Status.ACTIVE)
    for done in ("just-completed", "completed-yesterday", "completed-long-ago"):
        _move(store, done, Status.SUBMITTING, Status.PENDING, Status.ACTIVE, Status.COMPLETED)
    engine.dispose()
    monkeypatch.setenv("DRSCHED_DATABASE__URL", db_url)


def _ids(capsys: pytest.CaptureFixture[str], *, show_all: bool) -> list[str]:
    args = argparse.Namespace(config=None, status=None, all=show_all, limit=None, json=True)
    assert _list(args, now=NOW) == 0
    return [row["event_id"] for row in json.loads(capsys.readouterr().out)]


@pytest.mark.usefixtures("listed")
def test_the_default_shows_unfinished_and_recently_ended_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _ids(capsys, show_all=False) == [
        "stuck-pending",
        "completed-yesterday",
        "stuck-active",
        "just-completed",
        "ahead",
    ]
    assert _ids(capsys, show_all=True) == [
        "completed-long-ago",
        "stuck-pending",
        "completed-yesterday",
        "stuck-active",
        "just-completed",
        "ahead",
    ]
