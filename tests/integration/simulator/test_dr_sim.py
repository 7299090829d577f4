"""The DR simulator exactly per the spec: headers, body rules, statuses by the clock, admin."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from scheduler.clock import FakeClock, to_epoch_ms
from scheduler.simulator.app import Simulator
from scheduler.simulator.options import SimOptions

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
START, END = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
HEADERS = {
    "x-service-id": "sim-service",
    "x-service-token": "sim-token",
    "x-country-code": "US",
    "x-message-id": "msg-1",
}


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "requestID": "r-1",
        "name": "peak",
        "eventSignals": [
            {
                "signalID": "s1",
                "signalName": "LOAD_CONTROL",
                "signalType": "x-loadControlLevelOffset",
                "targets": ["x-DEVICE_AIR_CONDITIONER"],
                "minTemp": 70,
                "maxTemp": 80,
                "tempOffset": 4,
                "unit": "F",
            },
            {"signalID": "s2", "signalName": "SIMPLE", "signalType": "level", "targets": ["x-TV"]},
        ],
        "eventTargets": [{"venID": "CE-02", "resourceIDs": ["R1"]}, {"venID": "CE-01"}],
        "vtnID": "vtn01",
        "startTs": to_epoch_ms(START),
        "endTs": to_epoch_ms(END),
    }
    data.update(changes)
    return data


@dataclass
class Sim:
    http: httpx.AsyncClient
    simulator: Simulator
    clock: FakeClock

    async def post(self, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post("/dr/requests", json=data, headers=headers or HEADERS)

    async def get(self, request_id: str = "r-1") -> httpx.Response:
        return await self.http.get(f"/dr/requests/{request_id}", headers=HEADERS)

    async def delete(self, request_id: str = "r-1") -> httpx.Response:
        return await self.http.delete(f"/dr/requests/{request_id}", headers=HEADERS)


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    clock = FakeClock(T0)
    simulator = Simulator(SimOptions(clock=clock, standby_lead=timedelta(minutes=5)))
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield Sim(http, simulator, clock)


def _answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()["code"]


async def test_create_then_get_returns_the_fields_plus_status_and_insert_ts(sim: Sim) -> None:
    created = await sim.post(body())
    assert created.json() == {"code": 2000, "data": {"requestID": "r-1"}}
    got = (await sim.get()).json()
    assert got["code"] == 2000
    assert got["data"] == {**body(), "status": 0, "insertTs": to_epoch_ms(T0)}
    assert len(str(got["data"]["insertTs"])) == 13


# -- headers -------------------------------------------------------------------


def _without(name: str) -> dict[str, str]:
    return {k: v for k, v in HEADERS.items() if k != name}


@pytest.mark.parametrize(
    ("headers", "http_status", "code"),
    [
        (_without("x-service-id"), 400, 4101),
        (_without("x-service-token"), 400, 4101),
        (_without("x-country-code"), 400, 4101),
        ({**HEADERS, "x-country-code": "USA"}, 400, 4101),
        ({**HEADERS, "x-country-code": "1A"}, 400, 4101),
        ({**HEADERS, "x-service-token": "two words"}, 400, 4103),
        ({**HEADERS, "x-service-token": "wrong"}, 401, 4201),
        ({**HEADERS, "x-service-id": "someone-else"}, 401, 4201),
        (_without("x-message-id"), 200, 2000),
    ],
)
async def test_headers_are_checked_on_every_endpoint(
    sim: Sim, headers: dict[str, str], http_status: int, code: int
) -> None:
    await sim.post(body())
    for response in (
        await sim.http.post("/dr/requests", json=body(requestID="r-2"), headers=headers),
        await sim.http.get("/dr/requests/r-1", headers=headers),
    ):
        assert _answer(response) == (http_status, code)
    if code != 2000:
        assert response.json()["message"]


# -- body rules ----------------------------------------------------------------


def _signal(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is None:
                data["eventSignals"][0].pop(key, None)
            else:
                data["eventSignals"][0][key] = value

    return mutate


def _top(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is None:
                data.pop(key)
            else:
                data[key] = value

    return mutate


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no request id", _top(requestID=None), "requestID: required"),
    ("no vtn", _top(vtnID=None), "vtnID: required"),
    ("name not text", _top(name=5), "name: must be a string"),
    ("no signals", _top(eventSignals=[]), "eventSignals: must be a non-empty list"),
    ("signal not object", _top(eventSignals=["x"]), "eventSignals[0]: must be an object"),
    ("no signal id", _signal(signalID=None), "eventSignals[0].signalID: required"),
    ("unknown name", _signal(signalName="OTHER"), "eventSignals[0].signalName: must be one of"),
    ("wrong pair", _signal(signalType="level"), "'level' does not go with LOAD_CONTROL"),
    ("no targets", _signal(targets=[]), "eventSignals[0].targets: must be a non-empty list"),
    ("min too low", _signal(minTemp=63), "eventSignals[0].minTemp: 63 °F is outside 64–86 °F"),
    ("max too high", _signal(maxTemp=86.5), "maxTemp: 86.5 °F is outside 64–86 °F"),
    ("min above max", _signal(minTemp=81), "eventSignals[0]: minTemp must not be above maxTemp"),
    ("offset small", _signal(tempOffset=3.9), "tempOffset: 3.9 °F is outside 4–16 °F"),
    ("offset big", _signal(tempOffset=17), "tempOffset: 17 °F is outside 4–16 °F"),
    (
        "C offset small",
        _signal(unit="C", minTemp=20, maxTemp=26, tempOffset=2),
        "2 °C is outside 4–16 °F",
    ),
    (
        "C offset big",
        _signal(unit="C", minTemp=20, maxTemp=26, tempOffset=9),
        "9 °C is outside 4–16 °F",
    ),
    (
        "C min low",
        _signal(unit="C", minTemp=17, maxTemp=26, tempOffset=3),
        "minTemp: 17 °C is outside",
    ),
    (
        "C max high",
        _signal(unit="C", minTemp=20, maxTemp=30.5, tempOffset=3),
        "maxTemp: 30.5 °C is outside",
    ),
    ("bad unit", _signal(unit="K"), "eventSignals[0].unit: must be F or C"),
    ("temp text", _signal(maxTemp="80"), "eventSignals[0].maxTemp: must be a number"),
    ("no targets at all", _top(eventTargets=None), "eventTargets: must be a non-empty list"),
    ("no ven", _top(eventTargets=[{"resourceIDs": ["R"]}]), "eventTargets[0].venID: required"),
    (
        "resources text",
        _top(eventTargets=[{"venID": "V", "resourceIDs": "R"}]),
        "resourceIDs: must be a list",
    ),
    ("seconds", _top(startTs=1784120400), "startTs: must have 13 digits"),
    ("float ms", _top(endTs=1784127600000.5), "endTs: must be an integer"),
    ("text ms", _top(startTs="1784120400000"), "startTs: must be an integer"),
    ("end before start", _top(endTs=to_epoch_ms(START) - 1), "endTs: must be after startTs"),
    ("end equals start", _top(endTs=to_epoch_ms(START)), "endTs: must be after startTs"),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [(m, msg) for _, m, msg in INVALID], ids=[n for n, _, _ in INVALID]
)
async def test_invalid_bodies_get_4102_with_the_field(
    sim: Sim, mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = copy.deepcopy(body())
    mutate(data)
    response = await sim.post(data)
    assert _answer(response) == (400, 4102)
    assert message in response.json()["message"]
    assert sim.simulator.dr.requests == {}


VALID: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("capitalized type", _signal(signalType="x-LoadControlLevelOffset")),
    ("bounds at the edges", _signal(minTemp=64, maxTemp=86, tempOffset=16)),
    ("celsius inside", _signal(unit="C", minTemp=18, maxTemp=30, tempOffset=3)),
    ("celsius exact edges", _signal(unit="C", minTemp=17.8, maxTemp=30, tempOffset=2.3)),
    ("equal bounds ignore the offset", _signal(minTemp=75, maxTemp=75, tempOffset=40)),
    ("no temperatures", _signal(minTemp=None, maxTemp=None, tempOffset=None, unit=None)),
    ("no name", _top(name=None)),
]


@pytest.mark.parametrize("mutate", [m for _, m in VALID], ids=[n for n, _ in VALID])
async def test_valid_bodies_are_accepted(
    sim: Sim, mutate: Callable[[dict[str, Any]], None]
) -> None:
    data = copy.deepcopy(body())
    mutate(data)
    assert _answer(await sim.post(data)) == (200, 2000)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff"])
async def test_unreadable_bodies_get_4102(sim: Sim, raw: bytes) -> None:
    response = await sim.http.post("/dr/requests", content=raw, headers=HEADERS)
    assert _answer(response) == (400, 4102)


# -- duplicates, unknown ids, methods -----------------------------------------


async def test_a_second_post_with_the_same_id_is_409_4309(sim: Sim) -> None:
    await sim.post(body())
    response = await sim.post(body(vtnID="other"))
    assert _answer(response) == (409, 4309)
    assert sim.simulator.dr.requests["r-1"].body["vtnID"] == "vtn01"


async def test_unknown_ids_are_404_4302(sim: Sim) -> None:
    assert _answer(await sim.get("nope")) == (404, 4302)
    assert _answer(await sim.delete("nope")) == (404, 4302)


@pytest.mark.parametrize(("method", "path"), [("GET", "/dr/requests"), ("PUT", "/dr/requests/r-1")])
async def test_other_methods_are_405(sim: Sim, method: str, path: str) -> None:
    response = await sim.http.request(method, path, headers=HEADERS)
    assert _answer(response) == (405, 405)


# -- statuses follow the clock -------------------------------------------------


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (T0, 0),
        (START - timedelta(minutes=5, seconds=1), 0),
        (START - timedelta(minutes=5), 1),
        (START - timedelta(seconds=1), 1),
        (START, 2),
        (END - timedelta(seconds=1), 2),
        (END, 3),
        (END + timedelta(days=30), 3),
    ],
)
async def test_status_moves_with_the_injected_clock(sim: Sim, at: datetime, status: int) -> None:
    await sim.post(body())
    sim.clock.set(at)
    assert (await sim.get()).json()["data"]["status"] == status


async def test_delete_while_pending_removes_it(sim: Sim) -> None:
    await sim.post(body())
    assert (await sim.delete()).json() == {"code": 2000, "data": {"id": "r-1"}}
    assert _answer(await sim.get()) == (404, 4302)
    assert _answer(await sim.post(body())) == (200, 2000), "the id is free again"


@pytest.mark.parametrize("offset", [timedelta(minutes=-5), timedelta(0), timedelta(hours=2)])
async def test_delete_after_pending_is_refused_with_4000(sim: Sim, offset: timedelta) -> None:
    await sim.post(body())
    sim.clock.set(START + offset)
    response = await sim.delete()
    assert _answer(response) == (400, 4000)
    assert "only a pending request can be deleted" in response.json()["message"]
    assert "r-1" in sim.simulator.dr.requests


async def test_admin_cancel_makes_it_9_and_a_completed_one_stays(sim: Sim) -> None:
    await sim.post(body())
    await sim.post(
        body(
            requestID="r-2",
            startTs=to_epoch_ms(T0 - timedelta(hours=2)),
            endTs=to_epoch_ms(T0 - timedelta(hours=1)),
        )
    )
    sim.clock.set(START + timedelta(minutes=10))
    canceled = await sim.http.post("/_sim/dr/requests/r-1/cancel")
    assert canceled.json()["status"] == 9
    assert (await sim.get()).json()["data"]["status"] == 9
    sim.clock.set(END + timedelta(hours=1))
    assert (await sim.get()).json()["data"]["status"] == 9, "canceled sticks"
    assert (await sim.http.post("/_sim/dr/requests/r-2/cancel")).status_code == 409
    assert (await sim.http.post("/_sim/dr/requests/nope/cancel")).status_code == 404


# -- admin ---------------------------------------------------------------------


async def test_the_log_records_every_call(sim: Sim) -> None:
    await sim.post(body())
    await sim.post(body())
    await sim.get()
    await sim.http.get("/dr/requests/r-1", headers=_without("x-service-id"))
    await sim.delete("nope")
    log = (await sim.http.get("/_sim/dr/log")).json()
    assert [(c["method"], c["request_id"], c["status"], c["code"]) for c in log] == [
        ("POST", "r-1", 200, 2000),
        ("POST", "r-1", 409, 4309),
        ("GET", "r-1", 200, 2000),
        ("GET", "r-1", 400, 4101),
        ("DELETE", "nope", 404, 4302),
    ]
    assert all(c["time"] == T0.isoformat() for c in log)
    assert log[0]["message_id"] == "msg-1"
    assert log[0]["path"] == "/dr/requests"
    only = (await sim.http.get("/_sim/dr/calls", params={"request_id": "nope"})).json()
    assert [c["method"] for c in only] == ["DELETE"]


async def test_admin_lists_requests_with_their_status(sim: Sim) -> None:
    await sim.post(body())
    sim.clock.set(START)
    listed = (await sim.http.get("/_sim/dr/requests")).json()
    assert [(r["requestID"], r["status"], r["status_name"]) for r in listed] == [
        ("r-1", 2, "active")
    ]
    one = (await sim.http.get("/_sim/dr/requests/r-1")).json()
    assert one["body"] == body()
    assert (await sim.http.get("/_sim/dr/requests/x")).status_code == 404
    await sim.http.post("/_sim/dr/reset")
    assert (await sim.http.get("/_sim/dr/requests")).json() == []
    assert (await sim.http.get("/_sim/dr/log")).json() == []


async def test_quirks_answer_get_the_odd_ways_the_reference_allows(sim: Sim) -> None:
    await sim.post(body())
    quirks = {
        "status_as_string": True,
        "targets_as_object": True,
        "insert_ts_seconds": True,
        "signal_type_capitalized": True,
    }
    assert (await sim.http.post("/_sim/dr/quirks", json=quirks)).json() == quirks
    data = (await sim.get()).json()["data"]
    assert data["status"] == "0"
    assert data["eventTargets"] == {"venID": ["CE-02", "CE-01"]}
    assert data["insertTs"] == to_epoch_ms(T0) // 1000
    assert data["eventSignals"][0]["signalType"] == "x-LoadControlLevelOffset"
    bad = await sim.http.post("/_sim/dr/quirks", json={"nope": True})
    assert bad.status_code == 400
