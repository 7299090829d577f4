"""The DR client against the simulator over a real socket.

What respx cannot show: real timeouts and lost responses, the simulator's
own fault injection (seeded, so repeatable), statuses moved by the
simulator's injected clock, and what reaches the logs. Nothing here waits
for time to pass: the simulator's clock is a :class:`FakeClock` the test
moves, and the retry waits stamina asks for are recorded instead of slept
(:func:`slept`). The only real waiting is the client's own read timeout
(:data:`TIMEOUT`), which is what the timeout tests are about.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from scheduler import logging as drsched_logging
from scheduler.clients.dr.client import DrApiClient
from scheduler.clock import FakeClock
from scheduler.config import DrApiConfig
from scheduler.config_values import dr_client
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.lifecycle import Status
from scheduler.errors import (
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import Running, serve_in_background

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
START, END = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
STANDBY_LEAD = timedelta(minutes=5)
#: A token no log line, error or repr may contain.
TOKEN = "dr-T0KEN-never-in-logs-7f3a"
WRONG_TOKEN = "dr-WRONG-T0KEN-also-secret-91c2"
#: The client's read timeout: the one real wait, when a fault hangs a call.
TIMEOUT = timedelta(seconds=0.5)

EVENT = PlanEvent(
    event_id="ev-1",
    vtn_id="vtn01",
    start=START,
    end=END,
    signals=(
        Signal(
            "s1",
            "LOAD_CONTROL",
            "x-loadControlLevelOffset",
            ("x-DEVICE_AIR_CONDITIONER",),
            max_temp=80.0,
            temp_offset=4.0,
            unit=TempUnit.F,
        ),
    ),
    targets=(EventTarget("CE-02", ("FLOOR-2",)),),
    name="peak",
)


@dataclasses.dataclass
class Sim:
    """The running simulator, its clock, and an admin client for its ``/_sim`` routes."""

    running: Running
    clock: FakeClock
    admin: httpx.AsyncClient

    async def faults(self, **changes: Any) -> None:
        response = await self.admin.post("/_sim/faults", json=changes)
        assert response.status_code == 200, response.text

    async def calls(self, request_id: str | None = None) -> list[dict[str, Any]]:
        params = {"request_id": request_id} if request_id else None
        calls: list[dict[str, Any]] = (await self.admin.get("/_sim/dr/log", params=params)).json()
        return calls

    async def posts(self, request_id: str) -> int:
        """POSTs the DR service itself saw for ``request_id`` (faults before it are not seen)."""
        return sum(c["method"] == "POST" for c in await self.calls(request_id))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Running, FakeClock]]:
    """One simulator for the module (starting and stopping one costs ~0.3 s)."""
    clock = FakeClock(T0)
    options = SimOptions(clock=clock, dr_token=TOKEN, standby_lead=STANDBY_LEAD, timeout_hang_s=10)
    with serve_in_background(options) as running:
        yield running, clock


@pytest.fixture
async def sim(server: tuple[Running, FakeClock]) -> AsyncIterator[Sim]:
    """The module's simulator as new: no requests, calls, quirks or faults; clock at T0."""
    running, clock = server
    clock.set(T0)
    faults = running.simulator.faults
    faults.script.clear()
    faults.counts.clear()
    assert faults.apply({"fail_rate": 0, "timeout_rate": 0, "timeout_after_rate": 0}) == []
    # plain HTTP: no TLS context to build (loading CA certificates costs ~60 ms a client)
    async with httpx.AsyncClient(base_url=running.url, verify=False) as admin:
        assert (await admin.post("/_sim/dr/reset")).status_code == 200
        yield Sim(running, clock, admin)


def _config(sim: Sim, token: str = TOKEN, attempts: int = 5) -> DrApiConfig:
    return DrApiConfig(
        base_url=sim.running.dr_url,
        service_token=SecretStr(token),
        timeout=TIMEOUT,
        retry_attempts=attempts,
        retry_total=timedelta(seconds=60),
    )


@pytest.fixture
async def api(sim: Sim) -> AsyncIterator[DrApiClient]:
    async with dr_client(_config(sim)) as client:
        yield client


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits on the test's thread, recorded instead of slept.

    Only the test's thread: the simulator's event loop runs in a thread of its
    own and keeps its real ``asyncio.sleep`` (uvicorn ticks with it).
    """
    waits: list[float] = []
    real_sleep = asyncio.sleep
    test_thread = threading.get_ident()

    async def fake_sleep(delay: float, result: Any = None) -> Any:
        if threading.get_ident() != test_thread:
            return await real_sleep(delay, result)
        if delay > 0:
            waits.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return waits


# -- create, get, delete; statuses by the simulator's clock ---------------------


async def test_create_get_delete_round_trip(sim: Sim, api: DrApiClient) -> None:
    created = await api.create(EVENT, "ev-1")
    assert (created.outcome, created.request_id) == ("created", "ev-1")
    found = await api.get("ev-1")
    assert (found.status, found.vtn_id, found.start, found.end) == (
        Status.PENDING,
        "vtn01",
        START,
        END,
    )
    assert found.insert_ts == T0, "insertTs comes from the simulator's clock"
    assert found.targets == EVENT.targets
    assert found.signals == EVENT.signals
    deleted = await api.delete("ev-1")
    assert (deleted.request_id, deleted.already_gone) == ("ev-1", False)
    with pytest.raises(NotFoundError):
        await api.get("ev-1")
    assert (await api.delete("ev-1")).already_gone is True, "a second DELETE finds it gone"
    methods = [(c["method"], c["status"]) for c in await sim.calls("ev-1")]
    assert methods == [("POST", 200), ("GET", 200), ("DELETE", 200), ("GET", 404), ("DELETE", 404)]


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (T0, Status.PENDING),
        (START - STANDBY_LEAD - timedelta(seconds=1), Status.PENDING),
        (START - STANDBY_LEAD, Status.STANDBY),
        (START, Status.ACTIVE),
        (END - timedelta(seconds=1), Status.ACTIVE),
        (END, Status.COMPLETED),
    ],
)
async def test_statuses_move_with_the_simulators_clock(
    sim: Sim, api: DrApiClient, at: datetime, status: Status
) -> None:
    await api.create(EVENT, "ev-1")
    sim.clock.set(at)
    assert (await api.get("ev-1")).status == status


async def test_a_remote_cancel_reads_as_canceled(sim: Sim, api: DrApiClient) -> None:
    await api.create(EVENT, "ev-1")
    sim.clock.set(START)
    assert (await sim.admin.post("/_sim/dr/requests/ev-1/cancel")).status_code == 200
    assert (await api.get("ev-1")).status == Status.CANCELED


async def test_delete_once_standby_is_refused_with_the_vendors_code(
    sim: Sim, api: DrApiClient
) -> None:
    await api.create(EVENT, "ev-1")
    sim.clock.set(START - STANDBY_LEAD)
    with pytest.raises(PermanentApiError) as info:
        await api.delete("ev-1")
    assert (info.value.code, info.value.http_status) == ("4000", 400)
    assert "only a pending request can be deleted (standby)" in info.value.message
    assert [c["method"] for c in await sim.calls("ev-1")] == ["POST", "DELETE"], "not retried"


async def test_the_odd_answers_the_reference_allows_are_read(sim: Sim, api: DrApiClient) -> None:
    await api.create(EVENT, "ev-1")
    quirks = dict.fromkeys(
        ["status_as_string", "targets_as_object", "insert_ts_seconds", "signal_type_capitalized"],
        True,
    )
    assert (await sim.admin.post("/_sim/dr/quirks", json=quirks)).status_code == 200
    sim.clock.set(START)
    found = await api.get("ev-1")
    assert (found.status, found.raw_status, found.insert_ts) == (Status.ACTIVE, "2", T0)
    assert [t.ven_id for t in found.targets] == ["CE-02"]
    assert found.signals[0].type == "x-loadControlLevelOffset"


# -- retries through the simulator's faults ------------------------------------


async def test_seeded_server_errors_are_retried_and_each_request_is_posted_once(
    sim: Sim, slept: list[float]
) -> None:
    await sim.faults(fail_rate=0.4, seed=3)
    ids = [f"ev-{n}" for n in range(8)]
    async with dr_client(_config(sim, attempts=12)) as api:
        with capture_logs() as logs:
            for request_id in ids:
                assert (await api.create(EVENT, request_id)).outcome == "created"
                assert (await api.get(request_id)).status == Status.PENDING
    failed = (await sim.admin.get("/_sim/faults")).json()["counts"]["fail"]
    assert failed >= 3, "the seed gives several 500s (else this test proves nothing)"
    assert len(slept) == failed, "one backoff per failed call, none slept for real"
    assert all(0 < wait <= 10 for wait in slept)
    for request_id in ids:
        assert await sim.posts(request_id) == 1
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert warnings.count("http.failing") == sum(e["event"] == "http.recovered" for e in logs)
    assert 1 <= warnings.count("http.failing") < failed, "a warning per outage, not per retry"


async def test_the_same_seed_gives_the_same_calls(sim: Sim, slept: list[float]) -> None:
    async def run() -> list[tuple[str, str, int]]:
        await sim.admin.post("/_sim/dr/reset")
        await sim.faults(fail_rate=0.4, seed=11)
        async with dr_client(_config(sim, attempts=12)) as api:
            for request_id in ("a", "b", "c"):
                await api.create(EVENT, request_id)
        return [(c["method"], c["request_id"], c["status"]) for c in await sim.calls()]

    first = await run()
    assert first == await run()


async def test_retries_give_up_after_the_configured_attempts(sim: Sim, slept: list[float]) -> None:
    await sim.faults(fail_rate=1.0)
    async with dr_client(_config(sim, attempts=3)) as api:
        with pytest.raises(RetryableApiError) as info:
            await api.get("ev-1")
    assert (info.value.code, info.value.http_status) == ("5000", 500)
    assert len(slept) == 2
    assert (await sim.admin.get("/_sim/faults")).json()["counts"]["fail"] == 3


@pytest.mark.parametrize("fault", ["timeout_after", "timeout"])
async def test_a_timed_out_create_gets_before_posting_again(
    sim: Sim, api: DrApiClient, slept: list[float], fault: str
) -> None:
    """``timeout_after``: the service created it, the answer was lost → found by GET.
    ``timeout``: the service never saw it → GET says 404 → POST again."""
    await sim.faults(next=[{"fault": fault, "method": "POST", "path": "/dr/requests"}])
    result = await api.create(EVENT, "ev-1")
    assert result.outcome == ("existing" if fault == "timeout_after" else "created")
    calls = [(c["method"], c["status"]) for c in await sim.calls("ev-1")]
    if fault == "timeout_after":
        assert calls == [("POST", 200), ("GET", 200)]
        assert result.request is not None
        assert result.request.status == Status.PENDING
    else:
        assert calls == [("GET", 404), ("POST", 200)]
    assert await sim.posts("ev-1") == 1
    assert len(slept) == 1


@pytest.mark.parametrize(("header", "waited"), [(7, 7.0), (3600, 30.0)])
async def test_429_retry_after_is_honoured_and_capped(
    sim: Sim, api: DrApiClient, slept: list[float], header: int, waited: float
) -> None:
    await api.create(EVENT, "ev-1")
    await sim.faults(next=[{"fault": "throttle", "retry_after": header, "method": "GET"}])
    assert (await api.get("ev-1")).status == Status.PENDING
    assert slept == [waited], "Retry-After instead of the backoff, capped at 30 s"


async def test_a_throttled_create_is_not_ambiguous_but_still_gets_first(
    sim: Sim, api: DrApiClient, slept: list[float]
) -> None:
    await sim.faults(next=[{"fault": "throttle", "retry_after": 2, "method": "POST"}])
    assert (await api.create(EVENT, "ev-1")).outcome == "created"
    assert slept == [2.0]
    assert await sim.posts("ev-1") == 1


# -- errors carry the x-message-id we sent -------------------------------------


async def _last_message_id(sim: Sim, request_id: str) -> str:
    calls = await sim.calls(request_id)
    message_id: str = calls[-1]["message_id"]
    return message_id


async def test_a_not_found_error_quotes_the_message_id_the_service_logged(
    sim: Sim, api: DrApiClient
) -> None:
    with pytest.raises(NotFoundError) as info:
        await api.get("nope")
    error = info.value
    assert (error.code, error.http_status) == ("4302", 404)
    assert error.message == "request not found: nope", "the vendor's message, verbatim"
    assert error.message_id == await _last_message_id(sim, "nope")
    assert f"x-message-id {error.message_id}" in str(error)


async def test_an_invalid_body_is_reported_verbatim_and_not_retried(
    sim: Sim, api: DrApiClient
) -> None:
    loud = dataclasses.replace(
        EVENT, signals=(dataclasses.replace(EVENT.signals[0], temp_offset=20.0),)
    )
    with pytest.raises(PermanentApiError) as info:
        await api.create(loud, "ev-1")
    assert (info.value.code, info.value.http_status) == ("4102", 400)
    assert "tempOffset: 20 °F is outside 4–16 °F" in info.value.message
    assert info.value.message_id == await _last_message_id(sim, "ev-1")
    assert await sim.posts("ev-1") == 1


async def test_a_wrong_token_is_an_auth_error_that_does_not_quote_it(sim: Sim) -> None:
    async with dr_client(_config(sim, token=WRONG_TOKEN)) as api:
        with pytest.raises(AuthError) as info:
            await api.get("ev-1")
        assert WRONG_TOKEN not in repr(api)
    error = info.value
    assert (error.code, error.http_status) == ("4201", 401)
    assert error.message_id == await _last_message_id(sim, "ev-1")
    assert WRONG_TOKEN not in f"{error} {error!r} {error.message}"


# -- the token never reaches the logs ------------------------------------------


async def _everything(sim: Sim) -> None:
    """Every kind of call and outcome: success, retries, lost answers, 4xx, 401."""
    await sim.faults(
        next=[
            {"fault": "timeout_after", "method": "POST"},
            {"fault": "fail", "method": "GET"},
            {"fault": "throttle", "retry_after": 1, "method": "GET"},
        ]
    )
    async with dr_client(_config(sim)) as api:
        await api.create(EVENT, "ev-1")
        await api.get("ev-1")
        await api.delete("ev-1")
        with pytest.raises(NotFoundError):
            await api.get("ev-1")
        with pytest.raises(PermanentApiError):
            await api.create(dataclasses.replace(EVENT, end=START), "ev-2")
    async with dr_client(_config(sim, token=WRONG_TOKEN)) as wrong:
        with pytest.raises(AuthError):
            await wrong.get("ev-1")


def _secrets_in(text: str) -> list[str]:
    return [secret for secret in (TOKEN, WRONG_TOKEN) if secret in text]


async def test_no_token_in_structlog_events_or_library_records(
    sim: Sim, slept: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    """Raw events, before any redaction: the client never hands the token to a logger."""
    caplog.set_level(logging.DEBUG)
    for name in drsched_logging.CHATTY_LIBRARIES:  # the daemon quiets them; here, everything
        caplog.set_level(logging.DEBUG, logger=name)
    with capture_logs() as events:
        await _everything(sim)
    logged_ids = {e.get("message_id") for e in events if e["event"] == "http.call"}
    assert len(logged_ids) >= 8, "every call was logged with its message id"
    assert _secrets_in(repr(events)) == []
    assert any("HTTP Request" in r.getMessage() for r in caplog.records), "httpx was captured"
    assert _secrets_in(caplog.text) == []


@pytest.fixture
def rendered() -> Iterator[io.StringIO]:
    """drsched's real log pipeline (JSON lines, debug) into a buffer, restored afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    libraries = {name: logging.getLogger(name).level for name in drsched_logging.CHATTY_LIBRARIES}
    out = io.StringIO()
    drsched_logging.configure(level="debug", format="json", stream=out)
    yield out
    structlog.configure(**saved)
    root.handlers = handlers
    root.setLevel(level)
    for name, library_level in libraries.items():
        logging.getLogger(name).setLevel(library_level)


async def test_no_token_in_rendered_log_lines(
    sim: Sim, slept: list[float], rendered: io.StringIO
) -> None:
    await _everything(sim)
    text = rendered.getvalue()
    assert '"event": "http.call"' in text
    assert '"event": "dr.create_resolved"' in text
    assert '"event": "http.failing"' in text
    assert _secrets_in(text) == []
