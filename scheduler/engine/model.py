"""What the engine remembers between ticks (what the database says is in ``domain.intents``).

:class:`Tracking` is the engine's own memory (last contact with the DR
service, how far HVAC control went), which a restart may lose without harm:
after a restart every submitted event is polled at once and HVAC is
reconciled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduler.domain.events import PlanEvent

#: What the content the DR service runs depends on (``EventView``): the event's
#: revision, the revision submitted, and the request that carries it.
ContentKey = tuple[int, int | None, str | None]


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
    #: The running content last read for HVAC control, and the key it was read under.
    content: tuple[ContentKey, PlanEvent] | None = None


__all__ = ["ContentKey", "HvacPhase", "Tracking"]
