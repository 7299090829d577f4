"""What is due now: the engine's pure decision core (no I/O, ``now`` is an argument).

Given the events read from the database, the engine's memory of them and
``now``, :func:`decide` returns the actions due and the instant at which
something next becomes due. The engine carries the actions out and records
their outcome; it never decides anything itself (STYLE.md "rules decide,
the engine acts").

Per event, at most one DR action is due per tick (they follow each other:
reconcile an open intent before anything else, then cancel, submit, re-submit
or poll), plus HVAC actions at prefetch time and at the window's end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduler.domain.intents import EventView, Intent, IntentKind
from scheduler.domain.lifecycle import Status
from scheduler.domain.outside import OutsideCall
from scheduler.domain.request_ids import request_id_for
from scheduler.engine.actions import (
    Action,
    CancelLocally,
    CancelPlanned,
    Delete,
    HvacPrepare,
    HvacStart,
    HvacStop,
    MarkMissed,
    Poll,
    Reconcile,
    Resubmit,
    Submit,
)
from scheduler.engine.model import HvacPhase, Tracking
from scheduler.engine.polling import next_poll_at

MISSED_DETAIL = "window missed: daemon was not running / submitted too late"


@dataclass(frozen=True)
class Policy:
    """The timings the decisions depend on (from the daemon config)."""

    submit_lead: timedelta
    prefetch_lead: timedelta = timedelta(seconds=60)
    retry_delay: timedelta = timedelta(seconds=15)
    horizon: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...]
    next_wake: datetime
    due_times: Mapping[str, datetime] = field(default_factory=dict)
    #: HVAC control has work due now (``HvacControl.tick``).
    hvac_tick: bool = False


_NO_TRACKING = Tracking()


def decide(
    events: Iterable[EventView],
    memory: Mapping[str, Tracking],
    now: datetime,
    policy: Policy,
    *,
    hvac_due: datetime | None = None,
    poll_ahead: timedelta = timedelta(0),
) -> Decision:
    """The actions due at ``now`` and when to wake up next (at most one horizon away).

    ``hvac_due`` is when HVAC control next needs a tick (``HvacControl.due``);
    ``poll_ahead`` how long a GET takes to reach the DR service: a start's
    poll leaves that much before the start (:func:`.polling.next_poll_at`).
    """
    actions: list[Action] = []
    wake = now + policy.horizon
    hvac_tick = hvac_due is not None and hvac_due <= now
    if hvac_due is not None and not hvac_tick:
        wake = min(wake, hvac_due)
    due_times: dict[str, datetime] = {}
    for event in events:
        tracking = memory.get(event.event_id, _NO_TRACKING)
        due, later = _for_event(event, tracking, now, policy, poll_ahead)
        actions.extend(due)
        if later is not None:
            due_times[event.event_id] = later
            wake = min(wake, later)
    return Decision(tuple(actions), max(wake, now), due_times, hvac_tick)


def _for_event(
    event: EventView, tracking: Tracking, now: datetime, policy: Policy, poll_ahead: timedelta
) -> tuple[list[Action], datetime | None]:
    """The actions due for one event, and the next instant something is due for it."""
    if event.status.is_terminal:
        return [], None
    hvac, hvac_next = _hvac(event, tracking, now, policy)
    dr, dr_next = _dr(event, tracking, now, policy, poll_ahead)
    nexts = [t for t in (hvac_next, dr_next) if t is not None]
    return hvac + dr, min(nexts, default=None)


def _retry_due(tracking: Tracking, policy: Policy) -> datetime | None:
    """After a failed attempt, wait ``retry_delay``; None means at once."""
    if tracking.last_contact is None:
        return None
    return tracking.last_contact + policy.retry_delay


def _at_or_later(
    action: Action, due: datetime | None, now: datetime
) -> tuple[list[Action], datetime | None]:
    if due is None or due <= now:
        return [action], None
    return [], due


def _dr(
    event: EventView, tracking: Tracking, now: datetime, policy: Policy, poll_ahead: timedelta
) -> tuple[list[Action], datetime | None]:
    if event.open_intent is not None:
        return _at_or_later(Reconcile(event.open_intent), _retry_due(tracking, policy), now)
    if event.cancel_requested:
        return _cancel(event, tracking, now, policy)
    if event.status == Status.PLANNED:
        return _planned(event, now, policy)
    if event.status == Status.SUBMITTING:
        intent = _implied_create(event)
        return _at_or_later(Reconcile(intent), _retry_due(tracking, policy), now)
    if event.status == Status.PENDING and event.changed_since_submission and now < event.end:
        retry = tracking.resubmit_tried == event.revision
        return _at_or_later(_resubmit(event), _retry_due(tracking, policy) if retry else None, now)
    assert event.request_id is not None  # every submitted status has one
    due = next_poll_at(
        tracking.last_contact, now, event.runs_from, event.runs_until, event.status, poll_ahead
    )
    return _at_or_later(Poll(event.event_id, event.request_id), due, now)


def _planned(
    event: EventView, now: datetime, policy: Policy
) -> tuple[list[Action], datetime | None]:
    if now >= event.end:
        return [MarkMissed(event.event_id, MISSED_DETAIL)], None
    submit_at = event.start - policy.submit_lead
    request_id = request_id_for(event.event_id, event.revision, event.request_id)
    return _at_or_later(Submit(event.event_id, request_id, event.revision), submit_at, now)


def _cancel(
    event: EventView, tracking: Tracking, now: datetime, policy: Policy
) -> tuple[list[Action], datetime | None]:
    if event.status == Status.PLANNED:
        return [CancelPlanned(event.event_id)], None
    if event.status == Status.SUBMITTING:
        intent = _implied_create(event)
        return _at_or_later(Reconcile(intent), _retry_due(tracking, policy), now)
    assert event.request_id is not None
    if event.status == Status.PENDING:
        action: Action = Delete(event.event_id, event.request_id, event.revision)
        retry = _retry_due(tracking, policy) if tracking.delete_tried else None
        return _at_or_later(action, retry, now)
    return [CancelLocally(event.event_id, event.request_id)], None


def _implied_create(event: EventView) -> Intent:
    """A ``submitting`` event with no open intent row: reconcile by request id all the same."""
    assert event.request_id is not None, f"event {event.event_id}: submitting without request id"
    return Intent(
        event.event_id, IntentKind.CREATE, event.request_id, event.submitted_revision or 1
    )


def _resubmit(event: EventView) -> Resubmit:
    assert event.request_id is not None
    new_id = request_id_for(event.event_id, event.revision, event.request_id)
    return Resubmit(event.event_id, event.request_id, new_id, event.revision)


def _hvac(
    event: EventView, tracking: Tracking, now: datetime, policy: Policy
) -> tuple[list[Action], datetime | None]:
    """Prepare before the window (prefetch, or pre-condition: :func:`prepare_at`); start
    control while active until it
    has started (after a failure or a restart); stop control when the window ends.

    The window is the one the DR service runs (``runs_from``/``runs_until``); whether a
    start may touch the outside world at all is the gate's call (``EventView.may``).
    """
    if tracking.hvac == HvacPhase.STARTED:
        if now >= event.runs_until:
            return [HvacStop(event.event_id, "window ended")], None
        return [], event.runs_until
    if tracking.hvac == HvacPhase.STOPPED or now >= event.runs_until:
        return [], None
    if event.status == Status.ACTIVE:
        if not event.may(OutsideCall.START_CONTROL, now).allowed:
            return [], None
        return _at_or_later(HvacStart(event.event_id), tracking.hvac_retry_at, now)
    submitted = event.status in (Status.PENDING, Status.STANDBY)
    if tracking.hvac != HvacPhase.NONE or not submitted:
        return [], None
    return _at_or_later(HvacPrepare(event.event_id), prepare_at(event, policy), now)


def prepare_at(event: EventView, policy: Policy) -> datetime:
    """When HVAC control prepares: ``prefetch_lead`` before the window, or, for an event
    that pre-conditions (issue 15), at ``start − pre_condition.duration``: the
    controller reads the facilities then and sends the pre-conditioning setpoints."""
    if event.pre_condition is not None and event.pre_condition > timedelta(0):
        return event.runs_from - event.pre_condition
    return event.runs_from - policy.prefetch_lead


def due_actions(decision: Decision, event_id: str) -> Sequence[Action]:
    """The actions of ``decision`` for one event (tests and logs)."""
    return [a for a in decision.actions if a.event_id == event_id]
