"""`drsched demo` as a user runs it first: a fresh directory, no config, exit 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.realtime]

ID = re.compile(r"demo-[\w-]*")


def test_demo_runs_every_event_to_its_expected_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "demo"],
        env={**env, "COLUMNS": "80"},
        cwd=tmp_path,
        capture_output=True,
        timeout=pace().s(60),
        check=False,
    )
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "demo passed" in out
    for event_id, status in (
        ("demo-complete", "completed"),
        ("demo-remote", "canceled"),
        ("demo-change", "completed"),
    ):
        assert f"{event_id}: {status}" in out
    assert "demo-change-r2" in out
    # Piped (issue 16, finding 16): the last live view is printed once and ends its
    # line, ids are never cut or split, counts read right.
    assert "restoredevery" not in out
    assert "1 facilities" not in out
    assert out.count("demo-change-r2") >= 2, "the request id in the view and the timeline"
    ids = {"demo-complete", "demo-remote", "demo-change", "demo-change-r2"}
    in_tables = {found for line in out.splitlines() if "│" in line for found in ID.findall(line)}
    assert in_tables <= ids, f"ids split or cut: {in_tables - ids}"
    assert list(tmp_path.iterdir()) == [], "the demo leaves nothing behind"
