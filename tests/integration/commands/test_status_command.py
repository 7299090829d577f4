"""``drsched status`` in process, on SQLite and PostgreSQL: what it gathers and how it reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import make_url

from scheduler.cli import main
from scheduler.commands.status import gather
from scheduler.config import Config, DatabaseConfig, DrApiConfig
from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.leadership.postgres import PostgresElector, Timing
from scheduler.leadership.sqlite_lock import DaemonLock
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import head, upgrade

#: "now" for gather(), and the wall clock frozen for the command (freezegun).
NOW = datetime(2030, 7, 15, 12, tzinfo=UTC)
FAST = Timing(retry_interval=0.2, check_interval=0.2, check_timeout=2.0, idle_session_timeout=1.0)


def event(event_id: str, start_in: timedelta) -> PlanEvent:
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=NOW + start_in,
        end=NOW + start_in + timedelta(hours=1),
        signals=(Signal("s1", "SIMPLE", "level", ("x-DEVICE_TV",)),),
        targets=(EventTarget("CE-07"),),
    )


def config_for(url: str) -> Config:
    return Config(
        database=DatabaseConfig(url=url), dr_api=DrApiConfig(submit_lead=timedelta(hours=1))
    )


@pytest.fixture
def populated(db_url: str) -> str:
    """A database with one event ahead, one in flight and one failed an hour ago."""
    upgrade(db_url)
    engine = open_engine(db_url)
    store = DaemonStore(engine)
    store.apply_events(
        [
            event("ahead", timedelta(hours=3)),
            event("flying", timedelta(minutes=30)),
            event("missed", timedelta(hours=-2)),
        ],
        NOW - timedelta(days=1),
    )
    for old, new in ((Status.PLANNED, Status.SUBMITTING), (Status.SUBMITTING, Status.PENDING)):
        store.record(Transition("flying", old, new, NOW, Source.API))
    store.record(
        Transition(
            "missed",
            Status.PLANNED,
            Status.FAILED,
            NOW - timedelta(hours=1),
            Source.CLOCK,
            "window missed: not submitted before its start",
        )
    )
    engine.dispose()
    return db_url


def test_gather_reports_counts_next_actions_in_flight_and_failures(populated: str) -> None:
    report = gather(config_for(populated), NOW)
    assert report["database"]["schema"] == {"revision": head(), "head": head(), "current": True}
    assert report["counts"]["planned"] == 1
    assert report["counts"]["pending"] == 1
    assert report["counts"]["failed"] == 1
    assert report["counts"]["completed"] == 0
    first = report["next_actions"][0]
    assert (first["action"], first["event_id"], first["in_s"]) == ("window starts", "flying", 1800)
    submit = [a for a in report["next_actions"] if a["action"] == "submit"]
    assert [(a["event_id"], a["in_s"], a["overdue"]) for a in submit] == [("ahead", 7200, False)]
    assert report["in_flight"]["total"] == 1
    assert report["in_flight"]["events"][0]["event_id"] == "flying"
    assert report["in_flight"]["events"][0]["vens"] == ["CE-07"]
    failure = report["recent_failures"][0]
    assert failure["event_id"] == "missed"
    assert failure["detail"] == "window missed: not submitted before its start"
    json.dumps(report)  # all of it is JSON as is


def test_the_table_view_names_each_section(
    populated: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRSCHED_DATABASE__URL", populated)
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    with freeze_time(NOW):
        assert main(["status"]) == 0
    out = capsys.readouterr().out
    for expected in ("drsched status", "leadership", "next actions", "in flight", "flying"):
        assert expected in out
    assert "failures in the last 24 h" in out
    assert "window missed: not submitted before its start" in out
    assert "planned 1 · pending 1 · failed 1" in out


def test_json_through_the_command_line(
    populated: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRSCHED_DATABASE__URL", populated)
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    with freeze_time(NOW):
        assert main(["status", "--json", "--limit", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["next_actions"]) == 2
    assert set(report) >= {"database", "leadership", "counts", "in_flight", "recent_failures"}


def test_sqlite_says_whether_a_daemon_holds_the_database(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    assert gather(config_for(sqlite_url), NOW)["leadership"]["state"] == "not running"
    with DaemonLock(sqlite_url):
        lead = gather(config_for(sqlite_url), NOW)["leadership"]
    assert lead["state"] == "running"
    assert lead["lock_file"].endswith("drsched.db.lock")


async def test_postgresql_names_the_leader_its_epoch_and_heartbeat(pg_url: str) -> None:
    upgrade(pg_url)
    assert gather(config_for(pg_url), NOW)["leadership"]["state"] == "no leader"
    elector = PostgresElector(pg_url, holder="host-a:42", timing=FAST)
    await elector.acquire()
    try:
        lead = gather(config_for(pg_url), NOW)["leadership"]
    finally:
        await elector.close()
    assert (lead["state"], lead["holder"], lead["epoch"]) == ("led", "host-a:42", 1)
    assert (lead["instances"], lead["standbys"]) == (1, 0)
    assert lead["heartbeat_late"] is False
    after = gather(config_for(pg_url), NOW)["leadership"]
    assert (after["state"], after["holder"]) == ("no leader", "host-a:42")


def test_the_password_is_never_shown(pg_url: str) -> None:
    upgrade(pg_url)
    with_password = make_url(pg_url).set(password="hunter2")
    url = with_password.render_as_string(hide_password=False)
    report = gather(config_for(url), NOW)
    assert "hunter2" not in json.dumps(report)
    assert ":***@" in report["database"]["url"]


def test_a_database_without_schema_says_to_upgrade_and_still_reports_leadership(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_engine(sqlite_url).dispose()
    with DaemonLock(sqlite_url), open_engine(sqlite_url).connect():
        report = gather(config_for(sqlite_url), NOW)
    assert report["database"]["schema"]["current"] is False
    assert "drsched db upgrade" in report["note"]
    assert report["leadership"]["state"] == "running"
    assert "counts" not in report
    monkeypatch.setenv("DRSCHED_DATABASE__URL", sqlite_url)
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    with freeze_time(NOW):
        assert main(["status"]) == 0
    assert "run `drsched db upgrade`" in capsys.readouterr().out


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'drsched.db'}"
    report = gather(config_for(url), NOW)
    assert (
        report["note"] == f"no database at {tmp_path / 'typo' / 'drsched.db'} (wrong database.url?)"
    )
    assert report["database"]["schema"]["revision"] is None
    assert not (tmp_path / "typo").exists()
