"""The simulator app's layout, and running it on a real socket (sync and async)."""

from __future__ import annotations

import importlib.util
import socket
import threading
from datetime import UTC, datetime

import httpx
import pytest

from scheduler.clock import FakeClock
from scheduler.simulator.app import Simulator, create_app
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
BECON_BUILT = importlib.util.find_spec("scheduler.simulator.becon") is not None


async def test_create_app_exposes_the_simulator_and_health() -> None:
    app = create_app(SimOptions(clock=FakeClock(T0)))
    simulator = app.state.simulator
    assert isinstance(simulator, Simulator)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as http:
        health = (await http.get("/_sim/health")).json()
        assert health == {"ok": True, "dr": True, "becon": BECON_BUILT, "now": T0.isoformat()}
        assert (await http.get("/dr/requests/x")).json()["code"] == 4101, "DR mounted at /dr"
        assert (await http.get("/_sim/dr/requests")).json() == []
        assert (await http.get("/_sim/faults")).json()["fail_rate"] == 0
        assert (await http.get("/elsewhere")).status_code == 404


def test_becon_half_is_mounted_when_built() -> None:
    simulator = Simulator(SimOptions())
    assert (simulator.becon is not None) == BECON_BUILT
    mounts = {getattr(route, "path", None) for route in simulator.app.routes}
    assert {"/dr", "/_sim/dr", "/_sim/faults", "/_sim/health"} <= mounts
    assert ("/tms/v1.0/connect" in mounts) == BECON_BUILT
    assert ("/_sim/becon" in mounts) == BECON_BUILT


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_serve_in_background_picks_a_port_and_stops_cleanly() -> None:
    threads = threading.active_count()
    with serve_in_background(SimOptions(), "127.0.0.1", port=0) as sim:
        assert sim.port > 0
        assert sim.url == f"http://127.0.0.1:{sim.port}"
        assert sim.dr_url == f"{sim.url}/dr"
        assert str(sim) == sim.url
        assert httpx.get(f"{sim.url}/_sim/health").json()["ok"] is True
        sim.simulator.dr.quirks["status_as_string"] = True  # the running state, shared
        assert httpx.get(f"{sim.url}/_sim/dr/quirks").json()["status_as_string"] is True
    assert _refused(sim.port)
    assert threading.active_count() == threads


async def test_serve_in_background_as_an_async_context_manager() -> None:
    async with (
        serve_in_background(SimOptions()) as first,
        serve_in_background(SimOptions()) as second,
        httpx.AsyncClient() as http,
    ):
        assert first.port != second.port
        for sim in (first, second):
            assert (await http.get(f"{sim.url}/_sim/health")).status_code == 200
    assert _refused(first.port)
    assert _refused(second.port)


def test_a_taken_port_is_an_error_not_a_hang() -> None:
    with serve_in_background(SimOptions()) as sim:
        taken = serve_in_background(SimOptions(), port=sim.port)
        with pytest.raises(OSError, match="in use"):
            taken.__enter__()
