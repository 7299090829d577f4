"""What a status read from the DR service means locally (pure).

The DR service's status only moves the local one forward (a stale or
repeated answer is no transition); reaching ``active`` starts HVAC control,
and ``completed`` or ``canceled`` stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduler.domain.lifecycle import Source, Status, Transition, transition


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
    event_id: str, current: Status, remote: Status, *, at: datetime, detail: str = ""
) -> RemoteOutcome:
    """The transition (source ``api``) and HVAC call a polled status leads to."""
    moved = transition(event_id, current, remote, at=at, source=Source.API, detail=detail)
    if moved is None:
        return RemoteOutcome(None)
    if remote == Status.ACTIVE:
        return RemoteOutcome(moved, HvacCall.START, "window started")
    if remote in _STOP_REASONS:
        return RemoteOutcome(moved, HvacCall.STOP, _STOP_REASONS[remote])
    return RemoteOutcome(moved)
