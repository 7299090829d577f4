"""A report of a real `drsched run` against the simulator on a real socket, an occupant's
change injected through the simulator's admin API; the report's figures are checked
against the simulator's own records, and its HTML is opened in headless Chromium
(a screenshot taken, the charts' elements found in the DOM).

Real time with short windows; no fixed sleeps: the test polls the database and the
simulator with deadlines sized for a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.lifecycle import Status
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from scheduler.store import open_engine
from scheduler.store.control import records_of
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.processes import free_port

# One real run serves both tests; its waits are sized for a loaded machine.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(400)]

PLAN = """\
timezone: UTC
events:
  - id: rep
    start: "{start}"
    end: "{end}"
    vtn_id: vtn01
    targets: [{{ven: CE-02}}]
    signals:
      - name: LOAD_CONTROL
        targets: [x-DEVICE_AIR_CONDITIONER]
        max_temp: 80
        temp_offset: 4
        unit: F
"""
TARGETS = [{"ven": "CE-02", "site": "S001", "gateway": f"GW-0{g}"} for g in (1, 2)]
#: Generous for a loaded machine: the window must outlast the occupant's change and a verify.
WINDOW = timedelta(seconds=30)


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)  # polling other processes, bounded by the deadline
    raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")


def drsched(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real run: the daemon, the simulator, an occupant's change; what each recorded."""
    tmp = tmp_path_factory.mktemp("report-run")
    db_url = f"sqlite:///{tmp / 'drsched.db'}"
    upgrade(db_url)
    options = SimOptions(standby_lead=timedelta(seconds=2), gateways=2, facilities=10)
    with serve_in_background(options, "127.0.0.1", port=0) as sim:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)
        (tmp / "plans").mkdir()
        (tmp / "plans" / "rep.yaml").write_text(
            PLAN.format(start=start.isoformat(), end=(start + WINDOW).isoformat())
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
        env = {**base, "DRSCHED_DATABASE__URL": db_url}
        daemon_env = {
            **env,
            "DRSCHED_DR_API__BASE_URL": sim.dr_url,
            "DRSCHED_DR_API__SUBMIT_LEAD": "3s",
            "DRSCHED_BECON__BASE_URL": sim.url,
            "DRSCHED_PLANS__PATHS": json.dumps([str(tmp / "plans" / "*.yaml")]),
            "DRSCHED_HTTP__LISTEN": f"127.0.0.1:{free_port()}",
            "DRSCHED_HVAC__TARGETS": json.dumps(TARGETS),
            "DRSCHED_HVAC__PREFETCH_LEAD": "2s",
            "DRSCHED_HVAC__VERIFY_INTERVAL": "3s",
            "DRSCHED_HVAC__RESTORE_STAGGER": "1s",
        }
        log = (tmp / "daemon.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            env=daemon_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        sql = open_engine(db_url)
        store = DaemonStore(sql)
        admin = httpx.Client(base_url=sim.url, timeout=10)

        def records() -> list[ControlRecord]:
            with Session(sql) as session:
                return records_of(session, "rep")

        def status() -> Status | None:
            rows = [r for r in store.overview() if r.event_id == "rep"]
            return rows[0].status if rows else None

        try:
            applied = lambda: [r for r in records() if r.state is ControlState.APPLIED]  # noqa: E731  # reason: a check polled below
            wait_until(lambda: len(applied()) > 0, 60, "DR setpoints applied")
            moved = next(r for r in applied() if r.unit is not None)
            key = moved.key
            path = f"/_sim/becon/facilities/{key.site}/{key.gateway}/{key.facility_id}"
            admin.post(path, json={"setTemp": moved.original}).raise_for_status()
            wait_until(
                lambda: any(
                    r.key == moved.key and r.state is ControlState.OPTED_OUT for r in records()
                ),
                40,
                "the occupant's change seen as an opt-out",
            )
            wait_until(lambda: status() == Status.COMPLETED, 90, "the event completed")
            final = {ControlState.RESTORED, ControlState.OPTED_OUT, ControlState.SKIPPED}
            wait_until(
                lambda: all(r.state in final for r in records()), 60, "every facility restored"
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            sql.dispose()
        facilities = admin.get("/_sim/becon/facilities").json()
        puts = admin.get("/_sim/becon/controls").json()
        admin.close()
    return {"tmp": tmp, "env": env, "moved": moved.key, "facilities": facilities, "puts": puts}


def _key(put: dict[str, Any], control: dict[str, Any]) -> str:
    return str(
        FacilityKey(put["site"], put["gateway"], put["facility_type"], control["facilityId"])
    )


def test_report_of_a_real_run_agrees_with_the_simulator(run: dict[str, Any]) -> None:
    done = drsched(run["env"], "report", "rep", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = [r for r in report["records"] if r["record"] == "facility"]
    by_key = {r["facility"]: r for r in rows}
    # The simulator's log: the first successful setpoint per facility is the DR one.
    first: dict[str, float] = {}
    for put in run["puts"]:
        for control, result in zip(put["controls"], put["results"], strict=True):
            if result["result"] == "success":
                first.setdefault(_key(put, control), float(control["setTemp"]))
    assert first, "the simulator logged DR setpoints"
    totals = report["totals"]
    assert totals["facilities_controlled"] == len(first)
    assert {k for k, r in by_key.items() if r["state"] in ("restored", "opted_out")} == set(first)
    assert all(float(by_key[k]["target"]) == v for k, v in first.items())
    # The occupant's change: one opt-out, the facility the admin API changed.
    moved = str(run["moved"])
    assert by_key[moved]["state"] == "opted_out"
    assert totals["opted_out"] == 1
    assert totals["opt_out_share"] == round(1 / len(first), 4)
    # Restored ones are at their original setpoint in the simulator, as the report says.
    shown = {
        str(FacilityKey(f["site"], f["gateway"], f["facilityType"], f["facilityId"])): f
        for f in run["facilities"]
    }
    restored = [r for r in rows if r["state"] == "restored"]
    assert len(restored) == len(first) - 1
    assert all(float(shown[r["facility"]]["setTemp"]) == float(r["original"]) for r in restored)
    assert all(r["restored"] == r["original"] for r in restored)
    # Every read of a facility says what the simulator holds for its room temperature.
    reads = [r for r in report["records"] if r["record"] == "read" and r["room_temp"]]
    assert {r["facility"] for r in reads} >= set(first)
    assert all(float(r["room_temp"]) == shown[r["facility"]]["roomTemp"] for r in reads)
    assert totals["room_temp_rise_f"] == {"facilities": len(first), "median": 0.0, "max": 0.0}
    # The timeline ends completed; the digest checks out against the database.
    timeline = [r["to_status"] for r in report["records"] if r["record"] == "timeline"]
    assert timeline[-1] == "completed"
    saved = run["tmp"] / "rep.json"
    saved.write_text(done.stdout)
    checked = drsched(run["env"], "report", "verify", str(saved))
    assert checked.returncode == 0, checked.stderr


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed: `apt-get install -y chromium` to run this test")
    return found


def test_html_report_in_headless_chromium(run: dict[str, Any]) -> None:
    browser = _chromium()
    page = run["tmp"] / "rep.html"
    done = drsched(run["env"], "report", "rep", "--format", "html", "-o", str(page))
    assert done.returncode == 0, done.stderr
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    profile = f"--user-data-dir={run['tmp'] / 'chromium-profile'}"
    shot = run["tmp"] / "rep.png"
    shoot = subprocess.run(
        [*flags, profile, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shoot.returncode == 0, shoot.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    pixels = imread(shot)
    colors = {tuple(p) for row in pixels[::8] for p in row[::8]}
    assert len(colors) > 20, "the page rendered charts, not a blank screen"
    dom = subprocess.run(
        [*flags, profile, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for ident in (
        "chart-temperature",
        "chart-outcomes",
        "room-median",
        "room-band",
        "setpoint-median",
        "setpoint-band",
        "worst-1",
        "window",
        "outcomes",
        "outcome-restored",
        "outcome-opted_out",
        "facilities",
        "digest",
    ):
        assert f'id="{ident}"' in dom.stdout, ident
    assert dom.stdout.count("<svg") == 2
