"""`drsched simulate` as a person runs it: the real process on a free port.

It prints where to point drsched, answers both APIs with the default
credentials, and stops cleanly (exit 0) on SIGTERM or SIGINT. No fixed
sleeps: the test waits for lines and answers, each with a deadline.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

import httpx
import pytest

from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
DEFAULT_HEADERS = {
    "x-service-id": "sim-service",
    "x-service-token": "sim-token",
    "x-country-code": "US",
    "x-message-id": "e2e-message-1",
}


@dataclass
class Simulate:
    """The running ``drsched simulate`` process, its banner and its URL."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    banner: list[str] = field(default_factory=list)
    url: str = ""

    def read_banner(self) -> None:
        """Lines up to 'Stop with ...'; the first names the URL."""
        deadline = time.monotonic() + pace().s(START_TIMEOUT_S)
        while not self.banner or not self.banner[-1].startswith("Stop with"):
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no banner within {START_TIMEOUT_S} s: {self.banner}"
                ) from None
            if line is None:
                raise AssertionError(f"simulate exited before its banner: {self.banner}")
            self.banner.append(line)
        self.url = self.banner[0].rsplit(" ", 1)[-1]

    def rest_of_stdout(self) -> list[str]:
        rest: list[str] = []
        while (line := self.lines.get(timeout=pace().s(STOP_TIMEOUT_S))) is not None:
            rest.append(line)
        return rest


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", "simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


@pytest.fixture
def simulate() -> Iterator[Simulate]:
    process = _start("--host", "127.0.0.1", "--port", "0")
    sim = Simulate(process)
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, sim.lines), daemon=True).start()
    try:
        sim.read_banner()
        _wait_for_health(sim.url)
        yield sim
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT_S)
        assert process.stderr is not None
        process.stderr.close()
        assert process.stdout is not None
        process.stdout.close()


def _wait_for_health(url: str) -> None:
    deadline = time.monotonic() + pace().s(START_TIMEOUT_S)
    while True:
        try:
            if httpx.get(f"{url}/_sim/health", timeout=2).json()["ok"] is True:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)  # polling another process for readiness, bounded by the deadline


def _request(request_id: str) -> dict[str, object]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return {
        "requestID": request_id,
        "eventSignals": [
            {"signalID": "s1", "signalName": "SIMPLE", "signalType": "level", "targets": ["x-TV"]}
        ],
        "eventTargets": [{"venID": "CE-02"}],
        "vtnID": "vtn01",
        "startTs": int(start.timestamp() * 1000),
        "endTs": int((start + timedelta(hours=2)).timestamp() * 1000),
    }


def _check_banner(simulate: Simulate) -> None:
    """The base URLs and credentials to put in the daemon config."""
    url = simulate.url
    host, port = url.removeprefix("http://").rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0, "--port 0 prints the port it picked"
    text = "\n".join(simulate.banner)
    assert f"dr_api.base_url: {url}/dr" in text
    assert "dr_api.service_id: sim-service" in text
    assert "dr_api.service_token: sim-token" in text
    assert f"becon.base_url: {url}" in text
    assert f"{url}/_sim/faults" in text


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_banner_then_a_dr_request_with_the_default_credentials_then_a_clean_stop(
    simulate: Simulate, signum: signal.Signals
) -> None:
    _check_banner(simulate)
    dr = f"{simulate.url}/dr"
    with httpx.Client(headers=DEFAULT_HEADERS, timeout=5) as http:
        created = http.post(f"{dr}/requests", json=_request("e2e-1"))
        assert created.json() == {"code": 2000, "data": {"requestID": "e2e-1"}}
        got = http.get(f"{dr}/requests/e2e-1").json()
        assert (got["code"], got["data"]["status"]) == (2000, 0)
        log = http.get(f"{simulate.url}/_sim/dr/log").json()
        assert (log[0]["method"], log[0]["message_id"]) == ("POST", "e2e-message-1")
    simulate.process.send_signal(signum)
    assert simulate.process.wait(STOP_TIMEOUT_S) == 0
    assert simulate.rest_of_stdout() == ["drsched simulator stopped"]
    assert simulate.process.stderr is not None
    assert simulate.process.stderr.read() == "", "no traceback, no noise"
    with socket.socket() as probe:
        port = int(simulate.url.rsplit(":", 1)[1])
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the port is free again"


def test_a_port_in_use_is_a_one_line_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "scheduler", "simulate", "--port", str(port)],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=pace().s(START_TIMEOUT_S),
            check=False,
        )
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"drsched simulate: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
