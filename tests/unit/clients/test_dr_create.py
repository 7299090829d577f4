"""Idempotent create and the meaning of 404 after a delete (respx, no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx
import stamina
from structlog.testing import capture_logs

from scheduler.clients.dr.client import DrApiClient
from scheduler.clients.dr.contract import DELETED_STATUS
from scheduler.clients.http import RetryPolicy
from scheduler.domain.lifecycle import Status
from scheduler.errors import (
    AlreadyExistsError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)
from tests.support.fakes.dr_api import BASE, END_MS, EVENT, START_MS, client, ok, stored

RID = EVENT.event_id
NOT_FOUND = httpx.Response(404, json={"code": 4302, "message": "request not found"})
EXISTS = httpx.Response(409, json={"code": 4309, "message": "request already exists"})


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def api(router: respx.MockRouter) -> AsyncIterator[DrApiClient]:
    with stamina.set_testing(True, attempts=4, cap=True):
        async with httpx.AsyncClient(base_url=BASE) as http:
            yield client(http, RetryPolicy(attempts=4))


async def test_a_timed_out_post_that_landed_is_found_not_posted_again(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    post = router.post("/requests").mock(side_effect=httpx.ReadTimeout("lost"))
    get = router.get(f"/requests/{RID}").mock(return_value=ok(stored(status=0)))
    with capture_logs() as logs:
        result = await api.create(EVENT, RID)
    assert (result.outcome, post.call_count, get.call_count) == ("existing", 1, 1)
    assert result.request is not None
    assert result.request.status == Status.PENDING
    resolved = next(e for e in logs if e["event"] == "dr.create_resolved")
    assert resolved["after"] == "ambiguous failure"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("lost"),
        httpx.RemoteProtocolError("reset"),
        httpx.Response(500, json={"code": 5000}),
        httpx.Response(200, text="garbled"),
    ],
)
async def test_a_post_that_did_not_land_is_sent_again_after_a_get(
    router: respx.MockRouter, api: DrApiClient, failure: object
) -> None:
    post = router.post("/requests").mock(side_effect=[failure, ok({"requestID": RID})])
    get = router.get(f"/requests/{RID}").mock(return_value=NOT_FOUND)
    result = await api.create(EVENT, RID)
    assert (result.outcome, post.call_count, get.call_count) == ("created", 2, 1)


async def test_the_get_before_a_second_post_may_itself_fail_and_be_retried(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    post = router.post("/requests").mock(side_effect=httpx.ReadTimeout("lost"))
    get = router.get(f"/requests/{RID}").mock(
        side_effect=[httpx.ConnectError("down"), ok(stored())]
    )
    result = await api.create(EVENT, RID)
    assert (result.outcome, post.call_count, get.call_count) == ("existing", 1, 2)


async def test_409_and_the_same_request_counts_as_created(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    post = router.post("/requests").mock(return_value=EXISTS)
    router.get(f"/requests/{RID}").mock(return_value=ok(stored(status="1")))
    result = await api.create(EVENT, RID)
    assert (result.outcome, post.call_count) == ("existing", 1)
    assert result.request is not None
    assert result.request.status == Status.STANDBY


async def test_409_for_a_request_already_active_refuses_to_adopt_it(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    """A first POST answered 409 while the request is active: this database lost its
    history (issue 16, finding 3); never adopt it, so HVAC control never starts."""
    post = router.post("/requests").mock(return_value=EXISTS)
    router.get(f"/requests/{RID}").mock(return_value=ok(stored(status=2)))
    with pytest.raises(PermanentApiError, match="holds no record of submitting it") as info:
        await api.create(EVENT, RID)
    assert post.call_count == 1
    assert not isinstance(info.value, RetryableApiError)
    assert "HVAC control is not started" in str(info.value)


async def test_our_own_retried_post_that_landed_is_adopted_even_when_active(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    router.post("/requests").mock(side_effect=httpx.ReadTimeout("lost"))
    router.get(f"/requests/{RID}").mock(return_value=ok(stored(status=2)))
    result = await api.create(EVENT, RID)
    assert result.outcome == "existing"


@pytest.mark.parametrize(
    "different",
    [
        {"vtnID": "vtn02"},
        {"startTs": START_MS + 60_000},
        {"endTs": END_MS - 1},
        {"endTs": None},
        # issue 10 bug 8: same window and VTN, another event's VENs or request id
        {"eventTargets": [{"venID": "CE-09"}]},
        {"eventTargets": [{"venID": "CE-02"}]},
        {"eventTargets": [{"venID": "CE-02"}, {"venID": "CE-01"}, {"venID": "CE-03"}]},
        {"requestID": f"{RID}-r2"},
    ],
)
async def test_409_for_a_different_request_is_a_permanent_error_naming_it(
    router: respx.MockRouter, api: DrApiClient, different: dict[str, object]
) -> None:
    post = router.post("/requests").mock(return_value=EXISTS)
    router.get(f"/requests/{RID}").mock(return_value=ok(stored(**different)))
    with pytest.raises(AlreadyExistsError) as info:
        await api.create(EVENT, RID)
    assert post.call_count == 1
    assert info.value.code == "4309"
    assert info.value.http_status == 409
    assert f"request {RID} already exists for a different event" in str(info.value)
    assert "ours: vtn vtn01, 2026-07-15T18:00:00+00:00" in str(info.value)


async def test_a_request_found_after_a_timeout_but_different_is_an_error(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    router.post("/requests").mock(side_effect=httpx.ReadTimeout("lost"))
    router.get(f"/requests/{RID}").mock(return_value=ok(stored(vtnID="other")))
    with pytest.raises(AlreadyExistsError, match="different event"):
        await api.create(EVENT, RID)


async def test_a_rejected_body_is_not_retried(router: respx.MockRouter, api: DrApiClient) -> None:
    post = router.post("/requests").mock(
        return_value=httpx.Response(400, json={"code": 4102, "message": "maxTemp: out of range"})
    )
    with pytest.raises(PermanentApiError) as info:
        await api.create(EVENT, RID)
    assert post.call_count == 1
    assert (info.value.code, info.value.message) == ("4102", "maxTemp: out of range")


async def test_retries_are_bounded_and_the_last_error_is_raised(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    post = router.post("/requests").mock(side_effect=httpx.ConnectError("down"))
    get = router.get(f"/requests/{RID}").mock(return_value=NOT_FOUND)
    with pytest.raises(RetryableApiError):
        await api.create(EVENT, RID)
    assert post.call_count + get.call_count <= 4 * 2
    assert post.call_count == 4


# -- delete --------------------------------------------------------------------


async def test_delete_of_a_pending_request(router: respx.MockRouter, api: DrApiClient) -> None:
    router.delete(f"/requests/{RID}").mock(return_value=ok({"id": RID}))
    result = await api.delete(RID)
    assert (result.request_id, result.already_gone) == (RID, False)
    assert DELETED_STATUS == Status.CANCELED


async def test_a_404_on_delete_means_already_gone(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    route = router.delete(f"/requests/{RID}").mock(
        side_effect=[httpx.ReadTimeout("lost"), NOT_FOUND]
    )
    with capture_logs() as logs:
        result = await api.delete(RID)
    assert result.already_gone
    assert route.call_count == 2
    assert any(e["event"] == "dr.delete_already_gone" for e in logs)


async def test_delete_refused_once_not_pending(router: respx.MockRouter, api: DrApiClient) -> None:
    router.delete(f"/requests/{RID}").mock(
        return_value=httpx.Response(400, json={"code": 4000, "message": "only pending"})
    )
    with pytest.raises(PermanentApiError) as info:
        await api.delete(RID)
    assert not isinstance(info.value, NotFoundError)
    assert info.value.code == "4000"


async def test_get_of_a_deleted_request_raises_not_found(
    router: respx.MockRouter, api: DrApiClient
) -> None:
    router.get(f"/requests/{RID}").mock(return_value=NOT_FOUND)
    with pytest.raises(NotFoundError) as info:
        await api.get(RID)
    assert info.value.code == "4302"
