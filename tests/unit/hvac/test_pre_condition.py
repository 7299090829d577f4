"""Pre-conditioning in the controller's rules (issue 15): the setpoint, its record, its end.

Table-driven: the pre-conditioning setpoint of a facility from its original
(°F and °C, cooling and heating, the event's bounds and the facility's range),
then what the record does when due before and at the window start.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.domain.setpoints import Change, Skip
from scheduler.domain.shaping import PreCondition
from scheduler.hvac import transitions as move
from scheduler.hvac.memory import ControlMemory
from scheduler.hvac.planning import Settings, pre_condition_of
from tests.support.fakes.hvac import T0, idu, load_control

S = ControlState
KEY = FacilityKey("S1", "GW1", "IDU", "IDU-1")
START = T0 + timedelta(hours=1)
END = START + timedelta(hours=1)
SETTINGS = Settings()
TWO_F = PreCondition(timedelta(hours=1), 2, TempUnit.F)


def record(state: ControlState = S.PLANNED, **kw: Any) -> ControlRecord:
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
    )
    return replace(base, **kw)


@pytest.mark.parametrize(
    ("state", "signal", "pre", "expected"),
    [
        # cooling: offset cooler, on the 1 °F grid
        (idu("a", 74), load_control(), TWO_F, 72),
        # never below the event's min_temp
        (idu("a", 74), load_control(min_temp=73), TWO_F, 73),
        # nor below the facility's range
        (idu("a", 74, span=(73, 86)), load_control(), TWO_F, 73),
        # already at the min: nothing to do
        (idu("a", 73), load_control(min_temp=73), TWO_F, None),
        # heating: warmer, never above the event's max_temp
        (idu("a", 70, mode=Mode.HEAT), load_control(max_temp=71), TWO_F, 71),
        (idu("a", 70, mode=Mode.HEAT), load_control(max_temp=80), TWO_F, 72),
        # °C facility, °F offset: 2 °F = 1.11 °C, down to the 0.5 °C grid
        (idu("a", 24, unit=TempUnit.C), load_control(), TWO_F, 23),
        # °C offset on a °F facility: 1 °C = 1.8 °F -> 1 °F step
        (idu("a", 74), load_control(), PreCondition(timedelta(hours=1), 1, TempUnit.C), 73),
        # powered off, fan: no envelope
        (idu("a", 74, power=False), load_control(), TWO_F, None),
        (idu("a", 74, mode=Mode.FAN), load_control(), TWO_F, None),
    ],
)
def test_pre_condition_of(
    state: Any, signal: Any, pre: PreCondition, expected: float | None
) -> None:
    base = record(original=state.set_temp, unit=state.unit, mode=state.mode)
    decision = pre_condition_of(signal, state, base, pre, SETTINGS)
    if expected is None:
        assert isinstance(decision, Skip)
        assert decision.reason.startswith("pre-condition")
    else:
        assert isinstance(decision, Change)
        assert decision.target == expected


def test_precondition_records_the_setpoint_before_the_put() -> None:
    step = move.precondition(record(S.INTENT), 72, T0)
    assert step.record.state is S.INTENT
    assert (step.record.target, step.record.pre_target, step.record.pre_at) == (72, 72, T0)
    assert step.record.preconditioning
    assert step.send is not None
    assert step.send.set_temp == 72
    assert step.action == "pre_condition"


PRE = record(S.APPLIED, target=72.0, pre_target=72.0, pre_at=T0, applied_at=T0)


@pytest.mark.parametrize(
    ("shown", "override", "state", "target", "sends"),
    [
        # still at ours: the DR setpoint, decided from the original 74 -> 78
        (72, "respect", S.INTENT, 78, 78),
        # the occupant moved it (respect): left alone
        (75, "respect", S.OPTED_OUT, 72, None),
        # the occupant moved it (reassert): decided afresh from what it shows
        (75, "reassert", S.INTENT, 79, 79),
    ],
)
def test_leave_precondition_at_the_start(
    shown: float, override: Any, state: ControlState, target: float, sends: float | None
) -> None:
    settings = replace(SETTINGS, override=override)
    step = move.leave_precondition(PRE, idu("IDU-1", shown), load_control(), START, settings)
    assert step.record.state is state
    assert step.record.target == target
    assert (step.send.set_temp if step.send else None) == sends
    assert not step.record.preconditioning or step.send is None
    assert step.record.pre_target == 72, "the evidence keeps what was sent before"


def test_leave_precondition_restores_when_the_signal_no_longer_moves_it() -> None:
    step = move.leave_precondition(
        PRE, idu("IDU-1", 72), load_control(max_temp=74, offset=0), START, SETTINGS
    )
    assert step.record.state is S.RESTORING
    assert step.send is not None
    assert step.send.set_temp == 74


def test_an_unsettled_pre_conditioning_put_is_read_before_it_is_sent_again() -> None:
    unsettled = replace(PRE, state=S.INTENT)
    landed = move.resend_precondition(unsettled, idu("IDU-1", 72), T0, SETTINGS)
    assert landed.record.state is S.APPLIED
    assert landed.send is None
    lost = move.resend_precondition(unsettled, idu("IDU-1", 74), T0, SETTINGS)
    assert lost.send is not None
    assert lost.send.set_temp == 72


@pytest.mark.parametrize(
    ("rec", "due", "expected"),
    [
        (PRE, START + timedelta(minutes=5), START),  # capped at the window start
        (PRE, START - timedelta(minutes=5), START - timedelta(minutes=5)),
        (
            record(S.APPLIED, target=78.0),
            START + timedelta(minutes=5),
            START + timedelta(minutes=5),
        ),
        (PRE, None, None),  # in flight
    ],
)
def test_a_pre_conditioning_record_is_due_at_the_start_at_the_latest(
    rec: ControlRecord, due: Any, expected: Any
) -> None:
    memory = ControlMemory(SETTINGS)
    memory.starts["ev"] = START
    assert memory.capped(replace(rec, due_at=due)).due_at == expected


def test_before_its_randomized_start_a_pre_conditioned_unit_is_released() -> None:
    begin = START + timedelta(minutes=4)
    step = move.leave_precondition(PRE, idu("IDU-1", 72), load_control(), START, SETTINGS, begin)
    assert step.record.state is S.INTENT
    assert step.record.due_at == begin
    assert step.send is not None
    assert step.send.set_temp == 74, "its original until its own start"
    assert step.action == "release"
    # at its start: released (74 shown), its DR setpoint decided from there
    at_begin = move.leave_precondition(
        step.record, idu("IDU-1", 74), load_control(), begin, SETTINGS, begin
    )
    assert at_begin.send is not None
    assert at_begin.send.set_temp == 78
    # the release was lost: still at ours, decided from the original all the same
    lost = move.leave_precondition(
        step.record, idu("IDU-1", 72), load_control(), begin, SETTINGS, begin
    )
    assert lost.send is not None
    assert lost.send.set_temp == 78


def test_a_release_answer_changes_nothing_but_a_failure_is_tried_again() -> None:
    released = move.release_precondition(PRE, START, START + timedelta(minutes=4)).record
    ok = move.after_release(released, "success", None, START, SETTINGS).record
    assert (ok.state, ok.due_at, ok.target) == (S.INTENT, released.due_at, released.target)
    failed = move.after_release(released, "fail", "offline", START, SETTINGS).record
    assert (failed.state, failed.target) == (S.INTENT, released.target)
    assert failed.due_at == START + SETTINGS.backoff(1), "not left pre-conditioned in the window"
    waiting = move.release_precondition(PRE, START, None).record
    assert waiting.due_at == PRE.window_end, "no DR service yet: due at the end at the latest"
