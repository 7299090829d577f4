"""What the engine needs from the database and the DR Requests API, as Protocols.

The real implementations are ``scheduler.store.daemon.DaemonStore`` (SQL)
and ``scheduler.clients.dr.client.DrApiClient``; tests use small in-memory
fakes. Store methods are synchronous (SQLAlchemy sessions): the engine calls
them through the store gateway (:mod:`scheduler.store_gateway`), one at a time, or
many of the same moment together, in one transaction (``together``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from scheduler.domain.events import PlanEvent
from scheduler.domain.intents import EventView, Intent
from scheduler.domain.lifecycle import Status, Transition


class EngineStore(Protocol):
    def plan_revision(self) -> int:
        """The counter each plan apply and cancel request bumps (changes made from a shell)."""
        ...

    def snapshot(self, planned_start_before: datetime) -> Sequence[EventView]:
        """Every non-terminal event, except planned ones starting at or after the bound."""
        ...

    def plan_event(self, event_id: str) -> PlanEvent:
        """The content of the event's current (stored) revision."""
        ...

    def running_event(self, event_id: str) -> PlanEvent:
        """The content of the revision submitted to the DR service (what it runs).

        What a POST sends and what HVAC control follows; the stored revision
        until a submission recorded another.
        """
        ...

    def open_intents(self) -> Sequence[Intent]:
        """Intents recorded without an outcome: reconciled at start-up before anything new."""
        ...

    def begin_intent(
        self, intent: Intent, change: Transition | None, at: datetime
    ) -> PlanEvent | None:
        """Commit the intent (and its transition, e.g. ``submitting``) before the call.

        A submission (``IntentKind.CREATE``) records the content it sends and
        returns it (what ``running_event`` then reads); other intents return None.
        """
        ...

    def end_intent(
        self, intent: Intent, outcome: str, change: Transition | None, at: datetime
    ) -> None:
        """Commit the call's outcome (and the transition it leads to) after it."""
        ...

    def record(self, change: Transition) -> bool:
        """Record a transition if the event is still in ``change.from_status``.

        False when another writer moved it first (nothing written). A
        transition whose from and to statuses are equal is an audit note.
        """
        ...

    def together(self, calls: Sequence[Callable[[], Any]]) -> Sequence[Any]:
        """The calls (this store's methods) as one transaction (``StoreGateway.batch``).

        For each, in order, its result or the exception it alone raised
        (nothing of it written); an error of the transaction raises.
        """
        ...


class RemoteRequest(Protocol):
    """A DR request as read back (GET); ``status`` is None for a value we do not know."""

    @property
    def status(self) -> Status | None: ...


class DrApi(Protocol):
    """The DR Requests API client (``scheduler.clients.dr.client.DrApiClient``).

    Errors are ``scheduler.errors`` ones: ``RetryableApiError`` when the
    outcome is unknown or worth retrying, ``NotFoundError`` for 404,
    ``PermanentApiError`` for a rejection.
    """

    async def create(self, event: PlanEvent, request_id: str) -> object: ...

    async def get(self, request_id: str) -> RemoteRequest: ...

    async def delete(self, request_id: str) -> object: ...


class VendorPools(Protocol):
    """The vendor clients' connection pools, opened ahead of a burst (:mod:`.ahead`)."""

    async def open_ahead(self, *, window: bool, within: float) -> None:
        """Open the DR API's pool (and BECON's, when ``window``); best effort, never raises."""


__all__ = ["DrApi", "EngineStore", "RemoteRequest", "VendorPools"]
