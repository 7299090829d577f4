"""The BECON client against the simulator, end to end (in process, and over a real socket)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stamina

from scheduler.clients.becon.client import BeconClient
from scheduler.clients.becon.inventory import fetch_inventory
from scheduler.clock import FakeClock
from scheduler.config import BeconConfig
from scheduler.config_values import becon_client
from scheduler.domain.events import Signal, TempUnit
from scheduler.domain.hvac import Control, FacilityKey
from scheduler.domain.setpoints import Change, decide_setpoint
from scheduler.errors import AuthError, RetryableApiError
from scheduler.simulator.app import Simulator
from scheduler.simulator.becon import BeconSim
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from tests.support.fakes.becon_api import fan_out

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
SIGNAL = Signal(
    "s1",
    "LOAD_CONTROL",
    "x-loadControlLevelOffset",
    ("x-DEVICE_AIR_CONDITIONER",),
    min_temp=None,
    max_temp=82.0,
    temp_offset=4.0,
    unit=TempUnit.F,
)


@dataclass
class Setup:
    client: BeconClient
    sim: BeconSim
    admin: httpx.AsyncClient
    clock: FakeClock

    async def log(self) -> list[dict[str, Any]]:
        return list((await self.admin.get("/_sim/becon/controls")).json())

    async def tokens(self) -> dict[str, int]:
        return dict((await self.admin.get("/_sim/becon/tokens")).json())


async def _setup(**options: Any) -> AsyncIterator[Setup]:
    clock = FakeClock(T0)
    simulator = Simulator(SimOptions(clock=clock, **options))
    transport = httpx.ASGITransport(app=simulator.app)
    config = BeconConfig(base_url="http://sim", retry_attempts=3)
    assert isinstance(simulator.becon, BeconSim)
    async with (
        becon_client(config, transport=transport, clock=clock) as client,
        httpx.AsyncClient(transport=transport, base_url="http://sim") as admin,
    ):
        with stamina.set_testing(True, attempts=3):
            yield Setup(client, simulator.becon, admin, clock)


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    async for value in _setup(sites=2, gateways=2, facilities=20, token_ttl_s=1000):
        yield value


async def test_inventory_states_and_a_dr_window_worth_of_controls(setup: Setup) -> None:
    inventory = await fetch_inventory(setup.client, states=True)
    assert not inventory.errors()
    assert len(inventory.facilities()) == 2 * 2 * 20
    readings = [r for s in inventory.sites for g in s.gateways for r in g.states.values()]
    assert len(readings) == 80
    changes: list[Control] = []
    for reading in readings:
        decision = decide_setpoint(SIGNAL, reading.to_domain())
        if isinstance(decision, Change):
            changes.append(Control(reading.key, decision.target, decision.unit))
    assert changes, "the generated inventory has facilities to control"
    results = await fan_out(setup.client, changes)
    assert [r.outcome for r in results] == ["success"] * len(changes)
    groups = Counter((c.key.site, c.key.gateway, c.key.facility_type) for c in changes)
    log = await setup.log()
    assert len(log) == len(groups), "one PUT per gateway and type"
    assert {(e["site"], e["gateway"], e["facility_type"]) for e in log} == set(groups)
    after = {
        r.key: r for s in (await fetch_inventory(setup.client, states=True)).sites
        for g in s.gateways for r in g.states.values()
    }  # fmt: skip  # one comprehension over three levels, kept on two lines
    for control in changes:
        assert after[control.key].set_temp == control.set_temp
        assert after[control.key].unit == control.unit


async def test_more_than_100_controls_on_a_gateway_are_split() -> None:
    async for setup in _setup(sites=1, gateways=1, facilities=300):
        readings = await setup.client.gateway_states("S001", "GW-01", ["IDU"])
        idus = [r for r in readings if r.has_setpoint]
        assert len(idus) > 200
        controls = [
            Control(r.key, r.set_temp_range[0], r.unit)
            for r in idus
            if r.set_temp_range and r.unit and r.set_temp != r.set_temp_range[0]
        ]
        results = await fan_out(setup.client, controls)
        assert all(r.outcome == "success" for r in results)
        sizes = sorted(len(e["controls"]) for e in await setup.log())
        assert len(sizes) == math.ceil(len(controls) / 100)
        assert max(sizes) == 100
        assert sum(sizes) == len(controls)


async def test_partial_failures_come_back_as_values(setup: Setup) -> None:
    await setup.admin.post("/_sim/becon/facilities/S001/GW-02/IDU-0201", json={"offline": True})
    key = FacilityKey("S001", "GW-02", "IDU", "IDU-0201")
    other = FacilityKey("S001", "GW-02", "IDU", "IDU-0202")
    results = await fan_out(
        setup.client,
        [
            Control(key, 26.0, TempUnit.C),
            Control(other, 45.0, TempUnit.C),
            Control(FacilityKey("S001", "GW-02", "IDU", "IDU-0205"), 26.0, TempUnit.C),
        ],
    )
    assert [(r.key.facility_id, r.outcome, r.reason) for r in results] == [
        ("IDU-0201", "fail", "offline"),
        ("IDU-0202", "refused", "out_of_range"),
        ("IDU-0205", "success", None),
    ]


async def test_an_expired_token_is_reissued_once(setup: Setup) -> None:
    await setup.client.sites()
    await setup.admin.post("/_sim/becon/tokens/expire")
    await setup.client.sites()
    assert (await setup.tokens())["tokens_issued"] == 2


async def test_the_token_is_renewed_before_the_simulator_expires_it(setup: Setup) -> None:
    await setup.client.sites()
    setup.clock.advance(timedelta(seconds=899))
    await setup.client.sites()
    assert (await setup.tokens())["tokens_issued"] == 1
    setup.clock.advance(timedelta(seconds=1))
    await setup.client.sites()
    tokens = await setup.tokens()
    assert (tokens["tokens_issued"], tokens["valid"]) == (2, 2), "renewed at 90 %, not after a 401"


async def test_a_denied_site_is_an_auth_error_with_code_and_message_id(setup: Setup) -> None:
    await setup.admin.post("/_sim/becon/access", json={"site": "S002"})
    with pytest.raises(AuthError, match="HTTP 403, code 4030") as caught:
        await setup.client.gateways("S002")
    assert caught.value.message_id
    inventory = await fetch_inventory(setup.client)
    assert [e.code for e in inventory.errors()] == ["4030"]
    assert len(inventory.facilities()) == 40, "the other site is still listed"


async def test_simulated_server_errors_are_retried(setup: Setup) -> None:
    await setup.client.sites()
    script = {"next": [{"fault": "fail", "path": "/tms/", "count": 2}]}
    await setup.admin.post("/_sim/faults", json=script)
    assert len(await setup.client.facilities("S001", "GW-01")) == 20
    assert (await setup.admin.get("/_sim/faults")).json()["counts"]["fail"] == 2


async def test_over_a_real_socket_with_a_timeout() -> None:
    async with serve_in_background(SimOptions(facilities=5, timeout_hang_s=5)) as running:
        config = BeconConfig(base_url=running.url, timeout="300ms", retry_attempts=1)
        async with becon_client(config) as client, httpx.AsyncClient() as admin:
            readings = await client.gateway_states("S001", "GW-02")
            assert [r.key.facility_id for r in readings][:2] == ["IDU-0201", "IDU-0202"]
            script = {"next": [{"fault": "timeout", "path": "/tms/"}]}
            await admin.post(f"{running.url}/_sim/faults", json=script)
            with pytest.raises(RetryableApiError, match="ReadTimeout") as caught:
                await client.sites()
            assert caught.value.message_id
            assert len(await client.sites()) == 1
