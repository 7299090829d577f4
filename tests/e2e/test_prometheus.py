"""A real Prometheus, with the shipped alert rules, scraping a real `drsched run`.

The daemon runs against `drsched simulate` (in this process, on a real socket);
Prometheus (Debian's ``prometheus`` package) is started on 127.0.0.1 with its own
data directory, scraping every second and evaluating rules every second. The
series arrive, ``promtool check metrics`` finds nothing wrong with the daemon's
real ``/metrics``, and when the simulator fails every DR call (its faults API)
``DrschedDrErrorRatio`` goes to firing in Prometheus' own ``/api/v1/alerts``.

The rules are the shipped ones (``deploy/prometheus/alerts.py``) with only the DR
error ratio's rate window and ``for`` shortened, through the generator's own
settings. The shipped dashboard's queries run against it too. Every wait polls
with a deadline sized for a loaded 2-core machine and ends as soon as its
condition holds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import Running, serve_in_background
from tests.support.deploy import DEPLOY, load_script, prometheus_tool
from tests.support.processes import Instance, free_port, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

alerts = load_script("prometheus/alerts.py")

#: Only what must be shorter for a test: the DR error ratio over 30 s, firing after 2 s.
TEST_SETTINGS = {"dr_error_window": "30s", "dr_error_for": "2s"}
EVENTS = 3
PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  signals: [{name: SIMPLE, targets: [x-DEVICE_TV]}]
events:
"""


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, **params: str) -> Any:
        try:
            response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5)
        except httpx.TransportError:
            return None
        return response.json()["data"] if response.status_code == 200 else None

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        return [] if data is None else list(data["result"])

    def alerts(self, name: str) -> list[dict[str, Any]]:
        data = self.api("alerts")
        found = [] if data is None else data["alerts"]
        return [a for a in found if a["labels"]["alertname"] == name]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def sim() -> Iterator[Running]:
    with serve_in_background(SimOptions(), "127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def daemon(tmp_path: Path, sim: Running) -> Iterator[Instance]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=75)
    plans = tmp_path / "plans"
    plans.mkdir()
    lines = [PLAN]
    for n in range(EVENTS):  # submitted at once (lead 1 h), then polled every few seconds
        begin = start + timedelta(seconds=20 * n)
        end = begin + timedelta(minutes=30)
        window = f'start: "{begin.isoformat()}", end: "{end.isoformat()}"'
        lines.append(f"  - {{id: prom-{n}, {window}, targets: [{{ven: VEN-{n}}}]}}\n")
    (plans / "prom.yaml").write_text("".join(lines))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    log_path = tmp_path / "drsched.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            env={
                **env,
                "DRSCHED_DATABASE__URL": f"sqlite:///{tmp_path / 'drsched.db'}",
                "DRSCHED_DR_API__BASE_URL": sim.dr_url,
                "DRSCHED_DR_API__SUBMIT_LEAD": "1h",
                "DRSCHED_PLANS__PATHS": json.dumps([str(plans / "*.yaml")]),
                "DRSCHED_HTTP__LISTEN": f"127.0.0.1:{port}",
                "DRSCHED_LOGGING__FORMAT": "json",
            },
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    instance = Instance("drsched", proc, port, log_path)
    try:
        yield instance
    finally:
        _stop(proc, 20)


def _start_prometheus(tmp_path: Path, target_port: int) -> Prometheus:
    binary = prometheus_tool("prometheus")
    rules = tmp_path / "drsched-alerts.yaml"
    rules.write_text(alerts.render(TEST_SETTINGS))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "scrape_configs": [
                    {
                        "job_name": "drsched",
                        "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    log_file: IO[bytes]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    return Prometheus(f"http://127.0.0.1:{port}", proc, log_path)


def dashboard_queries() -> list[str]:
    """The shipped dashboard's queries, its variables filled in as Grafana would."""
    board = json.loads((DEPLOY / "grafana" / "drsched-dashboard.json").read_text())
    exprs = [t["expr"] for p in board["panels"] if p["type"] != "row" for t in p["targets"]]
    filled = {"$job": "drsched", "$instance": ".*", "$__rate_interval": "1m"}
    for variable, value in filled.items():
        exprs = [e.replace(variable, value) for e in exprs]
    return exprs


def _stop(proc: subprocess.Popen[bytes], seconds: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_prometheus_scrapes_the_daemon_and_the_dr_error_alert_fires(
    tmp_path: Path, sim: Running, daemon: Instance
) -> None:
    began = time.monotonic()
    prometheus = _start_prometheus(tmp_path, daemon.port)
    try:
        took = {"prometheus ready": wait_until(prometheus.ready, 60, "Prometheus ready")}
        took["drsched healthy"] = wait_until(
            lambda: daemon.health() is not None, 60, "drsched /healthz 200"
        )
        took["plans applied"] = wait_until(
            lambda: bool(daemon.metric("drsched_plan_last_apply_success_timestamp_seconds")),
            60,
            f"the plan applied:\n{daemon.output()}",
        )
        ok_calls = 'drsched_api_calls_total{job="drsched",api="dr",outcome="ok"}'
        took["series in Prometheus"] = wait_until(
            lambda: (
                bool(prometheus.query(ok_calls)) and bool(prometheus.query("drsched_leader == 1"))
            ),
            60,
            f"{ok_calls} and drsched_leader in Prometheus:\n{prometheus.output()}",
        )
        (build,) = prometheus.query("drsched_build_info")
        assert build["metric"]["instance"] == f"127.0.0.1:{daemon.port}"
        assert prometheus.query('up{job="drsched"} == 1')
        assert prometheus.alerts("DrschedDrErrorRatio") == []

        for expr in dashboard_queries():  # the dashboard's queries parse and run
            assert prometheus.api("query", query=expr) is not None, expr
        assert prometheus.query('drsched_api_calls_total{job="drsched",instance=~".*"}'), (
            "the dashboard's instance selector matches"
        )

        scrape = daemon.get("/metrics")
        assert scrape is not None
        assert scrape.status_code == 200
        checked = subprocess.run(
            [prometheus_tool("promtool"), "check", "metrics"],
            input=scrape.text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout + checked.stderr == "", "promtool names no problem"
        assert "drsched_plan_last_apply_successful 1.0" in scrape.text

        faults_at = datetime.now(UTC)
        faults = httpx.post(f"{sim.url}/_sim/faults", json={"fail_rate": 1.0}, timeout=5)
        assert faults.status_code == 200

        def firing() -> bool:
            found = prometheus.alerts("DrschedDrErrorRatio")
            return any(a["state"] == "firing" for a in found)

        took["alert firing after the faults"] = wait_until(
            firing, 150, f"DrschedDrErrorRatio firing:\n{daemon.output()}"
        )
        (alert,) = prometheus.alerts("DrschedDrErrorRatio")
        assert alert["labels"] == {
            "alertname": "DrschedDrErrorRatio",
            "job": "drsched",
            "instance": f"127.0.0.1:{daemon.port}",
            "severity": "warning",
        }
        assert float(alert["value"]) > 0.25
        assert (
            "Submissions, status polls and cancels are failing" in alert["annotations"]["runbook"]
        )
        active_at = datetime.fromisoformat(alert["activeAt"][:19]).replace(tzinfo=UTC)
        assert active_at >= faults_at.replace(microsecond=0), "active only once calls failed"
        httpx.post(f"{sim.url}/_sim/faults", json={"fail_rate": 0.0}, timeout=5)
    finally:
        _stop(prometheus.proc, 20)
    assert prometheus.proc.returncode == 0, prometheus.output()
    took["whole test"] = time.monotonic() - began
    print("timings (s):", {k: round(v, 1) for k, v in took.items()})
