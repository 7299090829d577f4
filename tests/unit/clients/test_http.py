"""The shared HTTP policy: errors at the boundary, bounded retries, call logs, clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stamina
from structlog.testing import capture_logs

from scheduler import metrics
from scheduler.clients import http as h
from scheduler.config import BeconConfig, DrApiConfig
from scheduler.errors import (
    AlreadyExistsError,
    ApiError,
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
TOKEN = "tok-SECRET-123"


# -- Retry-After ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("86400", h.RETRY_AFTER_MAX),
        ("Wed, 15 Jul 2026 12:00:30 GMT", 30.0),
        ("Wed, 15 Jul 2026 11:59:00 GMT", 0.0),
        ("Thu, 16 Jul 2026 12:00:00 GMT", h.RETRY_AFTER_MAX),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates_capped(
    header: str | None, expected: float | None
) -> None:
    assert h.parse_retry_after(header, now=NOW) == expected


def test_retry_after_cap_is_a_parameter() -> None:
    assert h.parse_retry_after("100", cap=10) == 10


# -- errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, PermanentApiError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (405, PermanentApiError),
        (409, AlreadyExistsError),
        (412, PermanentApiError),
        (429, RetryableApiError),
        (500, RetryableApiError),
        (502, RetryableApiError),
        (503, RetryableApiError),
    ],
)
def test_http_status_decides_the_error_class(status: int, cls: type[ApiError]) -> None:
    assert h.error_class_for_status(status) is cls


def _response(status: int, text: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


def test_error_from_response_carries_everything_a_person_needs() -> None:
    response = _response(503, "down for maintenance", {"Retry-After": "12"})
    error = h.error_from_response("DR API", "get ev-1", response, code="5000", message_id="m-1")
    assert isinstance(error, RetryableApiError)
    assert (error.code, error.http_status, error.message_id) == ("5000", 503, "m-1")
    assert error.retry_after == 12.0
    assert error.message == "down for maintenance"
    assert str(error) == (
        "DR API get ev-1 failed: HTTP 503, code 5000, 'down for maintenance', x-message-id m-1"
    )


def test_retry_after_is_ignored_on_permanent_errors_and_long_bodies_are_cut() -> None:
    error = h.error_from_response("X", "op", _response(400, "x" * 500, {"Retry-After": "5"}))
    assert isinstance(error, PermanentApiError)
    assert error.retry_after is None
    assert len(error.message) == h.EXCERPT_CHARS + 1
    assert error.message.endswith("…")


def test_error_class_can_be_forced_by_the_vendor_code() -> None:
    error = h.error_from_response(
        "X", "op", _response(200), message="bad", error_class=NotFoundError
    )
    assert type(error) is NotFoundError
    assert error.http_status == 200


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), RetryableApiError),
        (httpx.ReadTimeout("read"), RetryableApiError),
        (httpx.ConnectTimeout(""), RetryableApiError),
        (httpx.RemoteProtocolError("reset"), RetryableApiError),
        (httpx.ReadError("eof"), RetryableApiError),
        (httpx.UnsupportedProtocol("ftp"), PermanentApiError),
        (httpx.TooManyRedirects("loop"), PermanentApiError),
    ],
)
def test_transport_failures_convert_at_the_boundary(
    exc: httpx.HTTPError, cls: type[ApiError]
) -> None:
    error = h.error_from_transport("DR API", "get ev-1", exc, message_id="m-2")
    assert type(error) is cls
    assert error.http_status is None
    assert error.message_id == "m-2"
    assert error.message.startswith(type(exc).__name__)


# -- retry policy --------------------------------------------------------------


def _retryable(retry_after: float | None = None) -> RetryableApiError:
    return RetryableApiError("X", "op", http_status=429, retry_after=retry_after)


def test_backoff_retries_only_retryable_errors_and_honours_retry_after_capped() -> None:
    policy = h.RetryPolicy(retry_after_cap=timedelta(seconds=20))
    assert policy.backoff(PermanentApiError("X", "op")) is False
    assert policy.backoff(ValueError("bug")) is False
    assert policy.backoff(_retryable()) is True
    assert policy.backoff(_retryable(7)) == 7.0
    assert policy.backoff(_retryable(300)) == 20.0


@pytest.mark.parametrize("section", [DrApiConfig(), BeconConfig()])
def test_policy_from_config_section(section: DrApiConfig | BeconConfig) -> None:
    short = section.model_copy(update={"retry_attempts": 3, "retry_total": timedelta(seconds=8)})
    policy = h.RetryPolicy.from_settings(short)
    assert (policy.attempts, policy.total) == (3, timedelta(seconds=8))
    assert policy.retry_after_cap == timedelta(seconds=8), "no wait outlasts the total"


class Flaky:
    """Fails with the given errors in turn, then returns "ok"; counts calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_retrying_recovers_from_retryable_errors() -> None:
    attempt = Flaky(_retryable(), _retryable())
    with stamina.set_testing(True, attempts=5):
        assert await h.retrying(h.RetryPolicy(attempts=5), attempt) == "ok"
    assert attempt.calls == 3


async def test_retrying_never_repeats_a_permanent_error() -> None:
    attempt = Flaky(NotFoundError("X", "op"))
    with stamina.set_testing(True, attempts=5), pytest.raises(NotFoundError):
        await h.retrying(h.RetryPolicy(attempts=5), attempt)
    assert attempt.calls == 1


async def test_retrying_is_bounded_in_attempts() -> None:
    attempt = Flaky(*[_retryable() for _ in range(10)])
    with stamina.set_testing(True, attempts=3, cap=True), pytest.raises(RetryableApiError):
        await h.retrying(h.RetryPolicy(attempts=3), attempt)
    assert attempt.calls == 3


async def test_no_retry_policy_makes_one_attempt() -> None:
    attempt = Flaky(_retryable())
    with pytest.raises(RetryableApiError):
        await h.retrying(h.NO_RETRY, attempt)
    assert attempt.calls == 1


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait stamina asks for, recorded instead of slept (no real waiting)."""
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, result: Any = None) -> Any:
        if delay > 0:
            waits.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return waits


def _caller(handler: Callable[[httpx.Request], httpx.Response], **policy: Any) -> h.ApiCaller:
    client = h.make_client(
        base_url="http://vendor.test/api", timeout=5, transport=httpx.MockTransport(handler)
    )
    return h.ApiCaller(client, api="dr", title="DR API", retry=h.RetryPolicy(**policy))


def _decode(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise h.error_from_response("DR API", "get ev-1", response)
    return response.json()


def _answers(*responses: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)
    return lambda request: queue.pop(0)


def _get(caller: h.ApiCaller, message_id: str = "m") -> Any:
    call = h.Call(
        "GET /x", "GET", "/x", "get ev-1", headers={"x-token": TOKEN}, message_id=message_id
    )
    return caller.retrying(lambda: caller.send(call, _decode))


@pytest.mark.parametrize(("header", "waited"), [("7", 7.0), ("3600", 30.0)])
async def test_429_retry_after_is_slept_capped(
    slept: list[float], header: str, waited: float
) -> None:
    caller = _caller(
        _answers(
            _response(429, "slow down", {"Retry-After": header}), httpx.Response(200, json={})
        ),
        retry_after_cap=timedelta(seconds=30),
    )
    assert await _get(caller) == {}
    assert slept == [waited]


async def test_backoff_grows_exponentially_without_retry_after(slept: list[float]) -> None:
    caller = _caller(
        _answers(*[_response(500) for _ in range(3)], httpx.Response(200, json={})),
        wait_initial=timedelta(seconds=1),
        wait_jitter=timedelta(0),
        wait_max=timedelta(seconds=3),
    )
    assert await _get(caller) == {}
    assert slept == [1.0, 2.0, 3.0]


# -- call logs -----------------------------------------------------------------


async def test_one_event_per_call_and_one_warning_per_run_of_failures(slept: list[float]) -> None:
    caller = _caller(
        _answers(_response(500), _response(502), _response(503), httpx.Response(200, json={})),
        wait_jitter=timedelta(0),
    )
    with capture_logs() as logs, metrics.isolated_metrics() as m:
        assert await _get(caller, message_id="mid-7") == {}
        ok = m.registry.get_sample_value(
            "drsched_api_calls_total", {"api": "dr", "endpoint": "GET /x", "outcome": "ok"}
        )
        failed = m.registry.get_sample_value(
            "drsched_api_calls_total", {"api": "dr", "endpoint": "GET /x", "outcome": "retryable"}
        )
    calls = [e for e in logs if e["event"] == "http.call"]
    assert [c["status"] for c in calls] == [500, 502, 503, 200]
    assert all(c["message_id"] == "mid-7" and c["method"] == "GET" for c in calls)
    assert all(c["path"] == "/x" and c["duration_ms"] >= 0 for c in calls)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["http.failing"]
    recovered = [e for e in logs if e["event"] == "http.recovered"]
    assert len(recovered) == 1
    assert recovered[0]["failures"] == 3
    assert (ok, failed) == (1, 3)
    assert TOKEN not in repr(logs)
    assert not caller.failing


async def test_transport_errors_are_converted_logged_and_chained() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    caller = _caller(refuse, attempts=1)
    with capture_logs() as logs, pytest.raises(RetryableApiError) as info:
        await _get(caller, message_id="mid-9")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.message_id == "mid-9"
    assert "connection refused" in str(info.value)
    call = next(e for e in logs if e["event"] == "http.call")
    assert (call["status"], call["outcome"]) == (None, "retryable")
    assert caller.failing
    assert TOKEN not in repr(logs) + str(info.value) + repr(caller)


# -- clients -------------------------------------------------------------------


async def test_make_client_applies_timeouts_limits_and_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    connection = h.Connection(base_url="http://dr.test/v1", timeout=timedelta(seconds=4))
    async with connection.client(transport=httpx.MockTransport(handler)) as client:
        assert client.timeout == httpx.Timeout(4.0)
        await client.get("/requests/a")
    assert str(seen[0].url) == "http://dr.test/v1/requests/a"
    assert seen[0].extensions["timeout"]["read"] == 4.0


def test_message_ids_are_fresh_uuids() -> None:
    ids = {h.new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 36 for i in ids)


async def test_calls_reach_the_path_under_the_base_url_each_time_and_the_joins_kept_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The joined URL is kept per path (issue 14); what goes out is httpx's own join."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    monkeypatch.setattr(h, "_URLS_KEPT", 2)
    caller = _caller(handler)
    built: list[httpx.URL | str] = []
    build = caller.client.build_request

    def counting_build(method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        built.append(url)
        return build(method, url, **kwargs)

    monkeypatch.setattr(caller.client, "build_request", counting_build)
    paths = ["/x", "/requests/a%2Fb", "/x", "/y", "/requests/a%2Fb"]
    for path in paths:
        call = h.Call("GET /any", "GET", path, "get", params={"q": "1"} if path == "/y" else None)
        await caller.send(call, _decode)
    expected = ["/x", "/requests/a%2Fb", "/x", "/y?q=1", "/requests/a%2Fb"]
    assert seen == [f"http://vendor.test/api{path}" for path in expected]
    # One request built a call: a path's first call is not joined twice (a system-wide
    # start sends 750 PUTs to 750 paths); the next goes out by the URL httpx joined.
    assert [isinstance(url, httpx.URL) for url in built] == [False, False, True, False, True]
    assert len(caller._urls) <= 2
    assert "/y" not in caller._urls  # its sent URL holds the query


async def test_a_redirected_call_keeps_no_url_for_its_path() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/old":
            return httpx.Response(307, headers={"location": "http://vendor.test/api/new"})
        return httpx.Response(200, json={})

    client = httpx.AsyncClient(
        base_url="http://vendor.test/api",
        transport=httpx.MockTransport(handler),
        follow_redirects=True,  # make_client's never follow one
    )
    caller = h.ApiCaller(client, api="dr", title="DR API")
    await caller.send(h.Call("GET /any", "GET", "/old", "get"), _decode)
    await caller.send(h.Call("GET /any", "GET", "/new", "get"), _decode)
    assert list(caller._urls) == ["/new"]


async def test_a_call_goes_straight_to_its_client_s_transport() -> None:
    """No cookie jar, auth flow or redirect loop between a vendor call and its transport
    (issue 14): the response comes back whole, with its request, its stream closed; a
    Set-Cookie is not kept (the vendors authenticate by header)."""
    closed: list[bool] = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b'{"ok": '
            yield b"true}"

        async def aclose(self) -> None:
            closed.append(True)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"set-cookie": "session=1; Path=/"}, stream=Body())

    caller = _caller(handler)
    seen: list[httpx.Response] = []

    def decode(response: httpx.Response) -> Any:
        seen.append(response)
        return _decode(response)

    assert await caller.send(h.Call("GET /any", "GET", "/x", "get"), decode) == {"ok": True}
    assert seen[0].request.url == "http://vendor.test/api/x"
    assert closed == [True]
    assert not caller.client.cookies


async def test_a_call_on_a_closed_client_fails_as_httpx_says() -> None:
    caller = _caller(lambda request: httpx.Response(200, json={}))
    await caller.client.aclose()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await caller.send(h.Call("GET /any", "GET", "/x", "get"), _decode)
