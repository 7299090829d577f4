"""The engine over in-memory fakes: lifecycle, cancels, changes, crashes, missed windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from structlog.testing import capture_logs

from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import Source, Status
from scheduler.engine.decide import MISSED_DETAIL
from scheduler.engine.model import HvacPhase
from scheduler.errors import PermanentApiError, StoreError
from tests.support.fakes.engine import T0, RecordingHvac, plan_event
from tests.support.harness.engine_on_fakes import POLICY, World


async def test_full_lifecycle_with_hvac_call_points() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(hours=2)))
    await w.run_until(T0 + timedelta(minutes=59))
    assert w.store.status("ev") == Status.PLANNED
    await w.run_until(T0 + timedelta(hours=3))
    path = [(t.from_status, t.to_status, t.source) for t in w.store.transitions]
    assert path == [
        (Status.PLANNED, Status.SUBMITTING, Source.CLOCK),
        (Status.SUBMITTING, Status.PENDING, Source.API),
        (Status.PENDING, Status.STANDBY, Source.API),
        (Status.STANDBY, Status.ACTIVE, Source.API),
        (Status.ACTIVE, Status.COMPLETED, Source.API),
    ]
    assert w.store.transitions[0].at == T0 + timedelta(hours=1)
    assert [c for c, _ in w.hvac.calls] == ["prepare", "start", "stop"]
    assert w.dr.posts("ev") == 1


async def test_status_changes_are_noticed_within_seconds_of_the_window() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=30)))
    await w.run_until(T0 + timedelta(hours=1))
    active = next(t for t in w.store.transitions if t.to_status == Status.ACTIVE)
    assert active.at - (T0 + timedelta(minutes=30)) <= timedelta(seconds=5)


async def test_plan_arriving_inside_the_lead_is_submitted_at_once() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.engine.tick()
    assert w.store.status("ev") == Status.PENDING
    assert w.dr.calls[0] == ("POST", "ev")


async def test_rejection_fails_the_event_with_the_vendor_code_and_message_id() -> None:
    w = World()
    w.dr.reject["ev"] = PermanentApiError(
        "dr", "create", code="4102", message="invalid body", message_id="msg-1", http_status=400
    )
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    with capture_logs() as logs:
        await w.engine.tick()
    assert w.store.status("ev") == Status.FAILED
    detail = w.store.details("ev")[-1]
    assert "4102" in detail
    assert "invalid body" in detail
    assert "msg-1" in detail
    rejected = [e for e in logs if e["event"] == "dr.rejected"]
    assert rejected[0]["request_id"] == "ev"
    assert rejected[0]["message_id"] == "msg-1"


async def test_remote_cancel_stops_hvac() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.run_until(T0 + timedelta(minutes=15))
    assert w.store.status("ev") == Status.ACTIVE
    w.dr.canceled.add("ev")
    await w.run_until(T0 + timedelta(minutes=17))
    assert w.store.status("ev") == Status.CANCELED
    assert w.store.transitions[-1].source == Source.API
    assert ("stop", "ev: canceled by the DR service") in w.hvac.calls


@pytest.mark.parametrize(
    ("cancel_at", "calls_delete", "detail_part"),
    [
        (T0, False, "canceled before submission"),
        (T0 + timedelta(minutes=61), True, "deleted request ev"),
        (T0 + timedelta(minutes=117), False, "DR service will still run its part"),
        (T0 + timedelta(minutes=125), False, "DR service will still run its part"),
    ],
    ids=["planned", "pending", "standby", "active"],
)
async def test_cancel_in_each_state(
    cancel_at: datetime, calls_delete: bool, detail_part: str
) -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(hours=2)))
    await w.run_until(cancel_at)
    before = w.store.status("ev")
    w.store.cancel("ev")
    await w.run_until(cancel_at + timedelta(seconds=10))
    assert w.store.status("ev") == Status.CANCELED, before
    last = w.store.transitions[-1]
    assert last.source == Source.ADMIN
    assert detail_part in last.detail
    assert (("DELETE", "ev") in w.dr.calls) == calls_delete
    if before in (Status.STANDBY, Status.ACTIVE):
        assert ("stop", "ev: canceled locally") in w.hvac.calls


async def test_change_while_pending_deletes_and_resubmits_as_r2() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=50)))
    await w.engine.tick()
    assert w.store.status("ev") == Status.PENDING
    w.store.change(plan_event("ev", T0 + timedelta(minutes=55)))
    await w.run_until(T0 + timedelta(minutes=1))
    assert w.dr.calls[:3] == [("POST", "ev"), ("DELETE", "ev"), ("POST", "ev-r2")]
    assert w.store.views["ev"].request_id == "ev-r2"
    assert any("re-submitting as ev-r2" in d for d in w.store.details("ev"))
    await w.run_until(T0 + timedelta(hours=2))
    assert w.store.status("ev") == Status.COMPLETED
    assert w.dr.posts("ev") == 1
    assert w.dr.posts("ev-r2") == 1


async def test_restart_between_intent_and_post_posts_once() -> None:
    w = World()
    w.dr.fail_next_create = True  # the POST never reaches the service; the intent stays open
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.engine.tick()
    assert w.store.status("ev") == Status.SUBMITTING
    assert w.store.open_intents()
    w.engine = w.new_engine()
    await w.engine.start_up()
    assert w.dr.calls == [("GET", "ev"), ("POST", "ev")]
    assert w.store.status("ev") == Status.PENDING
    assert not w.store.open_intents()


async def test_restart_after_a_lost_response_does_not_post_again() -> None:
    w = World()
    w.dr.lose_next_response = True
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.engine.tick()
    assert w.store.status("ev") == Status.SUBMITTING
    w.engine = w.new_engine()
    await w.engine.start_up()
    await w.run_until(T0 + timedelta(minutes=45))
    assert w.dr.posts("ev") == 1
    assert w.store.status("ev") == Status.COMPLETED


async def test_unknown_outcome_is_reconciled_by_the_running_engine_too() -> None:
    w = World()
    w.dr.lose_next_response = True
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.run_until(T0 + timedelta(minutes=1))
    assert w.store.status("ev") == Status.PENDING
    assert w.dr.posts("ev") == 1


@pytest.mark.parametrize(
    ("down_until", "expected"),
    [
        (T0 + timedelta(minutes=35), Status.PENDING),  # inside the lead, before the window
        (T0 + timedelta(minutes=95), Status.ACTIVE),  # inside: act on what remains
        (T0 + timedelta(hours=3), Status.FAILED),  # past its end, never submitted
    ],
    ids=["before", "inside", "after"],
)
async def test_restart_in_every_state_of_a_daemon_down(
    down_until: datetime, expected: Status
) -> None:
    w = World(T0 + timedelta(minutes=1))
    w.store.add(plan_event("ev", T0 + timedelta(minutes=90)))
    w.clock.set(down_until)  # the daemon was down until now
    w.engine = w.new_engine()
    await w.engine.start_up()
    await w.run_until(down_until + timedelta(seconds=1))
    assert w.store.status("ev") == expected
    if expected == Status.FAILED:
        assert w.store.transitions[-1].source == Source.CLOCK
        assert w.store.transitions[-1].detail == MISSED_DETAIL
        assert w.dr.calls == []


async def test_restart_while_active_stops_hvac_at_the_end() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.run_until(T0 + timedelta(minutes=15))
    assert w.store.status("ev") == Status.ACTIVE
    w.engine = w.new_engine()
    w.dr.down = True  # the DR service never says completed: the clock still ends control
    await w.engine.start_up()
    await w.engine.tick()  # HVAC start again: the controller knows what it already holds
    assert w.engine.memory["ev"].hvac == HvacPhase.STARTED
    await w.run_until(T0 + timedelta(minutes=41))
    assert ("stop", "ev: window ended") in w.hvac.calls
    assert ("reconcile", "") in w.hvac.calls


async def test_api_down_retries_without_duplicates_and_logs() -> None:
    w = World()
    w.dr.down = True
    w.store.add(plan_event("ev", T0 + timedelta(minutes=20)))
    with capture_logs() as logs:
        await w.run_until(T0 + timedelta(minutes=2))
    assert w.store.status("ev") == Status.SUBMITTING
    assert any(e["event"] == "dr.submit_unknown" and e["request_id"] == "ev" for e in logs)
    w.dr.down = False
    await w.run_until(T0 + timedelta(minutes=3))
    assert w.store.status("ev") == Status.PENDING
    assert w.dr.posts("ev") == 1


async def test_unknown_remote_status_is_logged_and_changes_nothing() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=20)))
    await w.engine.tick()
    original = w.dr.status_of
    w.dr.status_of = lambda rid: None  # type: ignore[assignment,return-value,method-assign]  # a service that knows no status
    w.clock.advance(timedelta(minutes=10))
    with capture_logs() as logs:
        await w.engine.tick()
    w.dr.status_of = original  # type: ignore[method-assign]  # the fake's own method back
    assert w.store.status("ev") == Status.PENDING
    assert any(e["event"] == "dr.status_unknown" for e in logs)


async def test_many_events_poll_with_bounded_concurrency() -> None:
    w = World()
    for n in range(30):
        w.store.add(plan_event(f"ev{n}", T0 + timedelta(minutes=10 + n)))
    await w.run_until(T0 + timedelta(hours=2))
    assert all(w.store.status(f"ev{n}") == Status.COMPLETED for n in range(30))
    assert all(w.dr.posts(f"ev{n}") == 1 for n in range(30))
    assert w.engine.memory == {}


async def test_a_failing_action_is_retried_after_a_pause_not_in_a_loop() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 - timedelta(hours=2), minutes=30))  # missed

    def broken(change: object) -> bool:
        raise RuntimeError("disk full")

    w.store.record = broken  # type: ignore[method-assign]  # a store whose writes fail
    with capture_logs() as logs:
        decision = await w.engine.tick()
    assert decision.next_wake == T0 + POLICY.retry_delay
    failed = [e for e in logs if e["event"] == "engine.action_failed"]
    assert failed[0]["event_id"] == "ev"


async def test_cancel_while_submitting_reconciles_then_deletes() -> None:
    w = World()
    w.dr.lose_next_response = True
    w.store.add(plan_event("ev", T0 + timedelta(minutes=30)))
    await w.engine.tick()
    assert w.store.status("ev") == Status.SUBMITTING
    w.dr.down = False
    w.store.cancel("ev")
    await w.run_until(T0 + timedelta(minutes=1))
    assert w.store.status("ev") == Status.CANCELED
    assert w.dr.calls == [("POST", "ev"), ("GET", "ev"), ("DELETE", "ev")]


async def test_restart_between_delete_intent_and_delete() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=30)))
    await w.engine.tick()
    w.store.cancel("ev")
    w.dr.down = True  # the DELETE never reaches the service
    await w.engine.tick()
    assert [i.kind.value for i in w.store.open_intents()] == ["delete"]
    w.dr.down = False
    w.engine = w.new_engine()
    await w.engine.start_up()
    assert w.store.status("ev") == Status.CANCELED
    assert w.dr.calls.count(("DELETE", "ev")) == 1


async def test_change_refused_when_the_service_moved_to_standby_first() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.engine.tick()
    w.clock.advance(timedelta(minutes=6))  # the DR service is in standby; we have not polled
    w.store.change(plan_event("ev", T0 + timedelta(minutes=12)))
    with capture_logs() as logs:
        await w.engine.tick()
    assert any(e["event"] == "dr.delete_refused" for e in logs)
    assert w.store.status("ev") == Status.STANDBY
    assert w.dr.posts("ev-r2") == 0


async def test_rejected_resubmission_fails_the_event() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=30)))
    await w.engine.tick()
    w.dr.reject["ev-r2"] = PermanentApiError("dr", "create", code="4102", message="bad")
    w.store.change(plan_event("ev", T0 + timedelta(minutes=35)))
    await w.run_until(T0 + timedelta(seconds=30))
    assert w.store.status("ev") == Status.FAILED
    assert "4102" in w.store.details("ev")[-1]


async def test_twenty_thousand_far_events_keep_memory_small() -> None:
    w = World()
    for n in range(20_000):
        w.store.add(plan_event(f"ev{n}", T0 + timedelta(days=3, minutes=n)))
    decision = await w.engine.tick()
    assert decision.actions == ()
    assert w.engine.memory == {}
    assert decision.next_wake == T0 + POLICY.horizon


async def test_every_log_line_about_an_event_carries_its_request_id() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    w.dr.lose_next_response = True
    with capture_logs() as logs:
        await w.run_until(T0 + timedelta(minutes=45))
    about_events = [e for e in logs if "event_id" in e]
    assert len(about_events) >= 6
    assert all(e.get("request_id") == "ev" for e in about_events), about_events
    lost = next(e for e in logs if e["event"] == "dr.submit_unknown")
    assert lost["message_id"] == "m-lost"


async def test_an_event_ended_by_another_writer_while_active_stops_hvac() -> None:
    w = World()
    w.store.add(plan_event("ev", T0 + timedelta(minutes=10)))
    await w.run_until(T0 + timedelta(minutes=12))
    assert w.store.status("ev") == Status.ACTIVE
    w.store._apply(  # e.g. an operator's tool wrote the status directly
        transition_to(Status.CANCELED, w.clock.now())
    )
    await w.engine.tick()
    assert ("stop", "ev: event ended outside the daemon") in w.hvac.calls
    assert w.engine.memory == {}


def transition_to(status: Status, at: datetime) -> object:
    from scheduler.domain.lifecycle import Transition

    return Transition("ev", Status.ACTIVE, status, at, Source.ADMIN, "outside")


# -- issue 10: HVAC start after a restart (bug 1) and after a failure (bug 7) --------


class FlakyStart(RecordingHvac):
    """HVAC control whose first ``failures`` starts raise (a database hiccup)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.started_at: list[datetime] = []

    async def start(self, event: PlanEvent, now: datetime) -> None:
        self.started_at.append(now)
        if self.failures:
            self.failures -= 1
            raise StoreError("database error: database is locked")
        await super().start(event, now)


async def test_a_failed_hvac_start_is_retried_and_the_phase_follows_success() -> None:
    w = World()
    hvac = FlakyStart(failures=1)
    w.hvac = hvac
    w.engine = w.new_engine()
    start = T0 + timedelta(hours=2)
    w.store.add(plan_event("ev", start))
    await w.run_until(start + timedelta(seconds=5))
    assert len(hvac.started_at) == 1
    assert w.engine.memory["ev"].hvac != HvacPhase.STARTED, "recorded only after success"
    await w.run_until(start + POLICY.retry_delay + timedelta(seconds=5))
    assert len(hvac.started_at) == 2
    assert hvac.started_at[1] - hvac.started_at[0] >= POLICY.retry_delay
    assert w.engine.memory["ev"].hvac == HvacPhase.STARTED
    await w.run_until(start + timedelta(hours=1))
    assert len(hvac.started_at) == 2
    assert [c for c, _ in hvac.calls] == ["prepare", "start", "stop"]


async def test_hvac_start_retries_stop_when_the_window_ends() -> None:
    w = World()
    hvac = FlakyStart(failures=10_000)
    w.hvac = hvac
    w.engine = w.new_engine()
    start = T0 + timedelta(hours=2)
    w.store.add(plan_event("ev", start))
    await w.run_until(start + timedelta(hours=1))
    attempts = hvac.started_at
    assert 2 < len(attempts) <= 30 * 60 / POLICY.retry_delay.total_seconds() + 1
    assert all(start <= at < start + timedelta(minutes=30) for at in attempts)


async def test_a_restart_mid_window_starts_hvac_control_of_the_active_event() -> None:
    """Bug 1: ``start_up`` took an active event for started; the controller decides what is."""
    w = World()
    start = T0 + timedelta(minutes=10)
    w.store.add(plan_event("ev", start))
    await w.run_until(start - timedelta(seconds=30))  # prepared, then the crash
    assert [c for c, _ in w.hvac.calls] == ["prepare"]
    w.clock.set(start + timedelta(seconds=20))
    w.store.views["ev"] = replace(w.store.views["ev"], status=Status.ACTIVE)
    w.engine = w.new_engine()
    await w.engine.start_up()
    await w.run_until(start + timedelta(seconds=21))
    assert ("start", "ev") in w.hvac.calls
    assert w.engine.memory["ev"].hvac == HvacPhase.STARTED
