"""Shared values for the DR client's unit tests (an event, a client on respx)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from scheduler.clients.dr.client import DrApiClient
from scheduler.clients.http import NO_RETRY, RetryPolicy
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit

BASE = "http://dr.test/v1"
TOKEN = "dr-TOKEN-s3cr3t"
START = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
END = datetime(2026, 7, 15, 22, 0, tzinfo=UTC)
START_MS, END_MS = 1784138400000, 1784152800000

EVENT = PlanEvent(
    event_id="2026-07-15-peak",
    vtn_id="vtn01",
    start=START,
    end=END,
    signals=(
        Signal(
            "s1",
            "LOAD_CONTROL",
            "x-loadControlLevelOffset",
            ("x-DEVICE_AIR_CONDITIONER",),
            min_temp=None,
            max_temp=80.0,
            temp_offset=4.5,
            unit=TempUnit.F,
        ),
        Signal("s2", "SIMPLE", "level", ("x-DEVICE_TV", "x-DEVICE_ESS")),
    ),
    targets=(EventTarget("CE-02"), EventTarget("CE-01", ("CE-TV", "CE-ESS"))),
    name="Heat wave peak",
)


def client(http: httpx.AsyncClient, retry: RetryPolicy = NO_RETRY) -> DrApiClient:
    return DrApiClient(
        http,
        service_id="svc-1",
        service_token=SecretStr(TOKEN),
        country_code="US",
        retry=retry,
    )


def stored(**changes: Any) -> dict[str, Any]:
    """GET data for EVENT as the service would return it."""
    data: dict[str, Any] = {
        "requestID": EVENT.event_id,
        "name": EVENT.name,
        "eventSignals": [
            {
                "signalID": "s1",
                "signalName": "LOAD_CONTROL",
                "signalType": "x-loadControlLevelOffset",
                "targets": ["x-DEVICE_AIR_CONDITIONER"],
                "maxTemp": 80,
                "tempOffset": 4.5,
                "unit": "F",
            }
        ],
        "eventTargets": [{"venID": "CE-02"}, {"venID": "CE-01", "resourceIDs": ["CE-TV"]}],
        "vtnID": "vtn01",
        "startTs": START_MS,
        "endTs": END_MS,
        "status": 0,
        "insertTs": 1784000000000,
    }
    data.update(changes)
    return data


def ok(data: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.Response(200, json={"code": 2000, "data": data or {}})
