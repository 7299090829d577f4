"""``drsched programs status`` on real SQLite and PostgreSQL: used / left per period,
next allowed start, opt-outs against the budget (over budget flagged)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from scheduler import cli
from scheduler.store import open_engine
from scheduler.store.control import FacilityControlRow
from scheduler.store.migrate import upgrade
from scheduler.store.models import EventRow

PLAN = """\
timezone: America/New_York
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-02}]
  signals:
    - {name: SIMPLE, targets: [x-DEVICE_TV]}
  program: cbp
dr_programs:
  - id: cbp
    season: {from: "06-01", until: "09-30"}
    days: [MO, TU, WE, TH, FR]
    hours: {from: "12:00", until: "20:00"}
    min_rest: 20h
    max_events: {month: 3, season: 10}
    max_event_hours: {season: 20}
    opt_out_budget: {count: 1, share: 0.3}
events:
  - {id: a, start: 2027-07-05 14:00, end: 2027-07-05 16:00}
  - {id: b, start: 2027-07-07 14:00, end: 2027-07-07 17:00}
"""


def control(event_id: str, facility: str, state: str, changed: datetime) -> dict[str, object]:
    return {
        "event_id": event_id,
        "site": "S001",
        "gateway": "GW-01",
        "facility_type": "IDU",
        "facility_id": facility,
        "state": state,
        "reason": "",
        "detail": "",
        "window_end": changed,
        "attempts": 1,
        "restore_attempts": 0,
        "created_at": changed,
        "updated_at": changed,
    }


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Path:
    upgrade(db_url)
    path = tmp_path / "drsched.yaml"
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    path.write_text(f"database: {{url: '{db_url}'}}\nplans: {{paths: ['{plan}']}}\n")
    assert cli.main(["--config", str(path), "plan", "apply"]) == 0
    engine = open_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            session.execute(update(EventRow).values(status="completed"))
            session.execute(
                insert(FacilityControlRow),
                [
                    control("a", "F1", "restored", datetime(2027, 7, 5, 20, tzinfo=UTC)),
                    control("a", "F2", "opted_out", datetime(2027, 7, 5, 19, tzinfo=UTC)),
                    control("a", "F3", "skipped", datetime(2027, 7, 5, 18, tzinfo=UTC)),
                    control("b", "F1", "opted_out", datetime(2027, 7, 7, 18, 30, tzinfo=UTC)),
                    control("b", "F2", "restored", datetime(2027, 7, 7, 21, tzinfo=UTC)),
                ],
            )
    finally:
        engine.dispose()
    return path


def status(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    argv = ["--config", str(config), "programs", "status", "--at", "2027-07-07T22:00Z", *extra]
    assert cli.main(argv) == 0
    return capsys.readouterr().out


def test_status_counts_used_and_left_and_the_next_allowed_start(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json.loads(status(config, capsys, "--json"))
    (program,) = report["programs"]
    assert program["program"] == "cbp"
    assert program["season"] == "2027"
    (ven,) = program["vens"]
    assert ven["ven"] == "CE-02"
    periods = {p["period"]: p for p in ven["periods"]}
    assert (periods["day"]["label"], periods["day"]["events"]) == ("2027-07-07", 1)
    assert (periods["week"]["label"], periods["week"]["events"]) == ("week 2027-W27", 2)
    month = periods["month"]
    assert (month["label"], month["events"], month["max_events"], month["events_left"]) == (
        "2027-07",
        2,
        3,
        1,
    )
    season = periods["season"]
    assert (season["events"], season["events_left"], season["hours"], season["hours_left"]) == (
        2,
        8,
        5.0,
        15.0,
    )
    # b ends 17:00 local on 07-07; 20 h rest: 13:00 local (17:00 UTC) on Thursday 07-08.
    assert ven["next_allowed_start"] == "2027-07-08T17:00:00+00:00"


def test_status_flags_facilities_over_their_opt_out_budget(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facilities = json.loads(status(config, capsys, "--json"))["programs"][0]["facilities"]
    by_id = {f["facility"].rsplit("/", 1)[1]: f for f in facilities}
    assert set(by_id) == {"F1", "F2"}  # F3 was skipped: it took no part
    f1, f2 = by_id["F1"], by_id["F2"]
    # F1 opted out of b at 14:30 local: 2.5 h of its 5 event hours (50 % > 30 %).
    assert (f1["events"], f1["opt_outs"], f1["hours"], f1["opted_out_hours"]) == (2, 1, 5.0, 2.5)
    assert (f1["share"], f1["over_budget"]) == (0.5, True)
    # F2 opted out of a at 15:00 local: 1 h of 5 (20 %), one opt-out (budget 1).
    assert (f2["opt_outs"], f2["share"], f2["over_budget"]) == (1, 0.2, False)
    assert f2["budget"] == {"count": 1, "share": 0.3}


def test_status_table_names_the_program_and_flags_over_budget(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = status(config, capsys)
    assert "program cbp — season 2027" in out
    assert "2/3 (1)" in out  # month: used/limit (left)
    assert "2027-07-08 17:00:00" in out
    assert "OVER BUDGET" in out
    assert out.count("OVER BUDGET") == 1


def test_the_next_allowed_start_waits_for_the_next_month_when_this_one_is_full(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan.read_text().replace("month: 3", "month: 2"))
    (ven,) = json.loads(status(config, capsys, "--json"))["programs"][0]["vens"]
    # August 1st 2027 is a Sunday: Monday 08-02 at 12:00 local (16:00 UTC).
    assert ven["next_allowed_start"] == "2027-08-02T16:00:00+00:00"
