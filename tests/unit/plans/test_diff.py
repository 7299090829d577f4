"""The plan diff: what each change or removal means in each stored status (DESIGN lifecycle)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.domain.lifecycle import Status
from scheduler.domain.plan_diff import Change, StoredEvent, describe, diff_plan
from scheduler.errors import PlanError

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


def event(event_id: str = "ev", hours_ahead: int = 2, name: str = "peak") -> PlanEvent:
    start = NOW + timedelta(hours=hours_ahead)
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=start,
        end=start + timedelta(hours=1),
        signals=(Signal("1", "SIMPLE", "level", ("x-DEVICE_TV",)),),
        targets=(EventTarget("CE-02"),),
        name=name,
        source="plans/a.yaml:7",
    )


def stored(status: Status, content: PlanEvent | None = None, **kw: Any) -> StoredEvent:
    content = content or event()
    return replace(
        StoredEvent("ev", status, content.fingerprint(), content.source),
        **kw,
    )


CHANGED = event(name="peak, moved")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.PLANNED, Change.UPDATE),
        (Status.SUBMITTING, Change.RESUBMIT),
        (Status.PENDING, Change.RESUBMIT),
        (Status.STANDBY, None),  # refused
        (Status.ACTIVE, None),
        (Status.COMPLETED, Change.IGNORED),
        (Status.CANCELED, Change.IGNORED),
        (Status.FAILED, Change.IGNORED),
    ],
)
def test_a_change_in_each_status(status: Status, expected: Change | None) -> None:
    diff = diff_plan({"ev": stored(status)}, [CHANGED], NOW)
    if expected is None:
        assert [i.change for i in diff.items] == []
        (problem,) = diff.refused
        assert (problem.file, problem.line) == ("plans/a.yaml", 7)
        assert f"is {status}" in problem.message
        assert "drsched events cancel ev" in problem.message
        with pytest.raises(PlanError):
            diff.raise_refused()
    else:
        assert [i.change for i in diff.items] == [expected]
        assert not diff.refused


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.PLANNED, [Change.DELETE]),
        (Status.SUBMITTING, [Change.CANCEL]),
        (Status.PENDING, [Change.CANCEL]),
        (Status.STANDBY, None),
        (Status.ACTIVE, None),
        (Status.COMPLETED, []),
        (Status.CANCELED, []),
    ],
)
def test_a_removal_in_each_status(status: Status, expected: list[Change] | None) -> None:
    diff = diff_plan({"ev": stored(status)}, [], NOW)
    if expected is None:
        (problem,) = diff.refused
        assert "removed from the plan" in problem.message
    else:
        assert [i.change for i in diff.items] == expected


def test_a_removal_already_canceled_by_the_admin_is_not_refused() -> None:
    diff = diff_plan({"ev": stored(Status.ACTIVE, cancel_requested=True)}, [], NOW)
    assert diff.refused == ()
    assert diff.items == ()


def test_a_change_to_an_event_being_canceled_is_ignored() -> None:
    diff = diff_plan({"ev": stored(Status.PENDING, cancel_requested=True)}, [CHANGED], NOW)
    assert [i.change for i in diff.items] == [Change.IGNORED]


def test_unchanged_events_are_counted_not_listed() -> None:
    diff = diff_plan({"ev": stored(Status.ACTIVE)}, [event()], NOW)
    assert diff.items == ()
    assert diff.unchanged == 1
    assert diff.is_empty
    assert describe(diff) == "no changes (1 events unchanged)"


def test_moving_an_event_to_another_file_is_no_change() -> None:
    moved = replace(event(), source="plans/b.yaml:3")
    assert diff_plan({"ev": stored(Status.PLANNED)}, [moved], NOW).unchanged == 1


def test_new_events_are_added_unless_already_over() -> None:
    past = event("old", hours_ahead=-5)
    diff = diff_plan({}, [event("new"), past], NOW)
    assert [(i.change, i.event_id) for i in diff.items] == [
        (Change.ADD, "new"),
        (Change.PAST, "old"),
    ]
    assert [i.event_id for i in diff.writes] == ["new"]
    assert describe(diff) == "1 added; 1 already over (not stored)"


def test_a_new_event_with_a_re_submission_shaped_id_is_refused_from_any_source() -> None:
    """Plans check ids at load; the diff is where every source's events pass (the CLI,
    an OpenADR VTN): none may take an id another event's re-submission would carry."""
    diff = diff_plan({}, [event("peak-r2"), event("peak", hours_ahead=3)], NOW)
    (problem,) = diff.refused
    assert (problem.file, problem.line) == ("plans/a.yaml", 7)
    assert "'peak-r2' ends like a re-submission's request id" in problem.message
    with pytest.raises(PlanError):
        diff.raise_refused()
