"""Faults: deterministic with a seed, vendor routes only, changeable at run time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from scheduler.simulator.app import Simulator
from scheduler.simulator.faults import Faults
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background

HEADERS = {"x-service-id": "sim-service", "x-service-token": "sim-token", "x-country-code": "US"}


def _decisions(options: SimOptions, count: int = 200) -> list[tuple[str | None, float]]:
    faults = Faults(options)
    return [
        (d.fault, d.delay_s) for d in (faults.decide("GET", "/dr/requests/x") for _ in range(count))
    ]


def _faulty(seed: int) -> SimOptions:
    """20 % failures, 10 % hangs, 10 % lost answers, 50 ± 40 ms latency."""
    return SimOptions(
        seed=seed,
        latency_ms=50,
        jitter_ms=40,
        fail_rate=0.2,
        timeout_rate=0.1,
        timeout_after_rate=0.1,
    )


def test_the_same_seed_gives_the_same_faults() -> None:
    first = _decisions(_faulty(7))
    again = _decisions(_faulty(7))
    other = _decisions(_faulty(8))
    assert first == again
    assert first != other


def test_rates_and_latency_are_what_was_asked() -> None:
    decisions = _decisions(_faulty(1), count=2000)
    kinds = [k for k, _ in decisions]
    assert 300 <= kinds.count("fail") <= 500
    assert 120 <= kinds.count("timeout") <= 240
    assert 100 <= kinds.count("timeout_after") <= 220
    delays = [d for _, d in decisions]
    assert min(delays) >= 0.010
    assert max(delays) <= 0.090
    assert max(delays) - min(delays) > 0.06, "jitter spreads the latency"


def test_no_faults_by_default() -> None:
    assert set(_decisions(SimOptions())) == {(None, 0.0)}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    simulator = Simulator(SimOptions(timeout_hang_s=0.05))
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


async def _set(http: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    return await http.post("/_sim/faults", json=changes)


async def test_failures_use_each_vendors_envelope_and_spare_admin_routes(
    http: httpx.AsyncClient,
) -> None:
    await _set(http, fail_rate=1.0)
    dr = await http.get("/dr/requests/x", headers=HEADERS)
    becon = await http.get("/tms/v1.0/connect/sites")
    assert (dr.status_code, dr.json()["code"]) == (500, 5000)
    assert (becon.status_code, becon.json()["code"]) == (500, "5000")
    assert (await http.get("/_sim/health")).status_code == 200
    assert (await http.get("/_sim/dr/log")).json() == [], "the DR service never saw them"
    counts = (await http.get("/_sim/faults")).json()["counts"]
    assert counts == {"calls": 2, "fail": 2}


async def test_seeded_faults_repeat_through_the_app(http: httpx.AsyncClient) -> None:
    async def run() -> list[int]:
        await _set(http, fail_rate=0.5, seed=42)
        return [(await http.get("/dr/requests/x", headers=HEADERS)).status_code for _ in range(30)]

    first = await run()
    assert first == await run(), "re-seeding restarts the same sequence"
    assert set(first) == {404, 500}


async def test_queued_faults_hit_only_the_matching_calls(http: httpx.AsyncClient) -> None:
    queued = await _set(
        http, next=[{"fault": "fail", "method": "POST", "path": "/dr/requests", "count": 2}]
    )
    assert queued.json()["next"] == [
        {"fault": "fail", "method": "POST", "path": "/dr/requests", "count": 2, "retry_after": None}
    ]
    assert (await http.get("/dr/requests/x", headers=HEADERS)).status_code == 404
    statuses = [
        (await http.post("/dr/requests", json={}, headers=HEADERS)).status_code for _ in range(3)
    ]
    assert statuses == [500, 500, 400]
    assert (await http.get("/_sim/faults")).json()["next"] == []


async def test_a_timeout_after_lets_the_service_handle_the_call(http: httpx.AsyncClient) -> None:
    await _set(http, next=[{"fault": "timeout_after"}])
    response = await http.get("/dr/requests/x", headers=HEADERS)
    assert response.status_code == 404, "the held answer comes after the hang"
    assert len((await http.get("/_sim/dr/log")).json()) == 1


async def test_a_throttle_is_429_with_retry_after_and_the_service_never_sees_it(
    http: httpx.AsyncClient,
) -> None:
    await _set(
        http,
        next=[{"fault": "throttle", "retry_after": 7, "path": "/dr/"}, {"fault": "throttle"}],
    )
    first = await http.get("/dr/requests/x", headers=HEADERS)
    second = await http.get("/dr/requests/x", headers=HEADERS)
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert (second.status_code, second.headers["retry-after"]) == (429, "1"), "default 1 s"
    assert "throttling" in first.json()["message"]
    assert "code" not in first.json(), "neither spec gives 429 a code"
    assert (await http.get("/_sim/dr/log")).json() == []
    assert (await http.get("/_sim/faults")).json()["counts"] == {"calls": 2, "throttle": 2}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"fail_rate": 1.5}, "fail_rate: must be between 0 and 1"),
        ({"latency_ms": -1}, "latency_ms: must be a number >= 0"),
        ({"timeout_rate": "high"}, "timeout_rate: must be a number >= 0"),
        ({"seed": 1.5}, "seed: must be an integer"),
        ({"colour": "red"}, "colour: unknown setting"),
        ({"next": [{"fault": "explode"}]}, "next[0]: needs fault in"),
        ({"next": [{"fault": "fail", "count": 0}]}, "next[0]: needs fault in"),
        ({"next": "fail"}, "next: must be a list"),
        ({"next": [{"fault": "throttle", "retry_after": -1}]}, "next[0]: needs fault in"),
        ({"next": [{"fault": "fail", "colour": "red"}]}, "next[0]: needs fault in"),
    ],
)
async def test_invalid_changes_are_refused_and_change_nothing(
    http: httpx.AsyncClient, changes: dict[str, Any], problem: str
) -> None:
    before = (await http.get("/_sim/faults")).json()
    response = await http.post("/_sim/faults", json=changes)
    assert response.status_code == 400
    assert any(problem in p for p in response.json()["errors"])
    assert (await http.get("/_sim/faults")).json() == before


async def test_settings_change_at_run_time(http: httpx.AsyncClient) -> None:
    await _set(http, latency_ms=5, jitter_ms=1, timeout_hang_s=2.5)
    settings = (await http.get("/_sim/faults")).json()
    assert (settings["latency_ms"], settings["jitter_ms"], settings["timeout_hang_s"]) == (
        5,
        1,
        2.5,
    )
    assert (await http.post("/_sim/faults", content=b"[]")).status_code == 400


async def test_over_a_socket_a_hang_is_a_client_timeout_and_ends_with_it() -> None:
    options = SimOptions(timeout_hang_s=30, standby_lead=timedelta(seconds=1))
    started = time.monotonic()
    async with (
        serve_in_background(options) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=0.3) as http,
    ):
        await _set(http, next=[{"fault": "timeout"}, {"fault": "timeout_after"}])
        for _ in range(2):
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/dr/requests/x", headers=HEADERS)
        log = (await http.get("/_sim/dr/log")).json()
        assert len(log) == 1, "the first hang was before the service, the second after"
    assert time.monotonic() - started < 10, "stopping does not wait out a 30 s hang"
