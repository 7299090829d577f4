"""The actions the decision core returns, as values (one frozen dataclass each).

Each names its event; the engine carries it out (``scheduler.engine.runner``)
and records the outcome. Keeping them plain data lets tests compare the
decisions of a table of situations without any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.intents import Intent


@dataclass(frozen=True)
class Submit:
    """Record the intent (``submitting``), then POST the event as ``request_id``."""

    event_id: str
    request_id: str
    revision: int


@dataclass(frozen=True)
class Reconcile:
    """Finish an intent whose outcome is unknown (crash, timeout): GET before anything else."""

    intent: Intent

    @property
    def event_id(self) -> str:
        return self.intent.event_id


@dataclass(frozen=True)
class Poll:
    """GET the request and move the local status forward."""

    event_id: str
    request_id: str


@dataclass(frozen=True)
class Delete:
    """A cancel while ``pending``: DELETE the request, then record ``canceled``."""

    event_id: str
    request_id: str
    revision: int


@dataclass(frozen=True)
class Resubmit:
    """A change while ``pending``: DELETE the old request, POST the new revision."""

    event_id: str
    old_request_id: str
    new_request_id: str
    revision: int


@dataclass(frozen=True)
class MarkMissed:
    """Never submitted and its window is over: ``failed``, source ``clock``."""

    event_id: str
    detail: str


@dataclass(frozen=True)
class CancelPlanned:
    """A cancel before submission: nothing to tell the DR service."""

    event_id: str


@dataclass(frozen=True)
class CancelLocally:
    """A cancel from ``standby`` on: the API cannot delete any more; stop HVAC, restore."""

    event_id: str
    request_id: str


@dataclass(frozen=True)
class HvacPrepare:
    """Read facility states ``hvac.prefetch_lead`` before the window."""

    event_id: str


@dataclass(frozen=True)
class HvacStart:
    """The event is active and HVAC control has not started in this process yet.

    The DR service's move to ``active`` starts control at once; this is the
    same call again after a failed start (issue 10 bug 7) or after a
    restart inside the window (bug 1): the controller knows what it holds.
    """

    event_id: str


@dataclass(frozen=True)
class HvacStop:
    """The window is over (by the clock): stop HVAC control and restore setpoints."""

    event_id: str
    reason: str


Action = (
    Submit
    | Reconcile
    | Poll
    | Delete
    | Resubmit
    | MarkMissed
    | CancelPlanned
    | CancelLocally
    | HvacPrepare
    | HvacStart
    | HvacStop
)

#: Actions that call the DR API (run under the ``dr_api.max_concurrency`` bound).
DR_ACTIONS = (Submit, Reconcile, Poll, Delete, Resubmit)
