"""Every code of the DR spec's "Common Response" table, mapped to retryable or not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx
import stamina

from scheduler.clients.dr.client import DrApiClient
from scheduler.clients.dr.contract import CODE_ERRORS, error_class
from scheduler.clients.http import RetryPolicy
from scheduler.errors import (
    AlreadyExistsError,
    ApiError,
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)
from tests.support.fakes.dr_api import BASE, client, ok, stored

#: (HTTP status, code, error class): the spec's table, row by row.
TABLE: list[tuple[int, int | None, type[ApiError]]] = [
    (400, 4000, PermanentApiError),
    (400, 4101, PermanentApiError),
    (400, 4102, PermanentApiError),
    (400, 4103, AuthError),
    (401, 4201, AuthError),
    *[(404, code, NotFoundError) for code in range(4301, 4308)],
    (405, None, PermanentApiError),
    (405, 405, PermanentApiError),
    *[(409, code, AlreadyExistsError) for code in range(4308, 4312)],
    (500, 5000, RetryableApiError),
    # around the table: 429 and 5xx are retryable whatever the body says
    (429, None, RetryableApiError),
    (503, None, RetryableApiError),
    (500, 4102, RetryableApiError),
    # a non-success code inside HTTP 200 is a failure too
    (200, 4302, NotFoundError),
    (200, 5000, RetryableApiError),
    (200, 4999, PermanentApiError),
    (418, 4999, PermanentApiError),
]


def test_the_table_covers_every_code_of_the_spec() -> None:
    spec_codes = {4000, 4101, 4102, 4103, 4201, 405, 5000}
    spec_codes |= set(range(4301, 4312))
    assert set(CODE_ERRORS) == spec_codes
    assert {code for _, code, _ in TABLE} >= spec_codes


@pytest.mark.parametrize(("http_status", "code", "cls"), TABLE)
def test_error_class_of_each_code(http_status: int, code: int | None, cls: type[ApiError]) -> None:
    assert error_class(code, http_status) is cls


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def api(router: respx.MockRouter) -> AsyncIterator[DrApiClient]:
    with stamina.set_testing(True, attempts=3):
        async with httpx.AsyncClient(base_url=BASE) as http:
            yield client(http, RetryPolicy(attempts=3))


def _answer(http_status: int, code: int | None, message: str) -> httpx.Response:
    if code is None:
        return httpx.Response(http_status, text=message)
    return httpx.Response(http_status, json={"code": code, "message": message})


@pytest.mark.parametrize(("http_status", "code", "cls"), TABLE)
async def test_get_reports_code_and_message_verbatim_and_retries_only_retryable(
    router: respx.MockRouter,
    api: DrApiClient,
    http_status: int,
    code: int | None,
    cls: type[ApiError],
) -> None:
    message = f"vendor says {code} ünïcode"
    route = router.get("/requests/r-1").mock(return_value=_answer(http_status, code, message))
    with pytest.raises(ApiError) as info:
        await api.get("r-1")
    error = info.value
    assert type(error) is cls
    assert error.code == (None if code is None else str(code))
    assert error.message == message
    assert error.http_status == http_status
    assert error.message_id == route.calls.last.request.headers["x-message-id"]
    assert f"x-message-id {error.message_id}" in str(error)
    assert route.call_count == (3 if cls is RetryableApiError else 1)


async def test_a_retryable_failure_then_success(router: respx.MockRouter, api: DrApiClient) -> None:
    route = router.get("/requests/r-1").mock(
        side_effect=[
            _answer(500, 5000, "busy"),
            httpx.ReadTimeout("slow"),
            ok(stored(requestID="r-1", status=1)),
        ]
    )
    request = await api.get("r-1")
    assert request.request_id == "r-1"
    assert route.call_count == 3
    ids = {call.request.headers["x-message-id"] for call in route.calls}
    assert len(ids) == 3, "each attempt is its own call with its own message id"


@pytest.mark.parametrize(
    ("message_field", "body_extra"),
    [("message", {}), ("msg", {}), ("description", {}), (None, {"data": {"message": "in data"}})],
)
async def test_the_vendor_message_is_found_where_it_is(
    router: respx.MockRouter,
    api: DrApiClient,
    message_field: str | None,
    body_extra: dict[str, object],
) -> None:
    body: dict[str, object] = {"code": "4102", **body_extra}
    if message_field:
        body[message_field] = "endTs: must be after startTs"
    router.get("/requests/r-1").mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(PermanentApiError) as info:
        await api.get("r-1")
    assert info.value.message == (
        "in data" if message_field is None else "endTs: must be after startTs"
    )
    assert info.value.code == "4102"
