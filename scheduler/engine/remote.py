"""What a status read from the DR service means locally (pure).

The DR service's status only moves the local one forward (a stale or
repeated answer is no transition); reaching ``active`` starts HVAC control
when :func:`~scheduler.domain.outside.may_touch_outside` allows it (no
cancel recorded, the running revision's window not over: a late ``active``
starts nothing), and ``completed`` or ``canceled`` stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduler.domain.lifecycle import Source, Status, Transition, transition
from scheduler.domain.outside import ALLOWED, Verdict


class HvacCall(StrEnum):
    START = "start"
    STOP = "stop"


@dataclass(frozen=True)
class RemoteOutcome:
    transition: Transition | None
    hvac: HvacCall | None = None
    hvac_reason: str = ""


_STOP_REASONS = {
    Status.COMPLETED: "window completed",
    Status.CANCELED: "canceled by the DR service",
}


def on_remote_status(
    event_id: str,
    current: Status,
    remote: Status,
    *,
    at: datetime,
    detail: str = "",
    may_start: Verdict = ALLOWED,
) -> RemoteOutcome:
    """The transition (source ``api``) and HVAC call a polled status leads to.

    ``may_start``: what ``may_touch_outside(START_CONTROL, ...)`` says for the
    event now; refused, ``active`` is recorded and starts nothing.
    """
    moved = transition(event_id, current, remote, at=at, source=Source.API, detail=detail)
    if moved is None:
        return RemoteOutcome(None)
    if remote == Status.ACTIVE:
        if not may_start.allowed:
            return RemoteOutcome(moved, None, may_start.reason)
        return RemoteOutcome(moved, HvacCall.START, "window started")
    if remote in _STOP_REASONS:
        return RemoteOutcome(moved, HvacCall.STOP, _STOP_REASONS[remote])
    return RemoteOutcome(moved)
