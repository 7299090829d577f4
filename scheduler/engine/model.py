"""Values the engine reasons about: what the database says, what the engine remembers.

:class:`EventView` is read from the database (the source of truth) at every
tick; :class:`Tracking` is the engine's own memory (last contact with the DR
service, how far HVAC control went), which a restart may lose without harm:
after a restart every submitted event is polled at once and HVAC is
reconciled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduler.domain.lifecycle import Status
from scheduler.domain.outside import OutsideCall, Verdict, may_touch_outside
from scheduler.domain.request_ids import request_id_for


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


class HvacPhase(StrEnum):
    """How far HVAC control went for an event, in this process."""

    NONE = "none"
    PREPARED = "prepared"
    STARTED = "started"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Tracking:
    """The engine's memory of one event (not persisted; see the module docstring)."""

    last_contact: datetime | None = None
    hvac: HvacPhase = HvacPhase.NONE
    #: The revision a re-submission was last attempted for: a retry of the same
    #: revision waits ``retry_delay``; a new revision is re-submitted at once.
    resubmit_tried: int | None = None
    #: A DELETE for a cancel was already tried: a retry waits ``retry_delay``.
    delete_tried: bool = False
    #: An HVAC start failed: it is tried again at this instant (while the window lasts).
    hvac_retry_at: datetime | None = None


__all__ = ["EventView", "HvacPhase", "Intent", "IntentKind", "Tracking", "request_id_for"]
