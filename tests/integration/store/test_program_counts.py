"""DR program limits count the events already stored, on real SQLite and PostgreSQL,
through the real ``plan validate|diff|apply`` commands (nothing written on a refusal)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scheduler import cli
from scheduler.store import open_engine
from scheduler.store.migrate import upgrade
from scheduler.store.models import EventRow
from scheduler.store.programs import program_events

HEAD = """\
timezone: America/New_York
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-02}]
  signals:
    - {name: SIMPLE, targets: [x-DEVICE_TV]}
  program: cbp
dr_programs:
  - {id: cbp, max_events: {month: 2}}
events:
"""


def events(*ids_days: tuple[str, int]) -> str:
    return HEAD + "".join(
        f"  - {{id: {i}, start: 2027-07-{d:02d} 14:00, end: 2027-07-{d:02d} 16:00}}\n"
        for i, d in ids_days
    )


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> tuple[str, Path, Path]:
    upgrade(db_url)
    config = tmp_path / "drsched.yaml"
    config.write_text(f"database: {{url: '{db_url}'}}\n")
    return db_url, config, tmp_path / "plan.yaml"


def run(config: Path, *argv: str) -> int:
    return cli.main(["--config", str(config), *argv])


def stored(db_url: str) -> dict[str, str]:
    engine = open_engine(db_url)
    try:
        with Session(engine) as session:
            rows = session.execute(select(EventRow.event_id, EventRow.status)).all()
            return {event_id: status for event_id, status in rows}
    finally:
        engine.dispose()


def finish(db_url: str, *event_ids: str, status: str = "completed") -> None:
    engine = open_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            session.execute(
                update(EventRow).where(EventRow.event_id.in_(event_ids)).values(status=status)
            )
    finally:
        engine.dispose()


def test_events_already_run_count_toward_the_month(
    setup: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db_url, config, plan = setup
    plan.write_text(events(("a", 1), ("b", 2)))
    assert run(config, "plan", "apply", str(plan)) == 0
    finish(db_url, "a", "b")
    capsys.readouterr()

    # The next plan no longer lists a and b: they still count for July.
    plan.write_text(events(("c", 20)))
    for action in ("validate", "diff", "apply"):
        assert run(config, "plan", action, str(plan)) == 1
        err = capsys.readouterr().err
        assert (
            f"{plan}:11:5: program cbp: 3 events in 2027-07 on VEN CE-02, limit 2: a, b, c "
            "(2 already stored: a, b)"
        ) in err
        assert "nothing was written" in err
    assert stored(db_url) == {"a": "completed", "b": "completed"}

    # A canceled event does not count: with b canceled, c fits.
    finish(db_url, "b", status="canceled")
    assert run(config, "plan", "apply", str(plan)) == 0
    assert stored(db_url) == {"a": "completed", "b": "canceled", "c": "planned"}


def test_planned_events_removed_from_the_plan_do_not_count(
    setup: tuple[str, Path, Path],
) -> None:
    db_url, config, plan = setup
    plan.write_text(events(("a", 1), ("b", 2)))
    assert run(config, "plan", "apply", str(plan)) == 0
    plan.write_text(events(("b", 2), ("c", 20)))
    assert run(config, "plan", "apply", str(plan)) == 0
    assert stored(db_url) == {"b": "planned", "c": "planned"}


def test_program_events_reads_program_ven_and_window(setup: tuple[str, Path, Path]) -> None:
    db_url, config, plan = setup
    plan.write_text(events(("a", 1)).replace("program: cbp", "program: cbp\n  name: x"))
    assert run(config, "plan", "apply", str(plan)) == 0
    engine = open_engine(db_url)
    try:
        with Session(engine) as session:
            (event,) = program_events(session, ["cbp"])
            assert program_events(session, ["other"]) == []
            assert program_events(session, for_plan=True) == []  # planned: the plan's own
    finally:
        engine.dispose()
    assert (event.event_id, event.program_id, event.ven_ids, event.past) == (
        "a",
        "cbp",
        frozenset({"CE-02"}),
        True,
    )
    assert event.hours == 2


def test_the_daemon_reload_checks_config_programs_and_stored_events(
    setup: tuple[str, Path, Path],
) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from scheduler.clock import FakeClock
    from scheduler.domain.dr_programs import Period, ProgramRules
    from scheduler.errors import PlanError
    from scheduler.wiring import plan_applier

    db_url, _, plan = setup
    text = events(("a", 1)).replace("program: cbp", "program: vtn-cbp")
    plan.write_text(text.replace("dr_programs:\n  - {id: cbp, max_events: {month: 2}}\n", ""))
    rules = [ProgramRules("vtn-cbp", ZoneInfo("America/New_York"), max_events={Period.MONTH: 1})]
    engine = open_engine(db_url)
    try:
        apply = plan_applier(engine, FakeClock(datetime(2027, 6, 1, tzinfo=UTC)), None, rules)
        assert apply([str(plan)]) == "1 added"
        finish(db_url, "a")
        plan.write_text(plan.read_text().replace("{id: a,", "{id: b,").replace("07-01", "07-09"))
        with pytest.raises(PlanError, match="2 events in 2027-07 on VEN CE-02, limit 1: a, b"):
            apply([str(plan)])
    finally:
        engine.dispose()
    assert stored(db_url) == {"a": "completed"}


@pytest.mark.parametrize("status", ["planned", "submitting", "pending"])
def test_another_sources_events_count_before_the_dr_service_accepts_them(
    setup: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str], status: str
) -> None:
    """A plan apply never removes an OpenADR event, so it counts in every state it
    can still run from (only the plan's own removable events are left out)."""
    from scheduler.domain.sources import openadr_source

    db_url, config, plan = setup
    plan.write_text(events(("x", 5)))
    assert run(config, "plan", "apply", str(plan)) == 0
    engine = open_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            session.execute(
                update(EventRow)
                .where(EventRow.event_id == "x")
                .values(source=openadr_source("vtn01", "x", 0), status=status)
            )
    finally:
        engine.dispose()
    capsys.readouterr()

    plan.write_text(events(("a", 1), ("b", 2)))
    assert run(config, "plan", "apply", str(plan)) == 1
    err = capsys.readouterr().err
    assert "program cbp: 3 events in 2027-07 on VEN CE-02, limit 2: a, b, x" in err
    assert stored(db_url) == {"x": status}
