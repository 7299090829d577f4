"""The daemon's plan apply skips files it applied last, and only those (issue 14).

What would break: a start-up that re-reads 20,000 unchanged events (slow), or worse,
one that skips an apply that had something to do (a changed file, events changed
from a shell since, a plan apply of other files in between).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from scheduler.clock import FakeClock
from scheduler.domain.lifecycle import Status
from scheduler.domain.sources import openadr_source
from scheduler.plans.loader import load_plans
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.store.models import EventRow
from scheduler.store.plan_apply import applied_unchanged, apply_plan, preview
from scheduler.store.programs import program_events
from scheduler.wiring import plan_applier

NOW = datetime(2027, 6, 1, tzinfo=UTC)
PLAN = """\
timezone: America/New_York
defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-02}}]
  signals: [{{name: SIMPLE, targets: [x-DEVICE_TV]}}]
events:
{events}
"""
SKIPPED = "no changes (the plan files are as last applied)"


def write(path: Path, *ids: str, day: int = 1) -> None:
    lines = "".join(
        f"  - {{id: {i}, start: 2027-07-{day + n:02d} 14:00, end: 2027-07-{day + n:02d} 16:00}}\n"
        for n, i in enumerate(ids)
    )
    path.write_text(PLAN.format(events=lines))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def stored(engine: Engine) -> list[str]:
    return sorted(e.event_id for e in DaemonStore(engine).overview())


def test_the_same_files_are_applied_once_then_skipped(engine: Engine, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    write(plan, "a", "b")
    apply = plan_applier(engine, FakeClock(NOW))
    assert apply([str(plan)]) == "2 added"
    assert apply([str(plan)]) == SKIPPED
    assert apply([str(tmp_path / "*.yaml")]) == SKIPPED  # the same file, by a glob
    assert stored(engine) == ["a", "b"]


def test_a_changed_or_added_file_is_applied(engine: Engine, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    write(plan, "a", "b")
    apply = plan_applier(engine, FakeClock(NOW))
    apply([str(plan)])
    write(plan, "a")
    assert apply([str(plan)]) == "1 removed, 1 unchanged"
    write(tmp_path / "more.yaml", "c", day=10)
    assert apply([str(tmp_path / "*.yaml")]) == "1 added, 1 unchanged"
    assert stored(engine) == ["a", "c"]
    assert apply([str(tmp_path / "*.yaml")]) == SKIPPED


def test_an_unchanged_apply_records_its_files_once(engine: Engine, tmp_path: Path) -> None:
    """A database applied before the digest existed: the first start runs and records."""
    plan = tmp_path / "plan.yaml"
    write(plan, "a")
    store = DaemonStore(engine)
    apply = plan_applier(engine, FakeClock(NOW))
    apply([str(plan)])
    revision = store.plan_revision()
    with engine.begin() as conn:  # as after the migration: nothing recorded yet
        conn.exec_driver_sql("UPDATE plan_state SET applied_digest = NULL")
    assert apply([str(plan)]) == "no changes (1 events unchanged)"
    assert apply([str(plan)]) == SKIPPED
    assert store.plan_revision() == revision  # recording it moved no revision


def test_changes_from_a_shell_in_between_make_the_next_apply_run(
    engine: Engine, tmp_path: Path
) -> None:
    """``drsched plan apply`` of other files and ``events cancel`` move the plan revision."""
    plan = tmp_path / "plan.yaml"
    write(plan, "a", "b")
    apply = plan_applier(engine, FakeClock(NOW))
    apply([str(plan)])
    apply_plan(engine, [], NOW)  # a shell applies an empty plan: a and b go
    assert stored(engine) == []
    assert apply([str(plan)]) == "2 added"
    DaemonStore(engine).request_cancel("a", NOW)
    assert apply([str(plan)]) == "no changes (2 events unchanged)"
    assert apply([str(plan)]) == SKIPPED


def test_the_record_names_the_files_it_was_made_for(engine: Engine, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    write(plan, "a")
    assert not applied_unchanged(engine, "0" * 64)
    plan_applier(engine, FakeClock(NOW))([str(plan)])
    assert not applied_unchanged(engine, "0" * 64)


RULED = """\
timezone: America/New_York
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-02}]
  signals: [{name: SIMPLE, targets: [x-DEVICE_TV]}]
  program: cbp
dr_programs:
  - {id: cbp, max_events: {month: 3}}
events:
  - {id: a, start: 2027-07-01 14:00, end: 2027-07-01 16:00}
  - {id: b, start: 2027-07-02 14:00, end: 2027-07-02 16:00}
"""


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("now", [NOW, datetime(2027, 8, 1, tzinfo=UTC)], ids=["before", "after"])
def test_a_skipped_apply_is_what_a_full_apply_would_do_after_status_moves(
    engine: Engine, tmp_path: Path, status: Status, now: datetime
) -> None:
    """Status moves (the DR service's, never the revision's) and time cannot change what
    an unchanged plan decides: a full apply then writes nothing and refuses nothing, so
    skipping it loses nothing. Counted here: the program's limit, full with the plan's
    two events and an OpenADR event of the same program."""
    other = tmp_path / "other.yaml"
    other.write_text(RULED.replace("id: a,", "id: x,").split("  - {id: b")[0])
    plan_applier(engine, FakeClock(NOW))([str(other)])
    with engine.begin() as conn:  # x now belongs to an OpenADR VTN
        conn.execute(
            update(EventRow)
            .where(EventRow.event_id == "x")
            .values(source=openadr_source("vtn01", "x", 0))
        )
    plan = tmp_path / "plan.yaml"
    plan.write_text(RULED)
    assert plan_applier(engine, FakeClock(NOW))([str(plan)]) == "2 added"

    with engine.begin() as conn:
        conn.execute(update(EventRow).values(status=status.value))
    assert plan_applier(engine, FakeClock(now))([str(plan)]) == SKIPPED
    with Session(engine) as session:
        past = program_events(session, for_plan=True)
    events = load_plans([plan], past=past)  # raises PlanError on a broken rule
    diff = preview(engine, events, now)
    assert (diff.is_empty, diff.refused) == (True, ())
