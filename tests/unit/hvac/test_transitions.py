"""How records move on answers, read-backs and restore decisions (pure, table-driven)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.hvac import transitions as move
from scheduler.hvac.planning import Settings, plan_records, restore_slots
from tests.support.fakes.hvac import T0, idu, load_control

S = ControlState
KEY = FacilityKey("S1", "GW1", "IDU", "IDU-1")
END = T0 + timedelta(hours=1)
SETTINGS = Settings()


def record(state: ControlState = S.APPLIED, **kw: Any) -> ControlRecord:
    base = ControlRecord(
        "ev",
        KEY,
        state,
        window_end=END,
        created_at=T0,
        updated_at=T0,
        unit=TempUnit.F,
        mode=Mode.COOL,
        original=74.0,
        target=78.0,
        applied_at=T0 if state is S.APPLIED else None,
    )
    return replace(base, **kw)


def test_plan_records_decides_each_facility() -> None:
    states = [(KEY, idu("IDU-1", 74)), (replace(KEY, facility_id="X"), idu("X", power=False))]
    planned, skipped = plan_records(
        "ev", load_control(), states, held_by={}, auto_mode="skip", now=T0, window_end=END
    )
    assert (planned.state, planned.original, planned.target) == (S.PLANNED, 74, 78)
    assert planned.reason == "cool: 74 °F + offset 4 °F -> 78 °F"
    assert planned.due_at == END, "never started by the end: skipped then"
    assert (skipped.state, skipped.reason) == (S.SKIPPED, "powered off")


def test_a_held_facility_is_skipped_with_its_owner() -> None:
    (only,) = plan_records(
        "b",
        load_control(),
        [(KEY, idu("IDU-1", 74))],
        held_by={KEY: "a"},
        auto_mode="skip",
        now=T0,
        window_end=END,
    )
    assert (only.state, only.reason) == (S.SKIPPED, "under control of event a")


@pytest.mark.parametrize(
    ("outcome", "reason", "state", "due", "detail"),
    [
        ("success", None, S.APPLIED, T0 + timedelta(minutes=5), ""),
        ("fail", "offline", S.RETRYING, T0 + timedelta(seconds=5), "attempt 1: offline"),
        (
            "unknown",
            "read timeout",
            S.RETRYING,
            T0 + timedelta(seconds=5),
            "attempt 1: read timeout",
        ),
        ("refused", "out_of_range", S.FAILED, None, "BECON: out_of_range"),
        ("refused", "not_supported", S.FAILED, None, "BECON: not_supported"),
    ],
)
def test_after_apply(
    outcome: str, reason: str | None, state: ControlState, due: object, detail: str
) -> None:
    after = move.after_apply(record(S.INTENT), outcome, reason, T0, SETTINGS).record
    assert (after.state, after.due_at, after.detail) == (state, due, detail)


def test_retries_back_off_and_stop_at_the_window_end() -> None:
    intent = record(S.INTENT, attempts=3)
    assert move.after_apply(
        intent, "fail", "offline", T0, SETTINGS
    ).record.due_at == T0 + timedelta(seconds=40)
    late = END - timedelta(seconds=2)
    assert move.after_apply(intent, "fail", "offline", late, SETTINGS).record.due_at == END
    assert [SETTINGS.backoff(n).total_seconds() for n in range(1, 8)] == [5, 10, 20, 40, 60, 60, 60]


def test_verify_ok_schedules_the_next_and_never_past_the_end() -> None:
    step = move.verify(record(), idu("IDU-1", 78), END - timedelta(minutes=1), SETTINGS)
    assert (step.record.state, step.record.due_at, step.send) == (S.APPLIED, END, None)


def test_verify_unread_looks_again_shortly() -> None:
    step = move.verify(record(), None, T0, SETTINGS)
    assert step.record.due_at == T0 + SETTINGS.retry_base
    assert step.record.detail == "state could not be read"


def test_restore_of_an_unreadable_facility_is_sent_blind() -> None:
    step = move.restore(record(S.RESTORING), None, T0, SETTINGS)
    assert step.send is not None
    assert step.send.set_temp == 74
    assert step.action == "restore"


@pytest.mark.parametrize(
    ("shown", "applied", "state", "sends"),
    [
        (78.0, True, S.RESTORING, True),  # at the DR setpoint: back to 74
        (74.0, True, S.RESTORED, False),  # already back
        (74.0, False, S.FAILED, False),  # never applied
        (71.0, True, S.OPTED_OUT, False),  # the occupant's value stays (respect)
    ],
)
def test_restore(shown: float, applied: bool, state: ControlState, sends: bool) -> None:
    current = record(S.RESTORING, applied_at=T0 if applied else None)
    step = move.restore(current, idu("IDU-1", shown), END, SETTINGS)
    assert step.record.state is state
    assert (step.send is not None) == sends


def test_a_failed_restore_is_tried_again() -> None:
    after = move.after_restore(record(S.RESTORING), "fail", "offline", END, SETTINGS).record
    assert (after.state, after.due_at) == (S.RESTORING, END + timedelta(seconds=5))
    done = move.after_restore(record(S.RESTORING), "success", None, END, SETTINGS).record
    assert (done.state, done.restored, done.restored_at) == (S.RESTORED, 74, END)


def test_restore_slots_are_per_event_and_deterministic() -> None:
    records = [record(key=replace(KEY, facility_id=f"I{i}")) for i in range(4)]
    records += [record(event_id="other", key=replace(KEY, facility_id="I0"))]
    settings = Settings(restore_stagger=timedelta(minutes=1), restore_spacing=timedelta(seconds=30))
    slots = restore_slots(list(reversed(records)), END, settings)
    assert [slots[r.ident] for r in records] == [
        END,
        END,
        END + timedelta(seconds=30),
        END + timedelta(minutes=1),
        END,
    ]
