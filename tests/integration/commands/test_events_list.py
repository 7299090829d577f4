"""``drsched events list``: by default every unfinished event (a stuck one too) and those
that ended in the last 24 h; ``--all`` for the rest (issue 16, finding 15)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.commands import events
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


# -- a page at a time (issue 14) --------------------------------------------------------

#: Every field of an ``events list --json`` element: scripts rely on each (extend, never rename).
JSON_FIELDS = [
    "event_id",
    "status",
    "start",
    "end",
    "name",
    "program_id",
    "request_id",
    "revision",
    "cancel_requested",
    "vens",
    "source",
]
#: The default listing of ``listed``, soonest first.
DEFAULT = ["stuck-pending", "completed-yesterday", "stuck-active", "just-completed", "ahead"]


def _listing(
    capsys: pytest.CaptureFixture[str],
    *,
    show_all: bool = False,
    limit: int | None = None,
    page: int | None = None,
    as_json: bool = False,
) -> str:
    args = argparse.Namespace(
        config=None, status=None, all=show_all, limit=limit, page=page, json=as_json
    )
    assert _list(args, now=NOW) == 0
    return capsys.readouterr().out


def _table(out: str) -> tuple[list[str], str]:
    """The event ids of a table (after its header and rule) and its last line."""
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["event", "status"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    return [line.split()[0] for line in lines[2:-1]], lines[-1]


@pytest.mark.usefixtures("listed")
def test_the_table_shows_a_page_and_says_how_many_more_and_how_to_see_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "PAGE", 2)
    ids, last = _table(_listing(capsys))
    assert ids == DEFAULT[:2]
    assert last == (
        "1–2 of 5 events unfinished or ended in the last 24 h; 3 more: --page 2 for the next 2,"
        " --limit 0 for all of them; --all for every event"
    )
    ids, last = _table(_listing(capsys, page=2))
    assert ids == DEFAULT[2:4]
    assert "; 1 more: --page 3 for the next 1," in last
    ids, last = _table(_listing(capsys, page=3))
    assert ids == DEFAULT[4:]
    assert last == "5 of 5 events unfinished or ended in the last 24 h; --all for every event"
    out = _listing(capsys, page=4)
    assert out == (
        "no events on page 4 (5 events unfinished or ended in the last 24 h);"
        " --all for every event\n"
    )


@pytest.mark.usefixtures("listed")
def test_limit_sets_the_page_and_zero_lifts_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "PAGE", 2)
    ids, last = _table(_listing(capsys, limit=3, page=2))
    assert ids == DEFAULT[3:]
    assert last.startswith("4–5 of 5 events")
    ids, last = _table(_listing(capsys, limit=0))
    assert ids == DEFAULT
    assert last == "5 events unfinished or ended in the last 24 h; --all for every event"


@pytest.mark.usefixtures("listed")
def test_all_shows_every_event_on_one_page(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "PAGE", 2)
    ids, last = _table(_listing(capsys, show_all=True))
    assert ids == ["completed-long-ago", *DEFAULT]
    assert last == "6 events"
    ids, last = _table(_listing(capsys, show_all=True, page=2))  # pages when asked
    assert ids == ["completed-yesterday", "stuck-active"]
    assert last.startswith("3–4 of 6 events; 2 more: --page 3")


@pytest.mark.usefixtures("listed")
def test_json_is_the_whole_list_with_every_field_and_a_page_only_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "PAGE", 2)
    rows = json.loads(_listing(capsys, as_json=True))
    assert [row["event_id"] for row in rows] == DEFAULT  # not paged: scripts get every event
    assert [list(row) for row in rows] == [JSON_FIELDS] * len(DEFAULT)
    ahead = rows[-1]
    assert ahead == {
        "event_id": "ahead",
        "status": "planned",
        "start": "2031-07-01T17:00:00+00:00",
        "end": "2031-07-01T18:00:00+00:00",
        "name": None,
        "program_id": None,
        "request_id": None,
        "revision": 1,
        "cancel_requested": False,
        "vens": ["CE-02"],
        "source": "",
    }
    paged = json.loads(_listing(capsys, as_json=True, limit=2, page=2))
    assert [row["event_id"] for row in paged] == DEFAULT[2:4]
    everything = json.loads(_listing(capsys, as_json=True, show_all=True))
    assert len(everything) == 6
    assert json.loads(_listing(capsys, as_json=True, page=9)) == []
