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

from scheduler.domain.events import Signal
from scheduler.domain.hvac import Control, FacilityState
from scheduler.domain.overrides import (
    RestoreKind,
    VerdictKind,
    classify_observation,
    restore_decision,
)
from scheduler.domain.setpoints import Change, decide_setpoint
from scheduler.domain.units import convert_temperature, format_temperature, within_tolerance
from scheduler.hvac.planning import Settings, apply_control, planned, restore_control
from scheduler.hvac.records import ControlRecord, ControlState

#: Per-facility reasons that a retry cannot cure (BECON Contract).
PERMANENT_REASONS = frozenset({"out_of_range", "not_supported", "not_found", "invalid"})

SUCCESS = "success"


@dataclass(frozen=True)
class Step:
    """A record's next value, and what to PUT for it (``action``: apply, reassert, restore)."""

    record: ControlRecord
    send: Control | None = None
    action: str = ""


def _at(record: ControlRecord, state: ControlState, now: datetime, **changes: object) -> Step:
    return Step(replace(record, state=state, updated_at=now, **changes))  # type: ignore[arg-type]


def at_target(record: ControlRecord, observed: FacilityState) -> bool:
    """The facility shows the record's DR setpoint (within half a resolution step)."""
    if record.target is None or record.unit is None:
        return False
    if observed.set_temp is None or observed.unit is None:
        return False
    value = convert_temperature(observed.set_temp, observed.unit, record.unit)
    return within_tolerance(value, record.target, record.unit)


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
    if outcome == "fail" and why in PERMANENT_REASONS:
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
    decision = decide_setpoint(signal, observed, auto_mode=settings.auto_mode)
    if not isinstance(decision, Change):
        return _at(record, ControlState.SKIPPED, now, due_at=None, detail=decision.reason)
    again = planned(replace(record, mode=observed.mode), decision, due_at=None)
    return begin_apply(again, now)


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
    record: ControlRecord, observed: FacilityState | None, now: datetime, settings: Settings
) -> Step:
    """A restore slot: put the original back unless the occupant's value stays.

    A state that cannot be read is restored blind: never leaving a facility
    at its DR setpoint (DESIGN rule 2) comes before respecting an occupant's
    change nobody can see.
    """
    if observed is None:
        return _send_restore(record, now)
    decision = restore_decision(record.controlled(), observed, policy=settings.override)
    match decision.kind:
        case RestoreKind.RESTORE:
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
    if outcome == "fail" and why in PERMANENT_REASONS:
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
