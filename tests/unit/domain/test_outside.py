"""The one rule for outside calls (``scheduler.domain.outside``), table-driven and as properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.lifecycle import Status
from scheduler.domain.outside import OutsideCall, Verdict, may_touch_outside, running_revision
from scheduler.engine.remote import HvacCall, on_remote_status

END = datetime(2026, 7, 15, 18, tzinfo=UTC)
LATER = END + timedelta(hours=1)
S = timedelta(seconds=1)
POST, DELETE, START = OutsideCall.POST, OutsideCall.DELETE, OutsideCall.START_CONTROL


@pytest.mark.parametrize(
    ("call", "now", "running_end", "cancel", "allowed", "why"),
    [
        (POST, END - S, None, False, True, ""),
        (POST, END, None, False, False, "window is over"),
        (POST, END - S, None, True, False, "cancel"),
        (DELETE, END + S, None, True, True, ""),  # a cancel's DELETE: always
        (DELETE, END - S, None, False, True, ""),  # a re-submission's, inside the window
        (DELETE, END, None, False, False, "window is over"),
        (START, END - S, None, False, True, ""),
        (START, END, None, False, False, "window is over"),
        (START, END + 30 * S, None, False, False, "window is over"),  # bug 2
        (START, END - S, None, True, False, "cancel"),  # bug 3
        # a refused change: the stored revision ends later, the running one rules
        (START, END, END - S, False, False, "window is over"),
        (START, END - 2 * S, END - S, False, True, ""),
        (POST, END - S, END - 2 * S, False, True, ""),  # a POST sends the stored revision
    ],
)
def test_the_rule(
    call: OutsideCall,
    now: datetime,
    running_end: datetime | None,
    cancel: bool,
    allowed: bool,
    why: str,
) -> None:
    verdict = may_touch_outside(
        call, now=now, stored_end=END, running_end=running_end, cancel_requested=cancel
    )
    assert verdict.allowed is allowed
    assert why in verdict.reason
    assert bool(verdict.reason) is not allowed


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


@given(st.sampled_from(list(OutsideCall)), instants, instants, st.none() | instants, st.booleans())
def test_nothing_but_a_cancels_delete_goes_out_after_a_cancel_or_the_end(
    call: OutsideCall, now: datetime, end: datetime, running: datetime | None, cancel: bool
) -> None:
    verdict = may_touch_outside(
        call, now=now, stored_end=end, running_end=running, cancel_requested=cancel
    )
    hvac = call in (START, OutsideCall.PRE_CONDITION)
    window_end = running if hvac and running is not None else end
    if call is DELETE and cancel:
        assert verdict.allowed
    else:
        assert verdict.allowed == (not cancel and now < window_end)


def test_running_revision_is_the_submitted_one() -> None:
    assert running_revision(3, None) == 3
    assert running_revision(3, 2) == 2


def test_a_refused_start_records_active_and_starts_nothing() -> None:
    refused = Verdict(False, "the window is over")
    outcome = on_remote_status("ev", Status.STANDBY, Status.ACTIVE, at=END, may_start=refused)
    assert outcome.transition is not None
    assert outcome.transition.to_status == Status.ACTIVE
    assert (outcome.hvac, outcome.hvac_reason) == (None, "the window is over")
    allowed = on_remote_status("ev", Status.STANDBY, Status.ACTIVE, at=END)
    assert allowed.hvac == HvacCall.START
