"""The DR client's mapping, headers, tolerant reading and secrecy (respx, no network)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from scheduler.clients.dr.client import DrApiClient
from scheduler.clients.dr.contract import read_request
from scheduler.clients.dr.types import request_body
from scheduler.domain.events import SIGNAL_TYPES, EventTarget
from scheduler.domain.lifecycle import Status
from scheduler.errors import ApiError, NotFoundError, PermanentApiError, RetryableApiError
from tests.support.fakes.dr_api import (
    BASE,
    END_MS,
    EVENT,
    START_MS,
    TOKEN,
    client,
    ok,
    stored,
)


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def api(router: respx.MockRouter) -> AsyncIterator[DrApiClient]:
    async with httpx.AsyncClient(base_url=BASE) as http:
        yield client(http)


# -- the POST body -------------------------------------------------------------


def test_body_is_camel_case_with_epoch_milliseconds() -> None:
    body = request_body(EVENT, "2026-07-15-peak")
    assert body == {
        "requestID": "2026-07-15-peak",
        "name": "Heat wave peak",
        "eventSignals": [
            {
                "signalID": "s1",
                "signalName": "LOAD_CONTROL",
                "signalType": "x-loadControlLevelOffset",
                "targets": ["x-DEVICE_AIR_CONDITIONER"],
                "maxTemp": 80,
                "tempOffset": 4.5,
                "unit": "F",
            },
            {
                "signalID": "s2",
                "signalName": "SIMPLE",
                "signalType": "level",
                "targets": ["x-DEVICE_TV", "x-DEVICE_ESS"],
            },
        ],
        "eventTargets": [
            {"venID": "CE-02"},
            {"venID": "CE-01", "resourceIDs": ["CE-TV", "CE-ESS"]},
        ],
        "vtnID": "vtn01",
        "startTs": START_MS,
        "endTs": END_MS,
    }
    assert len(str(body["startTs"])) == 13


def test_body_is_valid_json_and_round_trips() -> None:
    text = json.dumps(request_body(EVENT, "r-1"), allow_nan=False)
    again = read_request(json.loads(text), "r-1", None)
    assert again.vtn_id == EVENT.vtn_id
    assert (again.start, again.end) == (EVENT.start, EVENT.end)
    assert again.targets == EVENT.targets
    assert again.signals == EVENT.signals


async def test_create_posts_the_body_with_every_common_header(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    route = router.post("/requests").mock(return_value=ok({"requestID": "r-1"}))
    result = await api.create(EVENT, "r-1")
    request = route.calls.last.request
    assert json.loads(request.content) == request_body(EVENT, "r-1")
    assert request.headers["x-service-id"] == "svc-1"
    assert request.headers["x-service-token"] == TOKEN
    assert request.headers["x-country-code"] == "US"
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert result.outcome == "created"
    assert result.message_id == request.headers["x-message-id"]


async def test_every_call_has_a_fresh_message_id_logged_with_its_outcome(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    route = router.get("/requests/r-1").mock(return_value=ok(stored()))
    with capture_logs() as logs:
        for _ in range(3):
            await api.get("r-1")
    sent = [call.request.headers["x-message-id"] for call in route.calls]
    logged = [e["message_id"] for e in logs if e["event"] == "http.call"]
    assert len(set(sent)) == 3
    assert logged == sent


async def test_request_ids_are_escaped_in_the_path(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    route = router.get("/requests/a%2Fb%20c").mock(return_value=ok(stored(requestID="a/b c")))
    request = await api.get("a/b c")
    assert route.called
    assert request.request_id == "a/b c"


@pytest.mark.parametrize("request_id", [".", "..", ""])
async def test_an_id_that_is_no_single_path_segment_is_refused_before_any_call(
    router: respx.MockRouter, api: DrApiClient, request_id: str
) -> None:
    """httpx removes dot segments: GET /requests/. would be GET /requests (issue 16)."""
    catch_all = router.route().mock(return_value=ok({}))
    with pytest.raises(PermanentApiError, match="safe as one URL path segment"):
        await api.get(request_id)
    with pytest.raises(PermanentApiError, match="safe as one URL path segment"):
        await api.delete(request_id)
    assert not catch_all.called


# -- tolerant reading ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0, Status.PENDING),
        (1, Status.STANDBY),
        ("1", Status.STANDBY),
        (" 2 ", Status.ACTIVE),
        (3.0, Status.COMPLETED),
        ("9", Status.CANCELED),
    ],
)
async def test_status_as_number_or_string(
    router: respx.MockRouter, api: DrApiClient, status: Any, expected: Status
) -> None:
    router.get("/requests/r-1").mock(return_value=ok(stored(status=status)))
    request = await api.get("r-1")
    assert request.status == expected
    assert request.status_label == expected.value


@pytest.mark.parametrize("status", [7, "active", None, True, "", [1]])
async def test_unknown_status_is_logged_and_reported_unknown(
    router: respx.MockRouter, api: DrApiClient, status: Any
) -> None:
    router.get("/requests/r-1").mock(return_value=ok(stored(status=status)))
    with capture_logs() as logs:
        request = await api.get("r-1")
    assert request.status is None
    assert request.status_label == "unknown"
    warning = next(e for e in logs if e["event"] == "dr.status_unknown")
    assert warning["raw_status"] == (None if status is None else str(status))
    assert warning["message_id"] == request.message_id


@pytest.mark.parametrize(
    "targets",
    [
        [{"venID": "CE-02"}, {"venID": "CE-01", "resourceIDs": ["CE-TV"]}],
        {"venID": ["CE-02", "CE-01"]},
    ],
)
async def test_both_event_target_shapes(
    router: respx.MockRouter, api: DrApiClient, targets: Any
) -> None:
    router.get("/requests/r-1").mock(return_value=ok(stored(eventTargets=targets)))
    request = await api.get("r-1")
    assert [t.ven_id for t in request.targets] == ["CE-02", "CE-01"]
    assert all(isinstance(t, EventTarget) for t in request.targets)


def test_a_single_ven_string_in_the_object_shape() -> None:
    data = stored(eventTargets={"venID": "CE-09", "resourceIDs": ["R1"]})
    assert read_request(data, "r", None).targets == (EventTarget("CE-09", ("R1",)),)


@pytest.mark.parametrize("insert_ts", [1784000000, 1784000000000, "1784000000000"])
async def test_insert_ts_in_seconds_or_milliseconds(
    router: respx.MockRouter, api: DrApiClient, insert_ts: Any
) -> None:
    router.get("/requests/r-1").mock(return_value=ok(stored(insertTs=insert_ts)))
    request = await api.get("r-1")
    assert request.insert_ts == datetime.fromtimestamp(1784000000, UTC)
    assert (request.start, request.end) == (EVENT.start, EVENT.end)


@pytest.mark.parametrize("spelling", ["x-loadControlLevelOffset", "x-LoadControlLevelOffset"])
def test_signal_type_in_both_spellings(spelling: str) -> None:
    data = stored()
    data["eventSignals"][0]["signalType"] = spelling
    signal = read_request(data, "r", None).signals[0]
    assert signal.type == SIGNAL_TYPES["LOAD_CONTROL"]
    assert signal.controls_air_conditioners


def test_missing_and_odd_fields_do_not_break_reading() -> None:
    request = read_request(
        {"status": "2", "eventTargets": "CE-02", "eventSignals": [1, {"signalName": 5}]},
        "r-9",
        "m",
    )
    assert request.request_id == "r-9"
    assert request.status == Status.ACTIVE
    assert (request.start, request.end, request.insert_ts, request.vtn_id) == (None,) * 4
    assert request.targets == ()
    assert [s.name for s in request.signals] == ["5"]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), RetryableApiError),
        (httpx.Response(200, json={"data": stored()}), RetryableApiError),
        (httpx.Response(200, json=[1, 2]), RetryableApiError),
        (httpx.Response(200, content=b"\xff\xfe\x00"), RetryableApiError),
        (httpx.Response(502, text="bad gateway"), RetryableApiError),
        (httpx.Response(404, text="not here"), NotFoundError),
    ],
)
async def test_unreadable_answers_are_errors_with_an_excerpt(
    router: respx.MockRouter, api: DrApiClient, response: httpx.Response, error: type[ApiError]
) -> None:
    router.get("/requests/r-1").mock(return_value=response)
    with pytest.raises(ApiError) as info:
        await api.get("r-1")
    assert type(info.value) is error
    assert info.value.message_id is not None
    assert info.value.http_status == response.status_code


async def test_success_without_data_reads_as_empty(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    router.get("/requests/r-1").mock(
        return_value=httpx.Response(200, json={"code": "2000", "data": None})
    )
    request = await api.get("r-1")
    assert request.request_id == "r-1"
    assert request.status is None


# -- secrecy -------------------------------------------------------------------


async def test_the_token_is_in_no_log_error_or_repr(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    router.get("/requests/a").mock(return_value=httpx.Response(401, json={"code": 4201}))
    router.get("/requests/b").mock(side_effect=httpx.ConnectError("refused"))
    router.post("/requests").mock(return_value=httpx.Response(500, json={"code": 5000}))
    texts: list[str] = [repr(api)]
    with capture_logs() as logs:
        for call in (api.get("a"), api.get("b"), api.create(EVENT, "c")):
            with pytest.raises(ApiError) as info:
                await call
            texts += [str(info.value), repr(info.value), repr(vars(info.value))]
    texts.append(repr(logs))
    assert all(TOKEN not in text for text in texts)
    assert len([e for e in logs if e["event"] == "http.call"]) == 3
