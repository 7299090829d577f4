"""Events and intents as the engine and the store both see them.

:class:`EventView` is what the decision core reads from the database (the
source of truth) at every tick; :class:`Intent` is an outside effect recorded
before it is attempted (DESIGN rule 2). The store builds both from its rows
and the engine reasons about them, so they live here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scheduler.domain.lifecycle import Status
from scheduler.domain.outside import OutsideCall, Verdict, may_touch_outside


class IntentKind(StrEnum):
    """An outside effect recorded before it is attempted (DESIGN rule 2)."""

    CREATE = "create"  # POST /requests
    DELETE = "delete"  # DELETE /requests/{id}


@dataclass(frozen=True)
class Intent:
    """A recorded intent: which request, for which revision of which event."""

    event_id: str
    kind: IntentKind
    request_id: str
    revision: int


@dataclass(frozen=True)
class EventView:
    """One event as the decision core needs it.

    ``request_id`` is the request last created (or being created) at the DR
    service, None before the first submission; ``submitted_revision`` is the
    revision that request carries, so ``revision > submitted_revision`` means
    the plan changed after submission. ``running_start``/``running_end`` are
    the window of that submitted revision (the one the DR service runs), None
    when it is the stored one.
    """

    event_id: str
    status: Status
    start: datetime
    end: datetime
    revision: int = 1
    request_id: str | None = None
    submitted_revision: int | None = None
    cancel_requested: bool = False
    open_intent: Intent | None = None
    running_start: datetime | None = None
    running_end: datetime | None = None
    #: ``pre_condition.duration`` (issue 15): HVAC control prepares that long before the window.
    pre_condition: timedelta | None = None

    @property
    def runs_from(self) -> datetime:
        """Start of the window the DR service runs (HVAC control follows it)."""
        return self.running_start or self.start

    @property
    def runs_until(self) -> datetime:
        """End of the window the DR service runs (HVAC control follows it)."""
        return self.running_end or self.end

    def may(self, call: OutsideCall, now: datetime) -> Verdict:
        """May ``call`` go out for this event at ``now`` (:func:`may_touch_outside`)?"""
        return may_touch_outside(
            call,
            now=now,
            stored_end=self.end,
            running_end=self.running_end,
            cancel_requested=self.cancel_requested,
        )

    @property
    def changed_since_submission(self) -> bool:
        return self.submitted_revision is not None and self.revision > self.submitted_revision
