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
from sqlalchemy import Engine

from scheduler.clock import FakeClock
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from scheduler.store.plan_apply import applied_unchanged, apply_plan
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
