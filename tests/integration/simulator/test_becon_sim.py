"""The BECON simulator per the spec: auth, headers, error codes, inventory, control, admin."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import httpx
import pytest

from scheduler.clock import FakeClock, to_epoch_ms
from scheduler.simulator.app import Simulator
from scheduler.simulator.becon import BeconSim
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
API = "/tms/v1.0/connect"
SERVICE = {"x-lgtms-service-id": "sim-service", "x-lgtms-service-key": "sim-service-key"}


def sign(server_time: int, key: str = "sim-key", service_id: str = "sim-service") -> str:
    mac = hmac.new(key.encode(), f"{service_id}\n{server_time}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Sim:
    http: httpx.AsyncClient
    simulator: Simulator
    clock: FakeClock

    @property
    def becon(self) -> BeconSim:
        assert isinstance(self.simulator.becon, BeconSim)
        return self.simulator.becon

    async def token(self) -> str:
        server_time = (await self.http.get(f"{API}/auth/servertime", headers=SERVICE)).json()
        ms = server_time["data"]["serverTime"]
        body = {"serverTime": ms, "signature": sign(ms)}
        answer = await self.http.post(f"{API}/auth/token", json=body, headers=SERVICE)
        return str(answer.json()["data"]["accessToken"])

    async def headers(self) -> dict[str, str]:
        return {**SERVICE, "x-lgtms-service-token": await self.token(), "x-message-id": "m-1"}

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(API + path, headers=await self.headers(), params=params)

    async def put(self, path: str, controls: Any) -> httpx.Response:
        body = {"controls": controls}
        return await self.http.put(API + path, json=body, headers=await self.headers())

    async def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.http.request(method, "/_sim/becon" + path, json=body)


def make_sim(**options: Any) -> Simulator:
    return Simulator(SimOptions(**options))


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    clock = FakeClock(T0)
    simulator = make_sim(clock=clock, token_ttl_s=3600, facilities=12)
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield Sim(http, simulator, clock)


def answer(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# -- authentication ------------------------------------------------------------------


async def test_servertime_is_the_clock_in_epoch_ms(sim: Sim) -> None:
    response = await sim.http.get(f"{API}/auth/servertime", headers=SERVICE)
    assert response.json() == {
        "code": "0000",
        "message": "OK",
        "data": {"serverTime": to_epoch_ms(T0)},
    }


async def test_a_signed_server_time_gets_a_token_for_token_ttl(sim: Sim) -> None:
    body = {"serverTime": to_epoch_ms(T0), "signature": sign(to_epoch_ms(T0))}
    response = await sim.http.post(f"{API}/auth/token", json=body, headers=SERVICE)
    data = response.json()["data"]
    assert data["expiresIn"] == 3600
    assert data["accessToken"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"serverTime": to_epoch_ms(T0), "signature": sign(to_epoch_ms(T0), key="other")},
            401,
            "4012",
        ),
        ({"serverTime": to_epoch_ms(T0 - timedelta(minutes=6)), "signature": "x"}, 401, "4011"),
        ({"serverTime": to_epoch_ms(T0 + timedelta(minutes=6)), "signature": "x"}, 401, "4011"),
        ({"serverTime": "soon", "signature": "x"}, 400, "4001"),
        ({"serverTime": to_epoch_ms(T0)}, 400, "4001"),
        ([], 400, "4001"),
    ],
)
async def test_token_request_refusals(sim: Sim, body: Any, status: int, code: str) -> None:
    response = await sim.http.post(f"{API}/auth/token", json=body, headers=SERVICE)
    assert answer(response) == (status, code)


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (timedelta(minutes=6), "server time is more than 5 minutes in the future"),
        (timedelta(minutes=-6), "server time expired: older than 5 minutes"),
    ],
)
async def test_a_server_time_out_of_skew_is_refused_saying_which_way(
    sim: Sim, offset: timedelta, message: str
) -> None:
    ms = to_epoch_ms(T0 + offset)
    body = {"serverTime": ms, "signature": sign(ms)}
    response = await sim.http.post(f"{API}/auth/token", json=body, headers=SERVICE)
    assert response.json()["message"] == message


async def test_a_server_time_up_to_5_minutes_old_is_accepted(sim: Sim) -> None:
    ms = to_epoch_ms(T0)
    sim.clock.advance(timedelta(minutes=5))
    body = {"serverTime": ms, "signature": sign(ms)}
    response = await sim.http.post(f"{API}/auth/token", json=body, headers=SERVICE)
    assert response.json()["code"] == "0000"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 412, "4120"),
        ({"x-lgtms-service-id": "sim-service"}, 412, "4120"),
        ({"x-lgtms-service-key": "sim-service-key"}, 412, "4120"),
        ({**SERVICE, "x-lgtms-service-key": "wrong"}, 401, "4013"),
        ({**SERVICE, "x-lgtms-service-id": "other"}, 401, "4013"),
        (SERVICE, 401, "4010"),
        ({**SERVICE, "x-lgtms-service-token": "made-up"}, 401, "4010"),
    ],
)
async def test_header_refusals(sim: Sim, headers: dict[str, str], status: int, code: str) -> None:
    assert answer(await sim.http.get(f"{API}/site", headers=headers)) == (status, code)


async def test_service_headers_are_needed_for_servertime_too(sim: Sim) -> None:
    assert answer(await sim.http.get(f"{API}/auth/servertime")) == (412, "4120")


async def test_tokens_expire_by_the_clock(sim: Sim) -> None:
    headers = await sim.headers()
    assert (await sim.http.get(f"{API}/site", headers=headers)).status_code == 200
    sim.clock.advance(timedelta(seconds=3599))
    assert (await sim.http.get(f"{API}/site", headers=headers)).status_code == 200
    sim.clock.advance(timedelta(seconds=1))
    response = await sim.http.get(f"{API}/site", headers=headers)
    assert answer(response) == (401, "4010")
    assert "expired" in response.json()["message"]


async def test_admin_expires_every_token_and_counts_them(sim: Sim) -> None:
    headers = await sim.headers()
    await sim.token()
    assert (await sim.admin("GET", "/tokens")).json() == {
        "servertime": 2,
        "token_requests": 2,
        "tokens_issued": 2,
        "valid": 2,
    }
    assert (await sim.admin("POST", "/tokens/expire")).json() == {"expired": 2}
    assert answer(await sim.http.get(f"{API}/site", headers=headers)) == (401, "4010")
    assert (await sim.admin("GET", "/tokens")).json()["valid"] == 0


# -- inventory and state --------------------------------------------------------------


async def test_inventory_listing(sim: Sim) -> None:
    sites = (await sim.get("/site")).json()["data"]
    assert sites == [{"siteCode": "S001", "siteName": "HQ 1", "timezone": "America/New_York"}]
    gateways = (await sim.get("/site/S001/gw")).json()["data"]
    assert [g["gwId"] for g in gateways] == ["GW-01", "GW-02"]
    assert all(g["connected"] is True for g in gateways)
    facilities = (await sim.get("/site/S001/gw/GW-02/facilities")).json()["data"]
    assert len(facilities) == 12
    assert facilities[0] == {"facilityId": "IDU-0201", "facilityType": "IDU", "name": "Room 0201"}


async def test_the_inventory_is_deterministic_by_seed() -> None:
    def states(seed: int) -> list[dict[str, Any]]:
        becon = make_sim(seed=seed, facilities=40).becon
        assert isinstance(becon, BeconSim)
        return [f.state() for f in becon.inventory.all_facilities()]

    assert states(3) == states(3)
    assert states(3) != states(4)


async def test_the_inventory_mixes_units_modes_power_and_setpoints() -> None:
    becon = make_sim(sites=2, gateways=2, facilities=30).becon
    assert isinstance(becon, BeconSim)
    facilities = becon.inventory.all_facilities()
    assert len(facilities) == 2 * 2 * 30
    states = [f.state() for f in facilities]
    assert {s["unit"] for s in states} == {"C", "F"}
    assert {"cool", "heat", "auto", "fan"} <= {s["operationMode"] for s in states}
    assert {s["power"] for s in states} == {"on", "off"}
    assert {s["facilityType"] for s in states} == {
        "IDU", "ODU", "VENT", "AWHP", "AHU", "CHILLER", "AIRCARE",
    }  # fmt: skip  # a set of names, several a line
    without = [s for s in states if "setTemp" not in s]
    assert without
    assert {s["facilityType"] for s in without} == {"ODU", "VENT", "AIRCARE"}
    assert all("setTempRange" not in s for s in without)
    for s in states:
        if "setTemp" in s:
            low, high, value = s["setTempRange"]["min"], s["setTempRange"]["max"], s["setTemp"]
            assert low <= value <= high
            step = Fraction(1, 2) if s["unit"] == "C" else Fraction(1)
            assert (Fraction(str(value)) / step).denominator == 1, "on the facility's grid"


async def test_state_of_one_and_of_a_gateway(sim: Sim) -> None:
    one = (await sim.get("/site/S001/gw/GW-01/facility/IDU/IDU-0101/state")).json()["data"]
    assert set(one) == {
        "facilityId", "facilityType", "power", "operationMode", "setTemp", "roomTemp", "unit",
        "setTempRange",
    }  # fmt: skip  # a set of names, several a line
    every = (await sim.get("/site/S001/gw/GW-01/facilities/state")).json()["data"]
    assert len(every) == 12
    assert every[0] == one
    some = await sim.get("/site/S001/gw/GW-01/facilities/state", facility_types="AHU,ODU")
    assert {s["facilityType"] for s in some.json()["data"]} == {"AHU", "ODU"}


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/site/S999/gw", 404, "4040"),
        ("/site/S001/gw/GW-99/facilities", 404, "4040"),
        ("/site/S001/gw/GW-01/facility/IDU/IDU-9999/state", 404, "4040"),
        ("/site/S001/gw/GW-01/facility/AHU/IDU-0101/state", 404, "4040"),
        ("/site/S001/gw/GW-01/facility/TOASTER/IDU-0101/state", 400, "4000"),
        ("/site/S001/gw/GW-01/facilities/state?facility_types=IDU,TOASTER", 400, "4000"),
        ("/nowhere", 404, "4040"),
    ],
)
async def test_lookup_refusals(sim: Sim, path: str, status: int, code: str) -> None:
    response = await sim.http.get(API + path, headers=await sim.headers())
    assert answer(response) == (status, code)


async def test_a_wrong_method_is_405(sim: Sim) -> None:
    response = await sim.http.delete(f"{API}/site", headers=await sim.headers())
    assert answer(response) == (405, "4050")


async def test_a_denied_site_is_403(sim: Sim) -> None:
    assert (await sim.admin("POST", "/access", {"site": "S001", "denied": True})).status_code == 200
    assert answer(await sim.get("/site/S001/gw")) == (403, "4030")
    assert answer(await sim.put("/site/S001/gw/GW-01/facility/IDU", [])) == (403, "4030")
    await sim.admin("POST", "/access", {"site": "S001", "denied": False})
    assert (await sim.get("/site/S001/gw")).status_code == 200
    assert (await sim.admin("POST", "/access", {"site": "nope"})).status_code == 400


# -- control ----------------------------------------------------------------------


async def _state(sim: Sim, gateway: str, kind: str, facility_id: str) -> dict[str, Any]:
    path = f"/site/S001/gw/{gateway}/facility/{kind}/{facility_id}/state"
    return dict((await sim.get(path)).json()["data"])


async def test_control_answers_per_facility_and_keeps_the_state(sim: Sim) -> None:
    # GW-01 works in °F (seed 0), GW-02 in °C
    response = await sim.put(
        "/site/S001/gw/GW-01/facility/IDU",
        [
            {"facilityId": "IDU-0101", "setTemp": 80.0, "unit": "F"},
            {"facilityId": "IDU-0102", "setTemp": 99.0, "unit": "F"},
            {"facilityId": "IDU-0105", "power": "on"},
            {"facilityId": "AHU-0103", "setTemp": 78.0, "unit": "F"},
            {"facilityId": "IDU-9999", "setTemp": 78.0, "unit": "F"},
            {"facilityId": "IDU-0108", "setTemp": 25.0, "unit": "C"},
            {"facilityId": "IDU-0111", "operationMode": "turbo"},
            {"facilityId": "IDU-0102"},
            {"setTemp": 20},
        ],
    )
    assert response.json()["code"] == "0000"
    results = [
        (r["facilityId"], r["result"], r.get("reason")) for r in response.json()["data"]["results"]
    ]
    assert results == [
        ("IDU-0101", "success", None),
        ("IDU-0102", "fail", "out_of_range"),
        ("IDU-0105", "success", None),
        ("AHU-0103", "fail", "not_found"),
        ("IDU-9999", "fail", "not_found"),
        ("IDU-0108", "success", None),
        ("IDU-0111", "fail", "invalid"),
        ("IDU-0102", "fail", "invalid"),
        (None, "fail", "invalid"),
    ]
    assert (await _state(sim, "GW-01", "IDU", "IDU-0101"))["setTemp"] == 80.0
    assert (await _state(sim, "GW-01", "IDU", "IDU-0105"))["power"] == "on"
    assert (await _state(sim, "GW-01", "IDU", "IDU-0108"))["setTemp"] == 77.0, "25 °C is 77 °F"


@pytest.mark.parametrize(
    ("gateway", "sent", "unit", "kept"),
    [
        ("GW-01", 25.3, "C", 78.0),  # a °F unit: 77.54 °F is 78 on its 1 °F grid
        ("GW-01", 77.4, "F", 77.0),
        ("GW-02", 25.3, "C", 25.5),  # a °C unit: 0.5 °C steps
        ("GW-02", 77.0, "F", 25.0),
    ],
)
async def test_a_unit_keeps_a_setpoint_on_its_grid(
    sim: Sim, gateway: str, sent: float, unit: str, kept: float
) -> None:
    """Issue 16, finding 17: it stored 25.3 °C on a °F unit as 77.54."""
    facility = "IDU-0101" if gateway == "GW-01" else "IDU-0201"
    body = [{"facilityId": facility, "setTemp": sent, "unit": unit}]
    response = await sim.put(f"/site/S001/gw/{gateway}/facility/IDU", body)
    assert response.json()["data"]["results"][0]["result"] == "success"
    assert (await _state(sim, gateway, "IDU", facility))["setTemp"] == kept


async def test_a_setpoint_for_a_type_without_one_is_not_supported(sim: Sim) -> None:
    response = await sim.put(
        "/site/S001/gw/GW-02/facility/ODU",
        [
            {"facilityId": "ODU-0204", "setTemp": 24.0, "unit": "C"},
            {"facilityId": "ODU-0204", "power": "off"},
        ],
    )
    reasons = [r.get("reason") for r in response.json()["data"]["results"]]
    assert reasons == ["not_supported", None]


async def test_an_offline_facility_fails_its_controls(sim: Sim) -> None:
    await sim.admin("POST", "/facilities/S001/GW-02/IDU-0201", {"offline": True})
    response = await sim.put(
        "/site/S001/gw/GW-02/facility/IDU",
        [{"facilityId": "IDU-0201", "setTemp": 26.0, "unit": "C"}],
    )
    assert response.json()["data"]["results"] == [
        {"facilityId": "IDU-0201", "result": "fail", "reason": "offline"}
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"controls": {"facilityId": "IDU-0201"}}, "4001"),
        ({"controls": ["IDU-0201"]}, "4001"),
        ({}, "4001"),
        ({"controls": [{"facilityId": f"IDU-{i}", "power": "on"} for i in range(101)]}, "4002"),
    ],
)
async def test_control_body_refusals(sim: Sim, body: Any, code: str) -> None:
    path = f"{API}/site/S001/gw/GW-02/facility/IDU"
    response = await sim.http.put(path, json=body, headers=await sim.headers())
    assert answer(response) == (400, code)


async def test_control_with_an_invalid_type_is_400(sim: Sim) -> None:
    assert answer(await sim.put("/site/S001/gw/GW-02/facility/FRIDGE", [])) == (400, "4000")


async def test_the_control_log_records_each_put_and_resets(sim: Sim) -> None:
    controls = [{"facilityId": "IDU-0201", "setTemp": 26.0, "unit": "C"}]
    await sim.put("/site/S001/gw/GW-02/facility/IDU", controls)
    sim.clock.advance(timedelta(minutes=1))
    await sim.put("/site/S001/gw/GW-02/facility/FRIDGE", controls)
    await sim.get("/site")  # not a control: not logged
    log = (await sim.admin("GET", "/controls")).json()
    assert [(e["seq"], e["time"], e["facility_type"], e["status"], e["code"]) for e in log] == [
        (1, T0.isoformat(), "IDU", 200, "0000"),
        (2, (T0 + timedelta(minutes=1)).isoformat(), "FRIDGE", 400, "4000"),
    ]
    assert log[0]["controls"] == controls
    assert log[0]["results"] == [{"facilityId": "IDU-0201", "result": "success"}]
    assert (log[0]["site"], log[0]["gateway"], log[0]["message_id"]) == ("S001", "GW-02", "m-1")
    assert (await sim.admin("GET", "/log")).json() == log
    assert (await sim.admin("POST", "/controls/reset")).json() == {"reset": True, "dropped": 2}
    assert (await sim.admin("GET", "/controls")).json() == []


# -- admin ------------------------------------------------------------------------


async def test_admin_reads_every_facility(sim: Sim) -> None:
    every = (await sim.admin("GET", "/facilities")).json()
    assert len(every) == 24
    first = every[0]
    assert (first["site"], first["gateway"], first["facilityId"], first["offline"]) == (
        "S001", "GW-01", "IDU-0101", False,
    )  # fmt: skip  # one row, as the admin API lists it
    one = (await sim.admin("GET", "/facilities/S001/GW-01/IDU-0101")).json()
    assert one == first
    assert (await sim.admin("GET", "/facilities/S001/GW-01/NOPE")).status_code == 404


async def test_an_occupant_changes_a_setpoint(sim: Sim) -> None:
    changed = await sim.admin(
        "POST", "/facilities/S001/GW-02/IDU-0201", {"setTemp": 21.5, "operationMode": "heat"}
    )
    assert (changed.json()["setTemp"], changed.json()["operationMode"]) == (21.5, "heat")
    state = await _state(sim, "GW-02", "IDU", "IDU-0201")
    assert (state["setTemp"], state["operationMode"]) == (21.5, "heat")
    refused = await sim.admin("POST", "/facilities/S001/GW-02/IDU-0201", {"setTemp": 45})
    assert (refused.status_code, refused.json()) == (400, {"error": "out_of_range"})
    assert (await sim.admin("POST", "/facilities/S001/GW-02/IDU-0201", [])).status_code == 400
    bad = await sim.admin("POST", "/facilities/S001/GW-02/IDU-0201", {"offline": "yes"})
    assert bad.status_code == 400


async def test_reset_restores_the_generated_inventory(sim: Sim) -> None:
    before = (await sim.admin("GET", "/facilities")).json()
    await sim.put("/site/S001/gw/GW-02/facility/IDU", [{"facilityId": "IDU-0201", "setTemp": 29.0}])
    await sim.admin("POST", "/access", {"site": "S001"})
    assert (await sim.admin("POST", "/reset")).json() == {"reset": True}
    assert (await sim.admin("GET", "/facilities")).json() == before
    assert (await sim.admin("GET", "/controls")).json() == []
    assert (await sim.admin("GET", "/tokens")).json()["valid"] == 0
    assert (await sim.get("/site/S001/gw")).status_code == 200


async def test_faults_apply_to_becon_routes_but_not_its_admin(sim: Sim) -> None:
    headers = await sim.headers()
    script = {"next": [{"fault": "fail", "path": "/tms/", "count": 2}]}
    assert (await sim.http.post("/_sim/faults", json=script)).status_code == 200
    assert (await sim.admin("GET", "/facilities")).status_code == 200
    response = await sim.http.get(f"{API}/site", headers=headers)
    assert answer(response) == (500, "5000")
    assert answer(await sim.http.get(f"{API}/auth/servertime", headers=SERVICE)) == (500, "5000")
    assert (await sim.http.get(f"{API}/site", headers=headers)).status_code == 200


# -- a real socket --------------------------------------------------------------------


def test_the_whole_sequence_over_a_real_socket() -> None:
    with (
        serve_in_background(SimOptions(facilities=3)) as running,
        httpx.Client(base_url=running.url + API, headers=SERVICE) as http,
    ):
        ms = http.get("/auth/servertime").json()["data"]["serverTime"]
        token = http.post("/auth/token", json={"serverTime": ms, "signature": sign(ms)})
        headers = {"x-lgtms-service-token": token.json()["data"]["accessToken"]}
        sites = http.get("/site", headers=headers).json()["data"]
        assert [s["siteCode"] for s in sites] == ["S001"]
        put = http.put(
            "/site/S001/gw/GW-02/facility/IDU",
            json={"controls": [{"facilityId": "IDU-0201", "setTemp": 26.5, "unit": "C"}]},
            headers=headers,
        )
        assert put.json()["data"]["results"][0]["result"] == "success"
        log = httpx.get(f"{running.url}/_sim/becon/controls").json()
        assert [e["controls"][0]["setTemp"] for e in log] == [26.5]


def test_a_control_s_record_says_when_it_arrived_before_its_latency() -> None:
    """Recorded once handled, after the latency; ``arrived`` is before it (the benchmarks'
    "first PUT reached the simulator")."""
    with (
        serve_in_background(SimOptions(facilities=3, latency_ms=50)) as running,
        httpx.Client(base_url=running.url + API, headers=SERVICE) as http,
    ):
        ms = http.get("/auth/servertime").json()["data"]["serverTime"]
        token = http.post("/auth/token", json={"serverTime": ms, "signature": sign(ms)})
        headers = {"x-lgtms-service-token": token.json()["data"]["accessToken"]}
        control = {"facilityId": "IDU-0201", "setTemp": 26.5, "unit": "C"}
        http.put("/site/S001/gw/GW-02/facility/IDU", json={"controls": [control]}, headers=headers)
        (entry,) = httpx.get(f"{running.url}/_sim/becon/controls").json()
    waited = datetime.fromisoformat(entry["time"]) - datetime.fromisoformat(entry["arrived"])
    assert waited >= timedelta(milliseconds=50)
