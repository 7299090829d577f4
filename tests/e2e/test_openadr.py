"""The whole OpenADR path through real processes: `drsched openadr vtn` (an OpenLEADR VTN)
-> `drsched run` (the VEN and the daemon) -> `drsched simulate` (DR Requests and BECON).

The VTN sends two events once drsched registers: the first runs (HVAC moved and
restored), the second is cancelled at the VTN 3 s into its window (HVAC restored). No fixed
sleeps: every wait polls for its state with a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.lifecycle import Status
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from scheduler.store import open_engine
from scheduler.store.control import records_of
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

CONFIG = """\
database: {{url: "{db_url}"}}
dr_api: {{base_url: "{sim}/dr", submit_lead: 4s, retry_total: 5s}}
becon: {{base_url: "{sim}", retry_total: 5s}}
hvac:
  prefetch_lead: 1s
  verify_interval: 2s
  restore_stagger: 1s
  targets: [{{ven: CE-02, site: S001, gateway: GW-02}}]
http: {{listen: "127.0.0.1:0"}}
openadr:
  vtn_url: "http://127.0.0.1:{vtn_port}/OpenADR2/Simple/2.0b"
  ven_name: drsched-e2e
  retry_initial: 0.5s
  retry_max: 2s
  market_contexts:
    - market_context: oadr://drsched.demo/peak
      vtn_id: vtn01
      targets: [{{ven: CE-02}}]
      signals:
        - {{signal: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER], max_temp: 82}}
"""


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)  # polling outside processes for a state, bounded by the deadline
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sim_url() -> Iterator[str]:
    options = SimOptions(standby_lead=timedelta(seconds=2), gateways=3)
    with serve_in_background(options, "127.0.0.1", port=0) as sim:
        yield sim.url


def drsched(log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A drsched process writing to ``log`` (a pipe nobody reads would block it when full)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DRSCHED_LOGGING__FORMAT": "json"},
            cwd=log.parent,
        )


def stop(proc: subprocess.Popen[bytes], log: Path) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return log.read_text()


def test_vtn_events_run_through_drsched_to_hvac_and_back(tmp_path: Path, sim_url: str) -> None:
    vtn_port = free_port()
    db_url = f"sqlite:///{tmp_path / 'drsched.db'}"
    upgrade(db_url)
    config = tmp_path / "drsched.yaml"
    config.write_text(CONFIG.format(db_url=db_url, sim=sim_url, vtn_port=vtn_port))
    vtn_log, run_log = tmp_path / "vtn.log", tmp_path / "run.log"
    vtn = drsched(
        vtn_log,
        "openadr", "vtn", "--port", str(vtn_port), "--events", "2", "--lead", "10s",
        "--duration", "8s", "--gap", "2s", "--payload", "4", "--cancel-after", "3s",
    )  # fmt: skip  # a command line: each flag next to its value
    run = drsched(run_log, "--config", str(config), "run")
    sql = open_engine(db_url)
    store = DaemonStore(sql)

    def statuses() -> dict[str, Status]:
        return {r.event_id: r.status for r in store.overview()}

    try:
        wait_until(lambda: len(statuses()) == 2, 40, "both VTN events stored")
        wait_until(lambda: all(s.is_terminal for s in statuses().values()), 90, "both ended")
        first, second = sorted(statuses())
        with Session(sql) as session:
            controls = records_of(session, first)
            cancelled = records_of(session, second)
        sources = {r.event_id: r.source for r in store.overview()}
        for event_id in (first, second):
            wait_until(
                lambda e=event_id: not any(c.state.is_open for c in _records(sql, e)),
                30,
                f"every changed facility of {event_id} restored",
            )
        cancelled = _records(sql, second)
        restored = [c for c in _records(sql, first) if c.state == ControlState.RESTORED]
    finally:
        run_output = stop(run, run_log)
        vtn_output = stop(vtn, vtn_log)
        sql.dispose()
    assert statuses() == {first: Status.COMPLETED, second: Status.CANCELED}, run_output[-3000:]
    assert sources[first].startswith(f"openadr DEMO-VTN {first} mod ")
    changed = [c for c in controls if c.target is not None and c.target != c.original]
    assert changed
    assert {c.key for c in restored} >= {c.key for c in changed}
    # cancelled at the VTN 3 s into its window: HVAC control stopped, setpoints restored
    moved = [c for c in cancelled if c.applied_at is not None]
    assert moved
    assert all(c.state == ControlState.RESTORED for c in moved)
    assert re.search(rf"answered optIn to {first}", vtn_output), vtn_output
    assert f"cancelled {second}" in vtn_output
    events = [line for line in run_output.splitlines() if "openadr.registered" in line]
    assert events, run_output[-3000:]


def _records(sql: Engine, event_id: str) -> list[ControlRecord]:
    with Session(sql) as session:
        return list(records_of(session, event_id))
