"""When the engine opens the vendors' connections ahead of a burst of calls (issue 14).

Calls leave together at instants the engine knows in advance: at a window's
start every event in it asks the DR service for its status and, once it is
``active``, its facilities' PUTs follow; at a submission instant the POSTs of
every event due then leave together. A connection made at that instant costs
its first call a TCP and a TLS handshake (two more round trips to the vendor),
and at a system-wide start the handshakes also wait behind everything else the
event loop does then. So :data:`LEAD` before such an instant the engine opens
each client's pool (:func:`scheduler.clients.http.preconnect`): nothing is
sent, the vendor's state does not change, and connections already open are
kept rather than doubled.

Pure: the runner asks :func:`next_burst` at every tick and wakes :data:`LEAD`
before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.domain.intents import EventView
from scheduler.domain.lifecycle import Status

#: How long before a burst the pools are opened: well within any server's idle
#: timeout (uvicorn's 5 s is among the shortest), long enough for the handshakes.
LEAD = timedelta(seconds=1)


@dataclass(frozen=True)
class Burst:
    """An instant at which calls leave together."""

    at: datetime
    #: A window starts then: HVAC control's PUTs follow the status polls (BECON too).
    window: bool


def next_burst(views: Iterable[EventView], now: datetime, submit_lead: timedelta) -> Burst | None:
    """The soonest instant after ``now`` at which calls leave together, if any.

    A planned event's submission (``start − submit_lead``); a submitted event's
    window start (the window the DR service runs). At the same instant, a window
    start wins: it opens both pools.
    """
    soonest: Burst | None = None
    for view in views:
        burst = _burst_of(view, submit_lead)
        if burst is None or burst.at <= now:
            continue
        if soonest is None or (burst.at, not burst.window) < (soonest.at, not soonest.window):
            soonest = burst
    return soonest


def _burst_of(view: EventView, submit_lead: timedelta) -> Burst | None:
    if view.cancel_requested or view.status.is_terminal:
        return None
    if view.status is Status.PLANNED:
        return Burst(view.start - submit_lead, window=False)
    return Burst(view.runs_from, window=True)
