"""``drsched status`` as an operator runs it: a real process on a SQLite database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.leadership.sqlite_lock import DaemonLock
from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-02}}]
  signals: [{{name: SIMPLE, targets: [x-DEVICE_TV]}}]
events:
  - {{id: tomorrow, start: "{start}", end: "{end}"}}
"""


def drsched(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        env={**env, "DRSCHED_DATABASE__URL": url, "DRSCHED_DR_API__SUBMIT_LEAD": "2h"},
        capture_output=True,
        text=True,
        timeout=pace().s(60),
        check=False,
    )


def test_status_after_a_plan_apply_with_the_daemon_holding_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        PLAN.format(start=start.isoformat(), end=(start + timedelta(hours=1)).isoformat())
    )
    missing = drsched(url, "status")
    assert missing.returncode == 0, missing.stderr
    assert "no database at" in missing.stdout
    assert not (tmp_path / "drsched.db").exists()

    assert drsched(url, "db", "upgrade").returncode == 0
    assert drsched(url, "plan", "apply", str(plan)).returncode == 0
    with DaemonLock(url):  # stands for a running daemon
        shown = drsched(url, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["leadership"] == {
        "backend": "sqlite",
        "state": "running",
        "pid": os.getpid(),
        "lock_file": str(tmp_path / "drsched.db.lock"),
    }
    assert report["counts"]["planned"] == 1
    submit = report["next_actions"][0]
    assert (submit["action"], submit["event_id"]) == ("submit", "tomorrow")
    assert datetime.fromisoformat(submit["at"]) == start - timedelta(hours=2)

    table = drsched(url, "status")
    assert table.returncode == 0, table.stderr
    assert "no daemon running" in table.stdout
    assert "submit" in table.stdout
    assert "tomorrow" in table.stdout
