"""A small fake BECON Connect for the client's unit tests (``httpx.MockTransport``).

Follows the Contract closely enough for the client (envelopes, signed token,
per-facility results) and records every request; tests steer it through its
attributes (``refuse_next_tokens``, ``fail``, ``results``...). Its handler is
async and yields to the loop, so concurrent calls really overlap.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from scheduler.clients.becon.client import BeconClient
from scheduler.clients.http import NO_RETRY, RetryPolicy
from scheduler.clock import FakeClock
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import Control, FacilityKey, plan_control_batches
from scheduler.hvac.fanout import Sent, send_all

BASE = "http://becon.test"
PREFIX = "/tms/v1.0/connect"
SERVICE_ID = "svc-1"
SERVICE_KEY = "SERVICE-key-s3cr3t"
SECRET_KEY = "SIGNING-key-s3cr3t"
T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
SERVER_TIME = 1784116800000  # T0 in epoch ms


def expected_signature(server_time: int = SERVER_TIME, key: str = SECRET_KEY) -> str:
    mac = hmac.new(key.encode(), f"{SERVICE_ID}\n{server_time}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": "0000", "message": "OK", "data": data})


def fail(status: int, code: str, message: str = "refused") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message})


@dataclass
class FakeBecon:
    """State and knobs of the fake service."""

    expires_in: int = 86400
    #: path suffix -> responses to give (in order) before answering normally
    fail: dict[str, list[httpx.Response]] = field(default_factory=dict)
    #: facility id -> reason it fails with in a control PUT
    refuse: dict[str, str] = field(default_factory=dict)
    #: facility ids a control PUT answer leaves out
    omit: set[str] = field(default_factory=set)
    #: tokens the service takes; issuing adds one
    valid: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    yields: int = 3

    def calls(self, suffix: str, method: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.url.path.endswith(suffix) and (method is None or r.method == method)
        ]

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for _ in range(self.yields):
                await asyncio.sleep(0)  # let concurrent calls overlap (no time passes)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(PREFIX)
        for suffix, queued in self.fail.items():
            if path.endswith(suffix) and queued:
                return queued.pop(0)
        if path == "/auth/servertime":
            self.counts["servertime"] += 1
            return ok({"serverTime": SERVER_TIME})
        if path == "/auth/token":
            return self._token(request)
        if request.headers.get("x-lgtms-service-token") not in self.valid:
            return fail(401, "4010", "not authorized: token invalid")
        if request.method == "PUT":
            return self._control(request)
        return ok(ROUTES.get(path, lambda r: [])(request))

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.counts["token"] += 1
        body = json.loads(request.content)
        if body != {"serverTime": SERVER_TIME, "signature": expected_signature()}:
            return fail(401, "4012", "invalid signature")
        token = f"token-{self.counts['token']}"
        self.valid.add(token)
        return ok({"accessToken": token, "expiresIn": self.expires_in})

    def _control(self, request: httpx.Request) -> httpx.Response:
        controls = json.loads(request.content)["controls"]
        results = []
        for c in controls:
            facility_id = c["facilityId"]
            if facility_id in self.omit:
                continue
            if facility_id in self.refuse:
                reason = self.refuse[facility_id]
                results.append({"facilityId": facility_id, "result": "fail", "reason": reason})
            else:
                results.append({"facilityId": facility_id, "result": "success"})
        return ok({"results": results})


STATE = {
    "facilityId": "IDU-0001",
    "facilityType": "IDU",
    "power": "on",
    "operationMode": "cool",
    "setTemp": 24.0,
    "roomTemp": 25.5,
    "unit": "C",
    "setTempRange": {"min": 18.0, "max": 30.0},
}
ODU_STATE = {"facilityId": "ODU-0001", "facilityType": "ODU", "power": "on", "unit": "C"}

ROUTES: dict[str, Callable[[httpx.Request], Any]] = {
    "/site": lambda r: [{"siteCode": "S001", "siteName": "HQ", "timezone": "America/New_York"}],
    "/site/S001/gw": lambda r: [{"gwId": "GW-01", "gwName": "Floor 1", "connected": True}],
    "/site/S001/gw/GW-01/facilities": lambda r: [
        {"facilityId": "IDU-0001", "facilityType": "IDU", "name": "Room 101"},
        {"facilityId": "ODU-0001", "facilityType": "ODU", "name": "Roof"},
    ],
    "/site/S001/gw/GW-01/facilities/state": lambda r: [STATE, ODU_STATE],
    "/site/S001/gw/GW-01/facility/IDU/IDU-0001/state": lambda r: STATE,
}


def make_client(
    fake: FakeBecon,
    *,
    clock: FakeClock | None = None,
    retry: RetryPolicy = NO_RETRY,
    max_concurrency: int = 16,
    handler: Callable[[httpx.Request], Any] | None = None,
    **changes: Any,
) -> tuple[BeconClient, httpx.AsyncClient]:
    """A client on the fake (or on ``handler``); close the returned ``httpx.AsyncClient`` after."""
    transport = httpx.MockTransport(handler or fake.handler)
    http = httpx.AsyncClient(base_url=BASE, transport=transport)
    settings: dict[str, Any] = {
        "service_id": SERVICE_ID,
        "service_key": SecretStr(SERVICE_KEY),
        "secret_key": SecretStr(SECRET_KEY),
        "clock": clock or FakeClock(T0),
        "retry": retry,
        "max_concurrency": max_concurrency,
        **changes,
    }
    return BeconClient(http, **settings), http


def controls(
    count: int, facility_type: str = "IDU", gateway: str = "GW-01", start: int = 0
) -> list[Control]:
    return [
        Control(
            FacilityKey("S001", gateway, facility_type, f"{facility_type}-{i:04d}"),
            26.0,
            TempUnit.C,
        )
        for i in range(start, start + count)
    ]


async def fan_out(
    client: BeconClient, wanted: Iterable[Control], in_flight: int = 16
) -> list[Sent]:
    """Many controls sent as the daemon sends them (:func:`scheduler.hvac.fanout.send_all`).

    The answers come back in facility order, whatever order the PUTs returned in.
    """
    batches = plan_control_batches(wanted)
    sent = await send_all(client, batches, asyncio.Semaphore(in_flight), lambda _: None)
    return sorted(sent, key=lambda s: s.key)
