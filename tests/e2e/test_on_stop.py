"""SIGTERM mid-stagger through the real `drsched run`: every facility back before exit.

hvac.on_stop: restore (issue 15). The daemon controls two simulated gateways
during a short window, then restores them over a 10 min stagger; SIGTERM
arrives after the first restore slot, while most units are still at their DR
setpoints. The process must restore all of them before it exits (code 0) and
say so in its log. Real time, sized for a loaded machine: READY is awaited on
a notify socket, every other wait polls an outside state with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import Running, serve_in_background

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-02}}]
  signals:
    - {{name: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER], max_temp: 80,
       temp_offset: 4, unit: F}}
events:
  - {{id: e2e-stop, start: "{start}", end: "{end}"}}
"""
GATEWAYS = [{"ven": "CE-02", "site": "S001", "gateway": f"GW-0{g}"} for g in (1, 2)]


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)  # polling an outside process for a state, bounded by the deadline
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sim() -> Iterator[Running]:
    options = SimOptions(standby_lead=timedelta(seconds=2), gateways=2, facilities=10)
    with serve_in_background(options, "127.0.0.1", port=0) as running:
        yield running


def setpoints(admin: httpx.Client) -> dict[str, Any]:
    listed = admin.get("/_sim/becon/facilities").json()
    return {f"{f['gateway']}/{f['facilityId']}": f.get("setTemp") for f in listed}


def test_sigterm_mid_stagger_restores_every_facility_before_exit(
    tmp_path: Path, sim: Running
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)
    end = start + timedelta(seconds=6)
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "e2e.yaml").write_text(
        PLAN.format(start=start.isoformat(), end=end.isoformat())
    )
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    ready = threading.Event()

    def drain() -> None:
        """Read every notification as systemd does (a full queue would block the daemon)."""
        with contextlib.suppress(OSError):
            while message := notify.recv(4096):
                if b"READY=1" in message:
                    ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env |= {
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "DRSCHED_DATABASE__URL": f"sqlite:///{tmp_path / 'drsched.db'}",
        "DRSCHED_DR_API__BASE_URL": sim.dr_url,
        "DRSCHED_DR_API__SUBMIT_LEAD": "3s",
        "DRSCHED_PLANS__PATHS": json.dumps([str(tmp_path / "plans" / "*.yaml")]),
        "DRSCHED_HTTP__LISTEN": "127.0.0.1:0",
        "DRSCHED_BECON__BASE_URL": sim.url,
        "DRSCHED_HVAC__TARGETS": json.dumps(GATEWAYS),
        "DRSCHED_HVAC__PREFETCH_LEAD": "2s",
        "DRSCHED_HVAC__VERIFY_INTERVAL": "2s",
        "DRSCHED_HVAC__RESTORE_STAGGER": "10m",
        "DRSCHED_LOGGING__FORMAT": "json",
    }
    log_path = tmp_path / "drsched.log"
    with (
        httpx.Client(base_url=sim.url, timeout=10) as admin,
        log_path.open("wb") as log_file,
    ):
        originals = setpoints(admin)
        proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            assert ready.wait(60), "READY=1 (sized for a loaded machine)"
            controlled: list[str] = []

            def at_dr() -> list[str]:
                shown = setpoints(admin)
                return [k for k, v in shown.items() if v != originals[k]]

            def started() -> bool:
                controlled[:] = at_dr()
                return len(controlled) > 5

            wait_until(started, 40, "units at their DR setpoints")
            restores = len(admin.get("/_sim/becon/controls").json())
            wait_until(
                lambda: len(admin.get("/_sim/becon/controls").json()) > restores,
                40,
                "the first restore slot after the end",
            )
            left = at_dr()
            assert left, "mid-stagger: some units still at their DR setpoints"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=90) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            notify.shutdown(socket.SHUT_RDWR)
            notify.close()
        assert at_dr() == [], "every facility restored before exit"
    entries = [
        json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")
    ]
    said = [e for e in entries if e.get("event") == "daemon.on_stop"]
    assert len(said) == 1
    assert said[0]["summary"].startswith(f"{len(left)} facilities under control: ")
    assert f"{len(left)} restored" in said[0]["summary"]
    events = [e.get("event") for e in entries]
    assert events.index("daemon.on_stop") < events.index("daemon.stopped")
