"""BECON control through the daemon's fan-out: per gateway and type, ≤ 100 per PUT, values."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import stamina
from structlog.testing import capture_logs

from scheduler.clients.becon.contract import MAX_CONTROLS, control_body
from scheduler.clients.http import RetryPolicy
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import MAX_CONTROLS_PER_CALL, Batch, Control, FacilityKey
from tests.support.fakes.becon_api import FakeBecon, controls, fail, fan_out, make_client, ok


def _puts(fake: FakeBecon) -> list[tuple[str, int]]:
    return [
        (r.url.path.rsplit("/", 3)[-3] + "/" + r.url.path.rsplit("/", 1)[-1], _count(r.content))
        for r in fake.requests
        if r.method == "PUT"
    ]


def _count(content: bytes) -> int:
    return len(json.loads(content)["controls"])


def test_control_body_carries_setpoints_only() -> None:
    body = control_body(
        [
            Control(FacilityKey("S001", "GW-01", "IDU", "IDU-0001"), 26.0, TempUnit.C),
            Control(FacilityKey("S001", "GW-01", "IDU", "IDU-0002"), 79, TempUnit.F),
        ]
    )
    assert body == {
        "controls": [
            {"facilityId": "IDU-0001", "setTemp": 26.0, "unit": "C"},
            {"facilityId": "IDU-0002", "setTemp": 79.0, "unit": "F"},
        ]
    }


async def test_250_controls_on_one_gateway_and_type_make_3_puts() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        results = await fan_out(client, controls(250))
    assert sorted(count for _, count in _puts(fake)) == [50, 100, 100]
    assert {path for path, _ in _puts(fake)} == {"GW-01/IDU"}
    assert len(results) == 250
    assert all(r.outcome == "success" for r in results)
    assert [r.key for r in results] == sorted(c.key for c in controls(250))
    sent = [
        c["facilityId"]
        for r in fake.requests
        if r.method == "PUT"
        for c in json.loads(r.content)["controls"]
    ]
    assert sorted(sent) == sorted({c.key.facility_id for c in controls(250)})


async def test_two_types_and_two_gateways_go_in_separate_puts() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    wanted = controls(3, "IDU") + controls(2, "AHU") + controls(4, "IDU", gateway="GW-02")
    async with http:
        results = await fan_out(client, wanted)
    assert Counter(path for path, _ in _puts(fake)) == {
        "GW-01/IDU": 1,
        "GW-01/AHU": 1,
        "GW-02/IDU": 1,
    }
    assert sorted(_puts(fake)) == [("GW-01/AHU", 2), ("GW-01/IDU", 3), ("GW-02/IDU", 4)]
    assert len(results) == 9


async def test_the_put_goes_to_the_site_gateway_and_type_path_with_the_token() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        await fan_out(client, controls(1, "AHU"))
    put = next(r for r in fake.requests if r.method == "PUT")
    assert put.url.path == "/tms/v1.0/connect/site/S001/gw/GW-01/facility/AHU"
    assert put.headers["x-lgtms-service-token"] == "token-1"
    assert put.headers["content-type"] == "application/json"


async def test_a_partly_failed_batch_is_values_not_an_exception() -> None:
    fake = FakeBecon(refuse={"IDU-0001": "out_of_range", "IDU-0003": "offline"}, omit={"IDU-0004"})
    client, http = make_client(fake)
    async with http:
        with capture_logs() as logs:
            results = await fan_out(client, controls(5))
    outcome = {r.key.facility_id: (r.outcome, r.reason) for r in results}
    assert outcome == {
        "IDU-0000": ("success", None),
        "IDU-0001": ("refused", "out_of_range"),  # no retry cures it (Contract)
        "IDU-0002": ("success", None),
        "IDU-0003": ("fail", "offline"),
        "IDU-0004": ("unknown", "not in the vendor's answer"),
    }
    put = next(r for r in fake.requests if r.method == "PUT")
    done = next(e for e in logs if e["event"] == "becon.controlled")
    assert (done["controls"], done["failed"]) == (5, 3)
    assert done["message_id"] == put.headers["x-message-id"]


async def test_a_failed_call_fails_its_facilities_and_not_the_other_batches() -> None:
    fake = FakeBecon()
    fake.fail["/facility/AHU"] = [fail(404, "4040", "gateway not found")]
    client, http = make_client(fake)
    async with http:
        with capture_logs() as logs:
            results = await fan_out(client, controls(2, "IDU") + controls(2, "AHU"))
    by_type = {(r.key.facility_type, r.outcome) for r in results}
    assert by_type == {("IDU", "success"), ("AHU", "fail")}
    failed = [r for r in results if r.outcome != "success"]
    assert all(r.reason is not None and "code 4040" in r.reason for r in failed)
    put_failed = next(e for e in logs if e["event"] == "hvac.put_failed")
    assert (put_failed["facility_type"], put_failed["controls"]) == ("AHU", 2)
    assert put_failed["message_id"]


async def test_a_call_that_keeps_failing_retryably_leaves_its_facilities_unknown() -> None:
    fake = FakeBecon()
    fake.fail["/facility/IDU"] = [fail(503, "5000", "busy") for _ in range(3)]
    client, http = make_client(fake, retry=RetryPolicy(attempts=3))
    async with http:
        with stamina.set_testing(True, attempts=3), capture_logs() as logs:
            results = await fan_out(client, controls(2))
    assert {r.outcome for r in results} == {"unknown"}
    assert all(r.reason is not None and "HTTP 503" in r.reason for r in results)
    assert [e["controls"] for e in logs if e["event"] == "hvac.put_failed"] == [2]


async def test_a_retryable_failure_is_retried_and_then_succeeds() -> None:
    fake = FakeBecon()
    fake.fail["/facility/IDU"] = [fail(500, "5000", "oops")]
    client, http = make_client(fake, retry=RetryPolicy(attempts=3))
    async with http:
        with stamina.set_testing(True, attempts=3):
            results = await fan_out(client, controls(2))
    assert all(r.outcome == "success" for r in results)
    assert len(_puts(fake)) == 2


async def test_send_batch_raises_for_the_call_and_refuses_oversized_batches() -> None:
    fake = FakeBecon()
    fake.fail["/facility/IDU"] = [fail(400, "4000", "invalid facility type")]
    client, http = make_client(fake)
    batch = Batch("S001", "GW-01", "IDU", tuple(controls(2)))
    async with http:
        with pytest.raises(Exception, match="HTTP 400, code 4000"):
            await client.send_batch(batch)
        with pytest.raises(ValueError, match="at most 100"):
            await client.send_batch(Batch("S001", "GW-01", "IDU", tuple(controls(101))))


def test_the_core_plans_puts_the_contract_allows() -> None:
    """The pure core cannot import the adapter's contract, so it keeps its own copy of the
    cap; were one to change without the other, full PUTs would be refused or cut short."""
    assert MAX_CONTROLS_PER_CALL == MAX_CONTROLS


async def test_unknown_result_words_and_missing_reasons() -> None:
    fake = FakeBecon()
    fake.fail["/facility/IDU"] = [
        ok(
            {
                "results": [
                    {"facilityId": "IDU-0000", "result": "pending"},
                    {"facilityId": "IDU-0001", "result": "fail"},
                    {"facilityId": "IDU-9999", "result": "success"},
                ]
            }
        )
    ]
    client, http = make_client(fake)
    async with http:
        with capture_logs() as logs:
            results = await fan_out(client, controls(2))
    assert [(r.outcome, r.reason) for r in results] == [
        ("unknown", "result 'pending'"),
        ("fail", "no reason given"),
    ]
    stray = next(e for e in logs if e["event"] == "becon.control_stray_results")
    assert stray["facilities"] == ["IDU-9999"]


async def test_concurrency_is_bounded_by_max_concurrency() -> None:
    fake = FakeBecon()
    client, http = make_client(fake, max_concurrency=3)
    many = [c for g in range(10) for c in controls(5, gateway=f"GW-{g:02d}")]
    async with http:
        results = await fan_out(client, many)
    assert len(results) == 50
    assert len(_puts(fake)) == 10
    assert fake.max_in_flight == 3


async def test_one_facility_twice_is_a_caller_bug() -> None:
    fake = FakeBecon()
    client, http = make_client(fake)
    async with http:
        with pytest.raises(ValueError, match="appears twice"):
            await fan_out(client, controls(2) + controls(1))
