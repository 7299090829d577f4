"""How a record moves on each thing the controller learns (pure; ``now`` is an argument).

Each function takes a record and what was learned (a PUT's answer, a state
read back, a restore decision) and returns a :class:`Step`: the record's new
value, and the control to send, if any. The controller writes the record,
sends the control, and feeds the answer back in (STYLE.md "rules decide, the
engine acts").

BECON Contract: a control fails per facility with a reason. ``out_of_range``,
``not_supported``, ``not_found`` and ``invalid`` will not change by
themselves: the facility is ``failed`` (a DR setpoint) or ``restore_failed``
(a restore: it ends there, with the reason, and frees the facility for later
events). Anything else (``offline``, a call that failed or timed out, an
answer that left the facility out) is tried again with backoff: a DR
setpoint while the window lasts, a restore until it lands.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import Signal
from scheduler.domain.hvac import Control, FacilityState
from scheduler.domain.overrides import (
    RestoreKind,
    VerdictKind,
    classify_observation,
    restore_decision,
)
from scheduler.domain.setpoints import Change, decide_setpoint
from scheduler.domain.shaping import Ramp, ramp_setpoints, ramp_step_size
from scheduler.domain.units import (
    convert_temperature,
    exact,
    format_temperature,
    within_tolerance,
)
from scheduler.hvac.planning import Settings, apply_control, planned, restore_control

SUCCESS = "success"
#: A failure the BECON adapter says no retry cures (its ``PERMANENT_REASONS``).
REFUSED = "refused"


@dataclass(frozen=True)
class Step:
    """A record's next value, and what to PUT for it (``action``: apply, reassert, restore)."""

    record: ControlRecord
    send: Control | None = None
    action: str = ""


def _at(record: ControlRecord, state: ControlState, now: datetime, **changes: object) -> Step:
    # ``changes`` are ControlRecord fields by name; mypy cannot check a **dict against them.
    return Step(replace(record, state=state, updated_at=now, **changes))  # type: ignore[arg-type]  # see above


def at_target(record: ControlRecord, observed: FacilityState) -> bool:
    """The facility shows the record's DR setpoint (within half a resolution step)."""
    return _shows(record, observed, record.target)


def shows_pre_condition(record: ControlRecord, observed: FacilityState) -> bool:
    """The facility shows the pre-conditioning setpoint this record sent (issue 15)."""
    return _shows(record, observed, record.pre_target)


def _shows(record: ControlRecord, observed: FacilityState, sent: float | None) -> bool:
    """``observed`` is at ``sent`` (in the record's unit), within half a resolution step."""
    if sent is None or record.unit is None:
        return False
    if observed.set_temp is None or observed.unit is None:
        return False
    value = convert_temperature(observed.set_temp, observed.unit, record.unit)
    return within_tolerance(value, sent, record.unit)


def begin_apply(record: ControlRecord, now: datetime, action: str = "apply") -> Step:
    """Intent before effect: the record says ``intent`` before the PUT leaves."""
    step = _at(record, ControlState.INTENT, now, due_at=None)
    return replace(step, send=apply_control(record), action=action)


def after_apply(
    record: ControlRecord, outcome: str, reason: str | None, now: datetime, settings: Settings
) -> Step:
    """A DR setpoint PUT answered: applied, failed for good, or tried again later."""
    if outcome == SUCCESS:
        return _at(
            record,
            ControlState.APPLIED,
            now,
            applied_at=record.applied_at or now,
            due_at=settings.next_verify(now, record.window_end),
            detail=f"applied at attempt {record.attempts + 1}" if record.attempts else "",
        )
    attempts = record.attempts + 1
    why = reason or outcome
    if outcome == REFUSED:
        return _at(
            record, ControlState.FAILED, now, attempts=attempts, due_at=None, detail=f"BECON: {why}"
        )
    retry_at = min(now + settings.backoff(attempts), record.window_end)
    return _at(
        record,
        ControlState.RETRYING,
        now,
        attempts=attempts,
        due_at=retry_at,
        detail=f"attempt {attempts}: {why}",
    )


def retry(
    record: ControlRecord,
    observed: FacilityState | None,
    signal: Signal,
    now: datetime,
    settings: Settings,
) -> Step:
    """A failed (or unsettled) PUT's facility read again: decide afresh from what it shows.

    If the earlier PUT landed after all, it is applied. Otherwise the state
    now shown is the original (nothing of ours is on it), so the DR setpoint
    is decided again from it: an occupant's change meanwhile is respected.
    """
    if observed is None:
        return _unread(record, now, settings)
    if at_target(record, observed):
        return after_apply(record, SUCCESS, None, now, settings)
    if shows_pre_condition(record, observed):  # ours, not an original: decide from the original
        observed = replace(observed, set_temp=record.original, unit=record.unit)
    decision = decide_setpoint(signal, observed, auto_mode=settings.auto_mode)
    if not isinstance(decision, Change):
        return _at(record, ControlState.SKIPPED, now, due_at=None, detail=decision.reason)
    again = planned(replace(record, mode=observed.mode), decision, due_at=None)
    return begin_apply(again, now)


def precondition(record: ControlRecord, target: float, now: datetime) -> Step:
    """Pre-conditioning begins (issue 15): ``target`` recorded, as ``intent``, before the PUT."""
    ahead = replace(record, target=target, pre_target=target, pre_at=now)
    return begin_apply(ahead, now, "pre_condition")


def resend_precondition(
    record: ControlRecord, observed: FacilityState | None, now: datetime, settings: Settings
) -> Step:
    """A pre-conditioning PUT not known to have landed, before the window: read, then send."""
    if observed is None:
        return _unread(record, now, settings)
    if at_target(record, observed):
        return after_apply(record, SUCCESS, None, now, settings)
    return begin_apply(record, now, "pre_condition")


def leave_precondition(
    record: ControlRecord,
    observed: FacilityState | None,
    signal: Signal,
    now: datetime,
    settings: Settings,
    begin: datetime | None = None,
) -> Step:
    """The window starts: a pre-conditioned unit gets its DR setpoint, decided from its original.

    ``begin`` is the unit's own (randomized) start: until it comes the unit
    gets its original back (:func:`release_precondition`), as the window
    never holds a pre-conditioning setpoint.

    It still shows the pre-conditioning setpoint (ours): the DR setpoint is
    decided from the original it had before, as if the window began from
    there. It shows something else: under ``respect`` the occupant's change
    of an applied setpoint is an opt-out; otherwise (the PUT never landed,
    or ``reassert``) the DR setpoint is decided afresh from what it shows
    (:func:`retry`). A unit the signal no longer moves gets its original back.
    """
    if observed is None:
        return _unread(record, now, settings)
    later = begin is not None and begin > now
    if later and at_target(record, observed):
        assert begin is not None
        return release_precondition(record, now, begin)
    if not at_target(record, observed):
        if record.state is ControlState.APPLIED and settings.override == "respect":
            why = "occupant changed the pre-conditioned setpoint (hvac.override: respect)"
            return _at(record, ControlState.OPTED_OUT, now, due_at=None, detail=why)
        if later:  # released, or never landed: nothing of ours on it before its start
            return _at(record, ControlState.INTENT, now, due_at=begin)
        return retry(record, observed, signal, now, settings)
    base = replace(observed, set_temp=record.original, unit=record.unit)
    decision = decide_setpoint(signal, base, auto_mode=settings.auto_mode)
    if not isinstance(decision, Change):
        ended = replace(record, detail=f"pre-conditioning ended: {decision.reason}")
        return _send_restore(ended, now)
    return begin_apply(planned(replace(record, mode=observed.mode), decision, due_at=None), now)


def release_precondition(record: ControlRecord, now: datetime, begin: datetime | None) -> Step:
    """The window has started, this unit's DR setpoint has not: its original back.

    ``begin`` is the unit's randomized start; None: the DR service has not
    been seen running the event yet (due at the window's end, and
    ``StartStop.start`` makes it due when it is). The record stays an
    ``intent`` (its target still the pre-conditioning setpoint): at its start
    its DR setpoint is decided from the original, whatever the release's
    answer was.
    """
    why = f"randomized start at {begin:%H:%M:%S}" if begin else "waiting for the DR service"
    due = begin or record.window_end
    step = _at(
        record, ControlState.INTENT, now, due_at=due, detail=f"{why}; pre-conditioning released"
    )
    return replace(step, send=restore_control(record), action="release")


def wait_for_start(record: ControlRecord, now: datetime) -> Step:
    """A claimed facility never at its DR setpoint, its event not seen running at the DR
    service: nothing is sent; it is due at the window's end (restored or ended there)
    unless ``StartStop.start`` wakes it first (:func:`waits_for_start`)."""
    return _at(record, record.state, now, due_at=record.window_end)


def waits_for_start(record: ControlRecord) -> bool:
    """Left by :func:`wait_for_start` (or a release before the DR service ran the event)."""
    return (
        record.state in (ControlState.INTENT, ControlState.RETRYING)
        and record.applied_at is None
        and record.due_at == record.window_end
    )


def after_release(
    record: ControlRecord, outcome: str, reason: str | None, now: datetime, settings: Settings
) -> Step:
    """A release answered: on success nothing changes (the unit's start reads it and
    decides); a failed one is tried again after a backoff, before the unit's start."""
    if outcome == SUCCESS:
        return _at(record, record.state, now)
    due = min(now + settings.backoff(record.attempts + 1), record.due_at or record.window_end)
    return _at(record, record.state, now, due_at=due, detail=f"release: {reason or outcome}")


def verify(
    record: ControlRecord, observed: FacilityState | None, now: datetime, settings: Settings
) -> Step:
    """An applied facility read back during the window (DESIGN "HVAC control")."""
    if observed is None:
        return _unread(record, now, settings)
    verdict = classify_observation(record.controlled(), observed, settings.override)
    match verdict.kind:
        case VerdictKind.OK:
            due = settings.next_verify(now, record.window_end)
            return _at(record, ControlState.APPLIED, now, due_at=due)
        case VerdictKind.REAPPLY:
            return replace(begin_apply(record, now, "reassert"), record=_reasserting(record, now))
        case VerdictKind.OPT_OUT:
            return _at(record, ControlState.OPTED_OUT, now, due_at=None, detail=verdict.reason)
        case VerdictKind.RELEASE:
            released = replace(record, detail=verdict.reason)
            return restore(released, observed, now, settings)


def _reasserting(record: ControlRecord, now: datetime) -> ControlRecord:
    """A re-applied facility stays ``applied`` (it was); the answer decides what follows."""
    return replace(record, state=ControlState.APPLIED, due_at=None, updated_at=now)


def after_reassert(
    record: ControlRecord, outcome: str, reason: str | None, now: datetime, settings: Settings
) -> Step:
    if outcome == SUCCESS:
        target = format_temperature(record.target or 0, record.unit) if record.unit else ""
        due = settings.next_verify(now, record.window_end)
        return _at(record, ControlState.APPLIED, now, due_at=due, detail=f"re-applied {target}")
    retry_at = min(now + settings.backoff(record.attempts + 1), record.window_end)
    why = reason or outcome
    return _at(record, ControlState.APPLIED, now, due_at=retry_at, detail=f"re-apply: {why}")


def start_restore(record: ControlRecord, due: datetime, now: datetime, why: str) -> Step:
    """The window is over (or canceled): the original goes back at ``due``."""
    return _at(record, ControlState.RESTORING, now, due_at=due, detail=_noted(record.detail, why))


def restore(
    record: ControlRecord,
    observed: FacilityState | None,
    now: datetime,
    settings: Settings,
    ramp: Ramp | None = None,
) -> Step:
    """A restore slot: put the original back unless the occupant's value stays.

    A state that cannot be read is restored blind: never leaving a facility
    at its DR setpoint (DESIGN rule 2) comes before respecting an occupant's
    change nobody can see. With a ``ramp`` (issue 15) a facility verified at
    its current setpoint gets the next step toward the original instead;
    the record's target follows each step, so an occupant's change between
    steps is seen here, and under ``respect`` ends the ramp (opt-out).
    """
    if observed is None or shows_pre_condition(record, observed):
        return _send_restore(record, now)  # blind, or still at our pre-conditioning setpoint
    if ramp is not None and _one_step_behind(record, observed, ramp):
        # The step was recorded but did not land (a crash or a lost answer): send it again.
        step = _at(record, ControlState.RESTORING, now, due_at=None)
        return replace(step, send=apply_control(record), action="ramp")
    decision = restore_decision(record.controlled(), observed, policy=settings.override)
    match decision.kind:
        case RestoreKind.RESTORE:
            if ramp is not None and at_target(record, observed):
                return _ramp_or_restore(record, ramp, now)
            return _send_restore(record, now)
        case RestoreKind.LEAVE:
            return _at(record, ControlState.OPTED_OUT, now, due_at=None, detail=decision.reason)
        case RestoreKind.ALREADY_ORIGINAL:
            if record.applied_at is None:
                never = f"never applied ({_base(record.detail) or 'no answer'}); {decision.reason}"
                return _at(record, ControlState.FAILED, now, due_at=None, detail=never)
            return _at(
                record,
                ControlState.RESTORED,
                now,
                due_at=None,
                restored=record.original,
                restored_at=now,
                detail=_noted(record.detail, decision.reason),
            )


def _ramp_or_restore(record: ControlRecord, ramp: Ramp, now: datetime) -> Step:
    """The next ramp step (recorded as the target before it is sent), or the original."""
    held = record.controlled()
    following = ramp_setpoints(held.target, held.original, held.unit, ramp)[0]
    if following == held.original:
        return _send_restore(record, now)
    step = _at(record, ControlState.RESTORING, now, due_at=None, target=following)
    return replace(step, send=apply_control(step.record), action="ramp")


def _one_step_behind(record: ControlRecord, observed: FacilityState, ramp: Ramp) -> bool:
    """The facility shows the ramp step before the record's (never true of a DR target)."""
    held = record.controlled()
    if observed.set_temp is None or observed.unit is None:
        return False
    toward = 1 if held.original > held.target else -1
    before = exact(held.target) - toward * ramp_step_size(ramp, held.unit)
    if (exact(held.original) - before) * toward <= 0:
        return False
    value = convert_temperature(observed.set_temp, observed.unit, held.unit)
    return within_tolerance(value, before, held.unit) and not at_target(record, observed)


def after_ramp(
    record: ControlRecord,
    outcome: str,
    reason: str | None,
    now: datetime,
    settings: Settings,
    ramp: Ramp,
) -> Step:
    """A ramp step answered: the next one after ``ramp.every``; a failure goes back a step.

    On failure the facility still shows the step before (each step but the
    last is one ramp step from the one before), which the retry then reads
    as "at its setpoint", not as an occupant's change.
    """
    if outcome == SUCCESS:
        return _at(record, ControlState.RESTORING, now, due_at=now + ramp.every)
    held = record.controlled()
    toward = 1 if held.original > held.target else -1
    back = exact(held.target) - toward * ramp_step_size(ramp, held.unit)
    attempts = record.restore_attempts + 1
    return _at(
        record,
        ControlState.RESTORING,
        now,
        target=float(back),
        restore_attempts=attempts,
        due_at=now + settings.backoff(attempts),
        detail=_noted(record.detail, f"{_ATTEMPT} {attempts}: ramp step {reason or outcome}"),
    )


def _send_restore(record: ControlRecord, now: datetime) -> Step:
    step = _at(record, ControlState.RESTORING, now, due_at=None)
    return replace(step, send=restore_control(record), action="restore")


def after_restore(
    record: ControlRecord, outcome: str, reason: str | None, now: datetime, settings: Settings
) -> Step:
    if outcome == SUCCESS:
        return _at(
            record,
            ControlState.RESTORED,
            now,
            restored=record.original,
            restored_at=now,
            due_at=None,
            detail=_base(record.detail),
        )
    attempts = record.restore_attempts + 1
    why = reason or outcome
    if outcome == REFUSED:
        return _at(
            record,
            ControlState.RESTORE_FAILED,
            now,
            restore_attempts=attempts,
            due_at=None,
            detail=_noted(record.detail, f"restore failed: BECON: {why}"),
        )
    return _at(
        record,
        ControlState.RESTORING,
        now,
        restore_attempts=attempts,
        due_at=now + settings.backoff(attempts),
        detail=_noted(record.detail, f"{_ATTEMPT} {attempts}: {reason or outcome}"),
    )


_ATTEMPT = "restore attempt"


def _base(detail: str) -> str:
    """``detail`` without the note of a failed restore attempt (the latest one is kept)."""
    if detail.startswith(_ATTEMPT):
        return ""
    return detail.split(f"; {_ATTEMPT}")[0]


def _noted(detail: str, note: str) -> str:
    base = _base(detail)
    return f"{base}; {note}" if base else note


def not_started(record: ControlRecord, now: datetime, why: str) -> Step:
    """A planned facility whose window ended (or was canceled) before its PUT."""
    return _at(record, ControlState.SKIPPED, now, due_at=None, detail=f"not started: {why}")


def _unread(record: ControlRecord, now: datetime, settings: Settings) -> Step:
    """Its state could not be read: look again shortly (the window end still stands)."""
    due = min(now + settings.retry_base, max(record.window_end, now))
    return _at(record, record.state, now, due_at=due, detail="state could not be read")
