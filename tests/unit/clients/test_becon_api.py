"""BECON inventory and state reading, the domain mapping, and error mapping (MockTransport)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stamina
from structlog.testing import capture_logs

from scheduler.clients.becon.contract import (
    envelope_data,
    error_class,
    gateway_state_params,
    read_facilities,
    read_state,
    read_token,
)
from scheduler.clients.becon.types import FacilityReading, Gateway, Site, facility_state
from scheduler.clients.http import RetryPolicy
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey, FacilityState, Mode
from scheduler.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)
from tests.support.fakes.becon_api import STATE, FakeBecon, fail, make_client, ok

KEY = FacilityKey("S001", "GW-01", "IDU", "IDU-0001")

# -- inventory and state --------------------------------------------------------------


async def test_sites_gateways_facilities() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        assert await client.sites() == (Site("S001", "HQ", "America/New_York"),)
        assert await client.gateways("S001") == (Gateway("S001", "GW-01", "Floor 1", True),)
        facilities = await client.facilities("S001", "GW-01")
    assert [(f.key, f.name) for f in facilities] == [
        (KEY, "Room 101"),
        (FacilityKey("S001", "GW-01", "ODU", "ODU-0001"), "Roof"),
    ]
    assert facilities[0].facility_id == "IDU-0001"
    assert facilities[0].facility_type == "IDU"


async def test_state_of_one_facility_maps_onto_the_domain() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        reading = await client.state(KEY)
    assert fake.requests[-1].url.path.endswith("/site/S001/gw/GW-01/facility/IDU/IDU-0001/state")
    assert reading == FacilityReading(KEY, "on", "cool", 24.0, TempUnit.C, (18.0, 30.0), 25.5)
    assert reading.message_id == fake.requests[-1].headers["x-message-id"]
    assert reading.to_domain() == FacilityState(
        facility_id="IDU-0001",
        facility_type="IDU",
        power_on=True,
        mode=Mode.COOL,
        set_temp=24.0,
        unit=TempUnit.C,
        set_temp_range=(18.0, 30.0),
        room_temp=25.5,
    )


async def test_gateway_states_in_one_call_with_optional_types() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        readings = await client.gateway_states("S001", "GW-01")
        await client.gateway_states("S001", "GW-01", ["IDU", "AHU", "IDU"])
    first, second = fake.calls("/facilities/state")
    assert "facility_types" not in first.url.params
    assert second.url.params["facility_types"] == "AHU,IDU"
    assert [r.key.facility_type for r in readings] == ["IDU", "ODU"]
    odu = readings[1]
    assert (odu.set_temp, odu.set_temp_range, odu.has_setpoint) == (None, None, False)
    assert facility_state(odu).set_temp is None


def test_gateway_state_params() -> None:
    assert gateway_state_params(None) is None
    assert gateway_state_params([]) is None
    assert gateway_state_params(["IDU"]) == {"facility_types": "IDU"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"setTemp": "24.5"}, {"set_temp": 24.5}),
        ({"power": "OFF"}, {"power": "off", "power_on": False}),
        ({"operationMode": "Heat"}, {"mode": "heat"}),
        ({"unit": "K"}, {"unit": None}),
        ({"setTempRange": {"min": "18"}}, {"set_temp_range": None}),
        ({"roomTemp": None}, {"room_temp": None}),
        ({"extra": {"ignored": True}}, {"set_temp": 24.0}),
    ],
)
def test_state_is_read_tolerantly(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    reading = read_state("S001", "GW-01", {**STATE, **changes})
    for name, value in expected.items():
        assert getattr(reading, name) == value


@pytest.mark.parametrize(
    ("changes", "mode", "range_"),
    [
        ({"operationMode": "turbo"}, None, (18.0, 30.0)),
        ({"operationMode": "dry"}, Mode.DRY, (18.0, 30.0)),
        ({"setTempRange": {"min": 30, "max": 18}}, Mode.COOL, None),
    ],
)
def test_domain_state_from_odd_readings(
    changes: dict[str, Any], mode: Mode | None, range_: tuple[float, float] | None
) -> None:
    state = read_state("S001", "GW-01", {**STATE, **changes}).to_domain()
    assert (state.mode, state.set_temp_range) == (mode, range_)


def test_a_state_without_a_type_takes_the_one_asked_for() -> None:
    data = {k: v for k, v in STATE.items() if k != "facilityType"}
    assert read_state("S001", "GW-01", data, facility_type="AHU").key.facility_type == "AHU"


def test_malformed_items_are_skipped_with_a_warning() -> None:
    data = [
        {"facilityId": "IDU-0001", "facilityType": "IDU"},
        {"facilityId": "", "facilityType": "IDU"},
        "nonsense",
        {"facilityId": 42, "facilityType": "AHU"},
    ]
    with capture_logs() as logs:
        facilities = read_facilities("S001", "GW-01", data)
    assert [f.facility_id for f in facilities] == ["IDU-0001", "42"]
    assert any(e["event"] == "becon.items_skipped" and e["skipped"] == 2 for e in logs)


def test_token_answer() -> None:
    grant = read_token({"accessToken": "abc", "expiresIn": "3600"})
    assert grant.token.get_secret_value() == "abc"
    assert grant.expires_in.total_seconds() == 3600
    assert read_token({"accessToken": "abc"}).expires_in.total_seconds() == 86400


async def test_unusable_data_is_a_permanent_error_with_the_message_id() -> None:
    fake = FakeBecon()
    fake.fail["/site"] = [ok({"not": "a list"})]
    client, http = make_client(fake)
    async with http:
        with pytest.raises(PermanentApiError, match="sites: data is not a list") as caught:
            await client.sites()
    assert caught.value.message_id == fake.calls("/site")[0].headers["x-message-id"]


async def test_a_token_answer_without_a_token_does_not_quote_the_body() -> None:
    fake = FakeBecon()
    fake.fail["/auth/token"] = [fail(400, "4001", "invalid body")]
    fake.fail["/auth/token"] += [httpx.Response(500, text="token=SECRET-IN-BODY")]
    client, http = make_client(fake)
    async with http:
        with pytest.raises(PermanentApiError, match="code 4001, 'invalid body'"):
            await client.sites()
        with pytest.raises(RetryableApiError) as caught:
            await client.sites()
    assert "SECRET-IN-BODY" not in str(caught.value)


# -- error mapping --------------------------------------------------------------------

#: (HTTP status, code in the body, error class): the spec's statuses and the Contract's rules.
TABLE: list[tuple[int, str | None, type[ApiError]]] = [
    (400, "4000", PermanentApiError),  # invalid facility type
    (401, "4010", AuthError),  # token missing, wrong or expired
    (403, "4030", AuthError),  # access to the site denied
    (404, "4040", NotFoundError),
    (412, "4120", PermanentApiError),  # a required header is missing
    (500, "5000", RetryableApiError),
    (502, None, RetryableApiError),
    (429, None, RetryableApiError),
    (200, "4011", AuthError),  # a failure code inside HTTP 200 is read by its digits
    (200, "4040", NotFoundError),
    (200, "5000", RetryableApiError),
    (200, "4999", PermanentApiError),
]


@pytest.mark.parametrize(("status", "code", "cls"), TABLE)
def test_error_class(status: int, code: str | None, cls: type[ApiError]) -> None:
    assert error_class(status, code) is cls


@pytest.mark.parametrize(("status", "code", "cls"), TABLE)
async def test_each_status_becomes_its_error_with_code_message_and_message_id(
    status: int, code: str | None, cls: type[ApiError]
) -> None:
    fake = FakeBecon()
    body = {"code": code, "message": "vendor says no"} if code else {"detail": "x"}
    fake.fail["/site/S001/gw"] = [httpx.Response(status, json=body) for _ in range(3)]
    client, http = make_client(fake)
    async with http:
        with pytest.raises(cls) as caught:
            await client.gateways("S001")
    error = caught.value
    assert type(error) is cls
    assert error.code == code
    assert error.http_status == status
    sent = fake.calls("/site/S001/gw")[-1].headers["x-message-id"]
    assert error.message_id == sent
    assert f"x-message-id {sent}" in str(error)
    if code:
        assert error.message == "vendor says no"


async def test_retry_after_is_read_and_the_call_retried() -> None:
    fake = FakeBecon()
    fake.fail["/site"] = [httpx.Response(429, headers={"Retry-After": "7"}, json={"code": "4290"})]
    client, http = make_client(fake, retry=RetryPolicy(attempts=2))
    async with http:
        with stamina.set_testing(True, attempts=2):
            assert (await client.sites())[0].code == "S001"
    assert len(fake.calls("/site")) == 2
    fake.fail["/site"] = [httpx.Response(503, headers={"Retry-After": "7"})]
    once, http = make_client(fake)
    async with http:
        with pytest.raises(RetryableApiError) as caught:
            await once.sites()
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("response", "cls", "words"),
    [
        (httpx.Response(200, text="<html>proxy</html>"), RetryableApiError, "no BECON envelope"),
        (httpx.Response(200, json={"code": 0, "data": [1]}), None, ""),
        (httpx.Response(200, json={"code": "0000", "data": [1]}), None, ""),
        (httpx.Response(500, text="upstream"), RetryableApiError, "upstream"),
        (httpx.Response(404, json={"code": "4040"}), NotFoundError, "code 4040"),
    ],
)
def test_envelope_reading(response: httpx.Response, cls: type[ApiError] | None, words: str) -> None:
    if cls is None:
        assert envelope_data(response, "op", "m-1") == [1]
        return
    with pytest.raises(cls, match=words):
        envelope_data(response, "op", "m-1")


async def test_a_transport_failure_is_retryable_with_the_message_id() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, http = make_client(FakeBecon(), handler=refuse)
    async with http:
        with pytest.raises(RetryableApiError, match="ConnectError") as caught:
            await client.sites()
    assert caught.value.message_id


async def test_paths_escape_ids() -> None:
    fake = FakeBecon()
    fake.fail["/state"] = [ok(STATE)]
    client, http = make_client(fake)
    async with http:
        await client.state(FacilityKey("S 1", "GW/1", "IDU", "a?b"))
    path = fake.requests[-1].url.raw_path.decode()
    assert path == "/tms/v1.0/connect/site/S%201/gw/GW%2F1/facility/IDU/a%3Fb/state"


@pytest.mark.parametrize("segment", [".", "..", ""])
async def test_a_dot_segment_id_is_refused_before_any_call(segment: str) -> None:
    """httpx removes ``.``/``..`` segments, which would address another resource."""
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        with pytest.raises(PermanentApiError, match="safe as one URL path segment"):
            await client.state(FacilityKey("S1", segment, "IDU", "f1"))
    assert [r.url.path for r in fake.requests if "/state" in r.url.path] == []
