"""Leader-only VEN on PostgreSQL: kill -9 the leader; the standby registers with the stored
VEN id and runs the VTN's event, stored once.

Two real `drsched run` processes, `drsched openadr vtn` and the simulator. The VTN
keeps the VEN id a VEN asks for, so its log shows which id each registration used.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from scheduler.domain.lifecycle import Status
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import Running, serve_in_background
from scheduler.store import open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.processes import Instance, free_port, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(180)]

CONFIG = """\
dr_api: {{base_url: "{sim}/dr", submit_lead: 3s, retry_total: 5s}}
becon: {{base_url: "{sim}", retry_total: 5s}}
hvac:
  prefetch_lead: 1s
  verify_interval: 2s
  restore_stagger: 1s
  targets: [{{ven: CE-02, site: S001, gateway: GW-02}}]
logging: {{format: json}}
openadr:
  vtn_url: "http://127.0.0.1:{vtn_port}/OpenADR2/Simple/2.0b"
  ven_name: drsched-failover
  retry_initial: 0.5s
  retry_max: 2s
  market_contexts:
    - market_context: oadr://drsched.demo/peak
      vtn_id: vtn01
      targets: [{{ven: CE-02}}]
      signals:
        - {{signal: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER], max_temp: 82}}
"""


@pytest.fixture
def sim() -> Iterator[Running]:
    from datetime import timedelta

    options = SimOptions(standby_lead=timedelta(seconds=2), gateways=3)
    with serve_in_background(options, "127.0.0.1", port=0) as running:
        yield running


def test_the_standby_takes_over_the_ven_with_its_stored_id(
    tmp_path: Path, sim: Running, pg_url: str
) -> None:
    vtn_port = free_port()
    config = tmp_path / "drsched.yaml"
    config.write_text(CONFIG.format(sim=sim.url, vtn_port=vtn_port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env["DRSCHED_DATABASE__URL"] = pg_url
    logs: list[IO[bytes]] = []
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *args: str, extra: dict[str, str] | None = None) -> Path:
        log = tmp_path / f"{name}.log"
        logs.append(log.open("wb"))
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "scheduler", *args],
                env={**env, **(extra or {})},
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        )
        return log

    def launch(name: str) -> Instance:
        port = free_port()
        log = spawn(name, "--config", str(config), "run", extra={
            "DRSCHED_HTTP__LISTEN": f"127.0.0.1:{port}"
        })  # fmt: skip  # the call reads as the command it runs
        return Instance(name, procs[-1], port, log)

    upgrade(pg_url)
    sql = open_engine(pg_url)
    store = DaemonStore(sql)
    vtn_log = spawn(
        "vtn", "openadr", "vtn", "--port", str(vtn_port), "--events", "1", "--lead", "20s",
        "--duration", "4s",
    )  # fmt: skip  # a command line: each flag next to its value

    def registrations() -> list[str]:
        return re.findall(r"registered drsched-failover as (\S+)", vtn_log.read_text())

    try:
        a = launch("a")
        wait_until(lambda: (a.health() or {}).get("leader") is True, 30, "a to lead")
        b = launch("b")
        wait_until(lambda: (b.health() or {}).get("leader") is False, 30, "b to stand by")
        wait_until(lambda: len(store.overview()) == 1, 30, "the VTN event stored by a")
        assert len(registrations()) == 1  # the standby does not poll the VTN
        standby = (b.health() or {})["checks"]["openadr"]
        assert standby == {"ok": True, "detail": "standby: the leader polls the VTN"}

        a.proc.send_signal(signal.SIGKILL)
        wait_until(lambda: len(registrations()) == 2, 40, "b to register")
        first, second = registrations()
        assert second == first  # the stored VEN id
        wait_until(lambda: store.overview()[0].status.is_terminal, 60, "the event to end")
        [row] = store.overview()
        assert row.status == Status.COMPLETED, b.output()
        assert row.source.startswith("openadr DEMO-VTN ")
        health = b.health() or {}
        assert health["checks"]["openadr"]["detail"].startswith(f"registered as {first}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        for log in logs:
            log.close()
        sql.dispose()
