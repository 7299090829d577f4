"""May an event touch the outside world now? The one rule every outside call asks (pure).

DESIGN invariants 2 and 3: no DR setpoint after a window's end, nothing sent
for an event after its cancel was recorded. Every path that POSTs or DELETEs
a DR request or starts HVAC control (the engine's submit, re-submit, cancel,
reconcile and status moves; ``HvacController.start`` itself, as a second
line of defence; pre-conditioning before the window) asks
:func:`may_touch_outside` with the facts it has, and does nothing when
refused. The window is the one of the revision the DR service runs
(:func:`running_revision`), not a later one it refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OutsideCall(StrEnum):
    """The calls that change the outside world on an event's behalf."""

    POST = "post"  # create a DR request: a first submission or a re-submission
    DELETE = "delete"  # delete a DR request: a cancel, or a change while pending
    START_CONTROL = "start_control"  # move facilities to DR setpoints
    PRE_CONDITION = "pre_condition"  # move facilities before the window (issue 15)


@dataclass(frozen=True)
class Verdict:
    """``allowed``, or why not (for the log and the event's timeline)."""

    allowed: bool
    reason: str = ""


ALLOWED = Verdict(True)
#: Calls that follow the window the DR service runs.
_HVAC = (OutsideCall.START_CONTROL, OutsideCall.PRE_CONDITION)


def may_touch_outside(
    call: OutsideCall,
    *,
    now: datetime,
    stored_end: datetime,
    running_end: datetime | None,
    cancel_requested: bool,
) -> Verdict:
    """Whether ``call`` may go out at ``now`` for an event.

    ``stored_end`` ends the stored revision (what a POST sends, what a
    re-submission's DELETE makes way for); ``running_end`` the revision the
    DR service runs (None: nothing submitted differs from the stored one).
    HVAC control follows the running one. A DELETE carrying out a cancel is
    always allowed (it takes an effect back); every other call is refused
    once a cancel is recorded or its window is over.
    """
    if call is OutsideCall.DELETE and cancel_requested:
        return ALLOWED
    window_end = stored_end
    if call in _HVAC and running_end is not None:
        window_end = running_end
    if cancel_requested:
        return Verdict(False, "a cancel is recorded for the event")
    if now >= window_end:
        return Verdict(False, f"the window is over (it ended {window_end.isoformat()})")
    return ALLOWED


def running_revision(revision: int, submitted_revision: int | None) -> int:
    """The revision the DR service runs: the one last submitted, else the stored one.

    A change refused by the DR service (no longer pending) leaves the stored
    revision ahead of the submitted one; HVAC control follows the DR service.
    """
    return revision if submitted_revision is None else submitted_revision
