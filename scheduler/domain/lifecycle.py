"""The event lifecycle: statuses, the forward-only transition rule, what edits allow.

Local statuses extend the DR API's numbers (0 pending, 1 standby, 2 active,
3 completed, 9 canceled) with ``planned``, ``submitting`` and ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    PLANNED = "planned"
    SUBMITTING = "submitting"
    PENDING = "pending"
    STANDBY = "standby"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELED = "canceled"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


class Source(StrEnum):
    """Who caused a transition: shown in every event's timeline."""

    PLAN = "plan"
    API = "api"
    CLOCK = "clock"
    ADMIN = "admin"
    VTN = "vtn"  # an OpenADR VTN (scheduler.openadr)


TERMINAL = frozenset({Status.COMPLETED, Status.CANCELED, Status.FAILED})

#: Position on the forward path; canceled and failed may follow any non-terminal status.
_ORDER: dict[Status, int] = {
    Status.PLANNED: 0,
    Status.SUBMITTING: 1,
    Status.PENDING: 2,
    Status.STANDBY: 3,
    Status.ACTIVE: 4,
    Status.COMPLETED: 5,
}

#: The DR API's status numbers (GET /requests/{id}).
API_STATUS: dict[int, Status] = {
    0: Status.PENDING,
    1: Status.STANDBY,
    2: Status.ACTIVE,
    3: Status.COMPLETED,
    9: Status.CANCELED,
}


@dataclass(frozen=True)
class Transition:
    event_id: str
    from_status: Status
    to_status: Status
    at: datetime
    source: Source
    detail: str = ""


def can_move(current: Status, new: Status) -> bool:
    """Forward only; a poll may skip states; nothing leaves a terminal status."""
    if current in TERMINAL or new == current:
        return False
    if new in (Status.CANCELED, Status.FAILED):
        return True
    return _ORDER[new] > _ORDER[current]


def transition(
    event_id: str,
    current: Status,
    new: Status,
    *,
    at: datetime,
    source: Source,
    detail: str = "",
) -> Transition | None:
    """The transition to record, or None when ``new`` is not a move forward.

    A stale poll (the API still saying ``pending`` after we saw ``active``) is
    not an error: it is simply not a transition.
    """
    if not can_move(current, new):
        return None
    return Transition(event_id, current, new, at, source, detail)


class EditAction(StrEnum):
    """What changing or removing an event in the plan means in its status."""

    UPDATE = "update"  # planned: just update the row
    DELETE_RESUBMIT = "delete_resubmit"  # pending: DELETE, then submit the new revision
    REFUSE = "refuse"  # standby and on: the DR service cannot delete it any more
    NONE = "none"  # terminal: nothing left to change


def edit_action(status: Status) -> EditAction:
    """DESIGN.md "Removing or changing an event"."""
    if status in TERMINAL:
        return EditAction.NONE
    if status == Status.PLANNED:
        return EditAction.UPDATE
    if status in (Status.SUBMITTING, Status.PENDING):
        return EditAction.DELETE_RESUBMIT
    return EditAction.REFUSE
