"""What the CLI decides from the wall clock, with "now" pinned by freezegun.

The engine takes an injected clock; the commands are the edge that reads the wall
clock and hands ``now`` down (``plan diff/apply``, ``events list``, ``status``). These
run the commands in process on real SQLite and PostgreSQL with a plan of fixed dates, and freeze
the clock on each side of the boundary that matters. None of these commands runs an
event loop, so ``real_asyncio`` is not needed. ``status``'s heartbeat age is not here:
PostgreSQL measures it on its own clock (``now() - heartbeat_at``), not ours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time

from scheduler.cli import main
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade

PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-02}]
  signals: [{name: SIMPLE, targets: [x-DEVICE_TV]}]
events:
  - {id: first, start: "2030-07-15 14:00", end: "2030-07-15 16:00"}
  - {id: second, start: "2030-07-16 14:00", end: "2030-07-16 16:00"}
"""
BEFORE_BOTH = "2030-07-14 00:00:00"
FIRST_ENDS = "2030-07-15 16:00:00"


@pytest.fixture
def cli(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    upgrade(db_url)
    monkeypatch.setenv("DRSCHED_DATABASE__URL", db_url)
    monkeypatch.setenv("DRSCHED_DR_API__SUBMIT_LEAD", "2h")
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    return Cli(plan, db_url, capsys)


class Cli:
    def __init__(self, plan: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.plan, self.url, self._capsys = plan, url, capsys

    def json(self, *argv: str, at: str) -> object:
        """``drsched <argv> --json`` with the wall clock frozen at ``at`` (UTC)."""
        self._capsys.readouterr()
        with freeze_time(at):
            assert main([*argv, "--json"]) == 0
        return json.loads(self._capsys.readouterr().out)

    def listed(self, *argv: str, at: str) -> list[str]:
        rows = self.json("events", "list", *argv, at=at)
        assert isinstance(rows, list)
        return [row["event_id"] for row in rows]


def changes(result: object) -> list[tuple[str, str]]:
    assert isinstance(result, dict)
    return [(i["event_id"], i["change"]) for i in result["items"]]


def test_plan_apply_drops_an_event_whose_window_is_over_at_that_instant(cli: Cli) -> None:
    plan = str(cli.plan)
    just_before = cli.json("plan", "diff", plan, at="2030-07-15 15:59:59")
    assert changes(just_before) == [("first", "add"), ("second", "add")]

    applied = cli.json("plan", "apply", plan, at=FIRST_ENDS)
    assert changes(applied) == [("first", "past"), ("second", "add")]
    assert cli.listed("--all", at=FIRST_ENDS) == ["second"]


# `events list` shows every unfinished event, whatever its window (a stuck one must show),
# and a finished one until 24 h after its window's end; --all and --status show them all.
# "first" is completed at its end; "second" stays planned (no daemon runs here).
EVENTS_LIST = [
    ("2030-07-15 15:59:59", (), ["first", "second"]),
    (FIRST_ENDS, (), ["first", "second"]),
    ("2030-07-16 15:59:59", (), ["first", "second"]),
    ("2030-07-16 16:00:00", (), ["second"]),
    ("2030-07-20 00:00:00", (), ["second"]),
    ("2030-07-20 00:00:00", ("--all",), ["first", "second"]),
    ("2030-07-20 00:00:00", ("--status", "completed"), ["first"]),
]


def test_events_list_shows_unfinished_events_and_those_ended_in_the_last_day(cli: Cli) -> None:
    cli.json("plan", "apply", str(cli.plan), at=BEFORE_BOTH)
    engine = open_engine(cli.url)
    try:
        store, at = DaemonStore(engine), datetime(2030, 7, 15, 16, tzinfo=UTC)
        for old, new in [(Status.PLANNED, Status.ACTIVE), (Status.ACTIVE, Status.COMPLETED)]:
            assert store.record(Transition("first", old, new, at, Source.API, "test"))
    finally:
        engine.dispose()
    seen = [(now, argv, cli.listed(*argv, at=now)) for now, argv, _ in EVENTS_LIST]
    assert seen == EVENTS_LIST


def next_actions(report: object) -> list[tuple[str, str, float]]:
    assert isinstance(report, dict)
    return [(a["action"], a["event_id"], a["in_s"]) for a in report["next_actions"]]


def test_status_counts_next_actions_from_now(cli: Cli) -> None:
    cli.json("plan", "apply", str(cli.plan), at=BEFORE_BOTH)
    hour = 3600.0
    # submit: the start less the 2 h submit lead
    assert next_actions(cli.json("status", at="2030-07-15 11:00:00")) == [
        ("submit", "first", 1 * hour),
        ("window starts", "first", 3 * hour),
        ("window ends", "first", 5 * hour),
        ("submit", "second", 25 * hour),
        ("window starts", "second", 27 * hour),
        ("window ends", "second", 29 * hour),
    ]
    # From its start instant on, the first event can be neither submitted nor started.
    assert next_actions(cli.json("status", at="2030-07-15 14:00:00")) == [
        ("window ends", "first", 2 * hour),
        ("submit", "second", 22 * hour),
        ("window starts", "second", 24 * hour),
        ("window ends", "second", 26 * hour),
    ]
    # A day later the first window is over: only the second event's actions are left.
    assert next_actions(cli.json("status", at="2030-07-16 11:00:00")) == [
        ("submit", "second", 1 * hour),
        ("window starts", "second", 3 * hour),
        ("window ends", "second", 5 * hour),
    ]


@pytest.mark.parametrize(
    ("now", "shown"),
    [("2030-07-16 13:00:00", True), ("2030-07-16 13:00:01", False)],
)
def test_status_shows_failures_of_the_last_24_hours(cli: Cli, now: str, shown: bool) -> None:
    cli.json("plan", "apply", str(cli.plan), at=BEFORE_BOTH)
    engine = open_engine(cli.url)
    try:
        failed_at = datetime(2030, 7, 15, 13, tzinfo=UTC)
        missed = Transition(
            "first", Status.PLANNED, Status.FAILED, failed_at, Source.CLOCK, "window missed"
        )
        assert DaemonStore(engine).record(missed)
    finally:
        engine.dispose()
    report = cli.json("status", at=now)
    assert isinstance(report, dict)
    failures = [(f["event_id"], f["detail"]) for f in report["recent_failures"]]
    assert failures == ([("first", "window missed")] if shown else [])


def test_events_cancel_records_the_instant_it_was_asked(cli: Cli) -> None:
    cli.json("plan", "apply", str(cli.plan), at=BEFORE_BOTH)
    cli.json("events", "cancel", "first", at="2030-07-14 09:30:00")
    shown = cli.json("events", "show", "first", at="2030-07-14 10:00:00")
    assert isinstance(shown, dict)
    last = shown["timeline"][-1]
    assert (last["source"], last["at"]) == ("admin", "2030-07-14T09:30:00+00:00")
