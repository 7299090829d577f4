"""BECON authentication: signing, the signer plug-in, the token cache, 401 handling, secrecy."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
import stamina
from pydantic import SecretStr
from structlog.testing import capture_logs

from scheduler import metrics
from scheduler.clients.becon.auth import TokenCache, load_signer
from scheduler.clients.becon.contract import hmac_sha256_signer
from scheduler.clients.becon.types import TokenGrant
from scheduler.clients.http import RetryPolicy
from scheduler.clock import FakeClock
from scheduler.config import BeconConfig
from scheduler.config_values import becon_client
from scheduler.errors import AuthError, ConfigError, NotFoundError, RetryableApiError
from tests.support.fakes.becon_api import (
    SECRET_KEY,
    SERVER_TIME,
    SERVICE_ID,
    SERVICE_KEY,
    T0,
    FakeBecon,
    fail,
    make_client,
)

# -- the signature -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("service_id", "server_time", "key", "signature"),
    [
        # from openssl, not Python: printf 'svc-1\n1784116800000' |
        #   openssl dgst -sha256 -hmac KEY -binary | base64
        (
            "svc-1",
            1784116800000,
            "SIGNING-key-s3cr3t",
            "yH5o8ttA3I7EXc4oIxQSjG8XcaXnzmcaB6vD7JccYV4=",
        ),
        ("sim-service", 1763826300123, "sim-key", "0YdKasLVk3No2UjP4bqIuCLYC5z3GXHbTLn3K4WjnDs="),
    ],
)
def test_default_signer_is_base64_hmac_sha256_of_id_newline_time(
    service_id: str, server_time: int, key: str, signature: str
) -> None:
    assert hmac_sha256_signer(service_id, server_time, key) == signature


def test_the_configured_default_signer_loads() -> None:
    assert load_signer(BeconConfig().signer) is hmac_sha256_signer


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("no_such_module_xyz:sign", "cannot import 'no_such_module_xyz'"),
        ("scheduler.clients.becon:no_such_signer", "has no function 'no_such_signer'"),
        ("scheduler.clients.becon:TITLE", "has no function 'TITLE'"),
    ],
)
def test_a_bad_signer_path_is_a_config_error(path: str, words: str) -> None:
    with pytest.raises(ConfigError, match=r"becon\.signer") as caught:
        load_signer(path)
    assert words in str(caught.value)


def partner_signer(service_id: str, server_time_ms: int, key: str) -> str:
    return f"partner:{service_id}:{server_time_ms}:{len(key)}"


async def test_a_plugged_in_signer_signs_the_token_request() -> None:
    fake = FakeBecon()
    config = BeconConfig(
        base_url="http://becon.test",
        service_id=SERVICE_ID,
        signer=f"{__name__}:partner_signer",
    )
    transport = httpx.MockTransport(fake.handler)
    async with becon_client(config, transport=transport) as client:
        with pytest.raises(AuthError):  # the fake expects the default algorithm
            await client.sites()
    body = json.loads(fake.calls("/auth/token")[0].content)
    assert body == {"serverTime": SERVER_TIME, "signature": f"partner:svc-1:{SERVER_TIME}:7"}


def broken_signer(service_id: str, server_time_ms: int, key: str) -> str:
    raise ValueError(f"bad key {key}")


async def test_a_failing_signer_is_an_auth_error_that_does_not_quote_the_key() -> None:
    fake = FakeBecon()
    client, http = make_client(fake, signer=broken_signer)
    async with http:
        with pytest.raises(AuthError, match=r"becon\.signer failed: ValueError") as caught:
            await client.sites()
    assert SECRET_KEY not in str(caught.value)


# -- the sequence and the headers --------------------------------------------------


async def test_servertime_then_signed_token_then_the_call_with_every_header() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        await client.sites()
    assert [(r.method, r.url.path.rsplit("/", 1)[-1]) for r in fake.requests] == [
        ("GET", "servertime"),
        ("POST", "token"),
        ("GET", "site"),
    ]
    for request in fake.requests:
        assert request.headers["x-lgtms-service-id"] == SERVICE_ID
        assert request.headers["x-lgtms-service-key"] == SERVICE_KEY
        assert request.headers["x-message-id"]
    assert "x-lgtms-service-token" not in fake.requests[0].headers
    assert "x-lgtms-service-token" not in fake.requests[1].headers
    assert fake.requests[2].headers["x-lgtms-service-token"] == "token-1"


# -- caching and re-issue ------------------------------------------------------------


async def test_the_token_is_reused_then_reissued_at_90_percent_of_its_life() -> None:
    fake = FakeBecon(expires_in=1000)
    clock = FakeClock(T0)
    client, http = make_client(fake, clock=clock)
    async with http:
        await client.sites()
        clock.advance(timedelta(seconds=899))
        await client.sites()
        assert fake.counts["token"] == 1
        assert client.tokens.renew_at == T0 + timedelta(seconds=900)
        clock.advance(timedelta(seconds=1))
        await client.sites()
        assert fake.counts["token"] == 2
        assert client.tokens.renew_at == T0 + timedelta(seconds=900 + 900)
    tokens = [r.headers.get("x-lgtms-service-token") for r in fake.calls("/site")]
    assert tokens == ["token-1", "token-1", "token-2"]


async def test_a_24_hour_token_is_renewed_after_21_h_36_min() -> None:
    fake = FakeBecon()
    clock = FakeClock(T0)
    client, http = make_client(fake, clock=clock)
    async with http:
        await client.sites()
        assert client.tokens.renew_at == T0 + timedelta(hours=21, minutes=36)


async def test_200_concurrent_calls_share_one_token_request() -> None:
    fake = FakeBecon()
    client, http = make_client(fake, max_concurrency=50)
    async with http:
        await asyncio.gather(*(client.sites() for _ in range(200)))
    assert fake.counts["servertime"] == 1
    assert fake.counts["token"] == 1
    assert len(fake.calls("/site")) == 200
    assert fake.max_in_flight <= 50


async def test_a_401_reissues_the_token_once_and_repeats_the_call() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        await client.sites()
        fake.valid.clear()  # the service forgot every token (expired early, rotated...)
        with capture_logs() as logs:
            sites = await client.sites()
    assert sites[0].code == "S001"
    assert fake.counts["token"] == 2
    site_calls = fake.calls("/site")
    assert [r.headers["x-lgtms-service-token"] for r in site_calls] == [
        "token-1",
        "token-1",
        "token-2",
    ]
    assert [e["event"] for e in logs if e["event"].startswith("becon.token")] == [
        "becon.token_refused",
        "becon.token_issued",
    ]


async def test_a_second_401_is_an_auth_error_not_a_loop() -> None:
    fake = FakeBecon()
    refused = [fail(401, "4010", "token expired") for _ in range(5)]
    fake.fail["/site"] = refused
    client, http = make_client(fake, retry=RetryPolicy(attempts=4))
    async with http:
        with stamina.set_testing(True, attempts=4), pytest.raises(AuthError) as caught:
            await client.sites()
    assert caught.value.http_status == 401
    assert caught.value.code == "4010"
    assert len(fake.calls("/site")) == 2, "once with the token, once with a re-issued one"
    assert fake.counts["token"] == 2


async def test_a_burst_of_401s_reissues_one_token() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        await client.sites()
        fake.valid.clear()
        await asyncio.gather(*(client.sites() for _ in range(50)))
    assert fake.counts["token"] == 2


async def test_a_403_is_not_a_reason_to_reissue() -> None:
    fake = FakeBecon()
    fake.fail["/site"] = [fail(403, "4030", "access to the site denied")]
    client, http = make_client(fake)
    async with http:
        with pytest.raises(AuthError, match="HTTP 403, code 4030"):
            await client.sites()
    assert fake.counts["token"] == 1


async def test_a_failed_token_issue_is_shared_then_retried() -> None:
    fake = FakeBecon()
    fake.fail["/auth/token"] = [fail(503, "5000", "busy")]
    client, http = make_client(fake, retry=RetryPolicy(attempts=3))
    async with http:
        with stamina.set_testing(True, attempts=3), metrics.isolated_metrics() as m:
            await asyncio.gather(*(client.sites() for _ in range(20)))
    assert len(fake.calls("/auth/token")) == 2, "one failed flight shared by all, one good"
    issues = "drsched_becon_token_issues_total"
    assert m.registry.get_sample_value(issues, {"outcome": "failed"}) == 1
    assert m.registry.get_sample_value(issues, {"outcome": "ok"}) == 1
    assert len(fake.calls("/site")) == 20


async def test_a_stale_server_time_fails_the_call_and_the_next_try_starts_over() -> None:
    fake = FakeBecon()
    fake.fail["/auth/token"] = [fail(401, "4011", "server time expired")]
    client, http = make_client(fake)
    async with http:
        with pytest.raises(AuthError, match="code 4011"):
            await client.sites()
        await client.sites()
    assert len(fake.calls("/auth/servertime")) == 2


async def test_the_token_call_retries_a_timeout_under_the_policy() -> None:
    fake = FakeBecon()
    calls = 0

    async def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        if request.url.path.endswith("/servertime") and calls == 0:
            calls += 1
            raise httpx.ReadTimeout("slow", request=request)
        return await fake.handler(request)

    client, http = make_client(fake, handler=flaky, retry=RetryPolicy(attempts=2))
    async with http:
        with stamina.set_testing(True, attempts=2):
            assert (await client.sites())[0].code == "S001"
        with pytest.raises(RetryableApiError):
            await TokenCache(_timeout_issue, FakeClock(T0)).get()


async def _timeout_issue() -> TokenGrant:
    raise RetryableApiError("BECON", "token issue", message="timeout")


async def test_closing_the_client_stops_a_token_issue_in_flight() -> None:
    started = asyncio.Event()

    async def slow_issue() -> TokenGrant:
        started.set()
        await asyncio.Event().wait()  # never answered
        raise AssertionError("unreachable")

    cache = TokenCache(slow_issue, FakeClock(T0))
    waiter = asyncio.ensure_future(cache.get())
    await started.wait()
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter


def test_renew_share_is_checked() -> None:
    with pytest.raises(ValueError, match="renew_share"):
        TokenCache(_timeout_issue, FakeClock(T0), renew_share=1.5)


# -- secrets -------------------------------------------------------------------------


async def test_no_secret_in_logs_reprs_or_errors() -> None:
    fake = FakeBecon()
    fake.fail["/site/S001/gw"] = [fail(404, "4040", "site not found")]
    client, http = make_client(fake)
    async with http:
        with capture_logs() as logs:
            await client.sites()
            with pytest.raises(NotFoundError) as caught:
                await client.gateways("S001")
    texts = [repr(client), repr(client.tokens), str(caught.value), repr(logs)]
    grant = TokenGrant(SecretStr("token-1"), timedelta(hours=24))
    texts.append(repr(grant))
    for text in texts:
        for secret in (SERVICE_KEY, SECRET_KEY, "token-1"):
            assert secret not in text
