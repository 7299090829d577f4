"""A second daemon on the same SQLite database refuses to start, with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.leadership.sqlite_lock import DaemonLock
from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]


def test_drsched_run_refuses_while_another_daemon_holds_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    with DaemonLock(url):  # stands for the first daemon
        result = subprocess.run(
            [sys.executable, "-m", "scheduler", "run"],
            # not the default 9464, which another daemon on the host may hold
            env={**env, "DRSCHED_DATABASE__URL": url, "DRSCHED_HTTP__LISTEN": "127.0.0.1:0"},
            cwd=tmp_path,
            capture_output=True,
            timeout=pace().s(30),
            check=False,
        )
    assert result.returncode == 3
    message = result.stderr.decode()
    assert "already running" in message
    assert str(tmp_path / "drsched.db.lock") in message
    assert str(os.getpid()) in message
