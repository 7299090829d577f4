"""The real `drsched run` process against the simulator on a real socket.

Real time with a short window (submit lead 2 s, window 4 s on a quiet machine;
every lead, window and deadline is stretched by the machine's pace,
:mod:`tests.support.pace`); no fixed sleeps: the test polls the database for
the expected state with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.domain.lifecycle import Status
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.realtime]

PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-02}}]
  signals: [{{name: SIMPLE, targets: [x-DEVICE_TV]}}]
events:
  - {{id: e2e-short, start: "{start}", end: "{end}"}}
"""


def wait_until(
    check: Callable[[], bool], seconds: float, what: str, daemon: subprocess.Popen[bytes]
) -> None:
    """Poll ``check`` until it holds; fail at once, with its output, if the daemon died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if daemon.poll() is not None:
            output, _ = daemon.communicate()
            said = output.decode(errors="replace")[-2000:]
            raise AssertionError(f"daemon exited {daemon.returncode} before {what}:\n{said}")
        time.sleep(0.1)  # polling an outside process for a state, bounded by the deadline
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sim_url() -> Iterator[str]:
    with serve_in_background(SimOptions(standby_lead=pace().delta(2)), "127.0.0.1", port=0) as sim:
        yield sim.url


def start_daemon(tmp_path: Path, sim_url: str, db_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DRSCHED_DATABASE__URL": db_url,
        "DRSCHED_DR_API__BASE_URL": f"{sim_url}/dr",
        "DRSCHED_DR_API__SUBMIT_LEAD": f"{pace().s(2):g}s",
        "DRSCHED_PLANS__PATHS": f'["{tmp_path / "plans"}/*.yaml"]',
        # not the default 9464: another daemon on the host (another checkout's
        # tests) may hold it, and this one would exit at once
        "DRSCHED_HTTP__LISTEN": "127.0.0.1:0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )


def test_short_event_from_submission_to_completion(tmp_path: Path, sim_url: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=round(pace().s(6)))
    end = start + timedelta(seconds=round(pace().s(4)))
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "e2e.yaml").write_text(
        PLAN.format(start=start.isoformat(), end=end.isoformat())
    )
    db_url = f"sqlite:///{tmp_path / 'drsched.db'}"
    upgrade(db_url)
    sql = open_engine(db_url)
    store = DaemonStore(sql)

    def status() -> Status | None:
        rows = [r for r in store.overview() if r.event_id == "e2e-short"]
        return rows[0].status if rows else None

    proc = start_daemon(tmp_path, sim_url, db_url)
    try:
        submitted = (Status.PENDING, Status.STANDBY, Status.ACTIVE)
        wait_until(lambda: status() in submitted, pace().s(15), "submitted", proc)
        second = start_daemon(tmp_path, sim_url, db_url)
        output, _ = second.communicate(timeout=pace().s(20))
        assert second.returncode != 0
        assert b"already running" in output
        wait_until(lambda: status() == Status.COMPLETED, pace().s(25), "completed", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=pace().s(20)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    path = [t.to_status for t in store.timeline() if t.event_id == "e2e-short"]
    sql.dispose()
    assert path[-5:] == [
        Status.SUBMITTING,
        Status.PENDING,
        Status.STANDBY,
        Status.ACTIVE,
        Status.COMPLETED,
    ]
