"""The plan and events commands as an admin runs them: real ``drsched`` processes on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-02}}]
  signals: [{{name: SIMPLE, targets: [x-DEVICE_TV]}}]
events:
  - {{id: first, name: {name}, start: "{start}", end: "{end}"}}
  - {{id: second, start: "{start2}", end: "{end2}", targets: [{{ven: CE-03}}]}}
"""

BAD = """\
timezone: UTC
events:
  - id: broken
    start: 2030-07-15 14:00
    end: 2030-07-15 13:00
    colour: red
"""


def drsched(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRSCHED_DATABASE__URL": f"sqlite:///{tmp_path / 'drsched.db'}"}
    env.pop("DRSCHED_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=pace().s(60),
        check=False,
    )


START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


def write_plan(path: Path, name: str = "peak") -> Path:
    start = START
    path.write_text(
        PLAN.format(
            name=name,
            start=start.isoformat(),
            end=(start + timedelta(hours=2)).isoformat(),
            start2=(start + timedelta(days=1)).isoformat(),
            end2=(start + timedelta(days=1, hours=2)).isoformat(),
        )
    )
    return path


def test_an_admin_validates_previews_applies_and_lists(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)

    result = drsched(tmp_path, "plan", "validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:5:" in result.stderr  # end before start, with its position
    assert f"{bad}:6:5:" in result.stderr  # the unknown key
    assert "nothing was written" in result.stderr

    result = drsched(tmp_path, "plan", "apply", str(plan))
    assert result.returncode == 3
    assert "run `drsched db upgrade`" in result.stderr

    assert drsched(tmp_path, "db", "upgrade").returncode == 0
    diff = json.loads(drsched(tmp_path, "plan", "diff", "--json", str(plan)).stdout)
    assert diff["counts"]["add"] == 2
    assert diff["applied"] is False

    result = drsched(tmp_path, "plan", "apply", str(plan))
    assert result.returncode == 0, result.stderr
    assert "applied: 2 added" in result.stdout
    assert "no changes (2 events unchanged)" in drsched(tmp_path, "plan", "apply", str(plan)).stdout

    write_plan(plan, name="renamed")
    result = drsched(tmp_path, "plan", "diff", str(plan))
    assert "~ change" in result.stdout
    assert "would apply: 1 changed, 1 unchanged" in result.stdout

    listed = json.loads(drsched(tmp_path, "events", "list", "--json").stdout)
    assert [(e["event_id"], e["status"], e["vens"]) for e in listed] == [
        ("first", "planned", ["CE-02"]),
        ("second", "planned", ["CE-03"]),
    ]
    shown = drsched(tmp_path, "events", "show", "first")
    assert "added from" in shown.stdout
    assert "plan.yaml:7" in shown.stdout

    canceled = drsched(tmp_path, "events", "cancel", "first")
    assert "cancel requested; it will not be submitted" in canceled.stdout
    detail = json.loads(drsched(tmp_path, "events", "show", "--json", "first").stdout)
    assert detail["cancel_requested"] is True
    assert detail["timeline"][-1]["source"] == "admin"

    missing = drsched(tmp_path, "events", "show", "nope")
    assert missing.returncode == 1  # README: an unknown id is "problems found", not 3
    assert "no event 'nope'" in missing.stderr


def test_plan_schema_is_json_schema(tmp_path: Path) -> None:
    schema = json.loads(drsched(tmp_path, "plan", "schema").stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "events" in schema["properties"]
