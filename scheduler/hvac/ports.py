"""What the HVAC controller needs from BECON and from the database, as Protocols.

``scheduler.clients.becon.client.BeconClient`` is a :class:`BeconPort` as it is (its
``FacilityReading`` and ``ControlResult`` have the shapes below);
``scheduler.store.control.ControlStore`` is the :class:`ControlStorePort`.
Tests use in-memory fakes of both.

Store methods are synchronous (SQLAlchemy sessions): the controller calls
them through the store gateway it shares with the engine
(:mod:`scheduler.store_gateway`), one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from scheduler.domain.control_records import ControlRecord
from scheduler.domain.events import PlanEvent
from scheduler.domain.hvac import Batch, FacilityKey, FacilityState
from scheduler.domain.hvac_reads import HvacRead
from scheduler.domain.lifecycle import Status


class Reading(Protocol):
    """A facility's state as read from BECON."""

    @property
    def key(self) -> FacilityKey: ...

    def to_domain(self) -> FacilityState: ...


class Answer(Protocol):
    """BECON's answer for one control of a PUT: ``success``, ``fail``, ``refused`` (a
    failure no retry cures, as the adapter classifies it) or ``unknown``."""

    @property
    def key(self) -> FacilityKey: ...

    @property
    def outcome(self) -> str: ...

    @property
    def reason(self) -> str | None: ...


class BeconPort(Protocol):
    """Gateway-wide states, one facility's state, one batched control PUT.

    Errors are ``scheduler.errors.ApiError``: ``RetryableApiError`` when the
    outcome is unknown (a PUT may have landed), others when refused.
    """

    async def gateway_states(
        self, site: str, gateway: str, types: Iterable[str] | None = None
    ) -> Sequence[Reading]: ...

    async def state(self, key: FacilityKey) -> Reading: ...

    async def send_batch(self, batch: Batch) -> Sequence[Answer]: ...


class ControlStorePort(Protocol):
    def replace_planned(self, event_id: str, records: Sequence[ControlRecord]) -> None:
        """Drop the event's ``planned`` and ``skipped`` records, write these (prepare).

        A facility the event already has in another state keeps that record.
        """
        ...

    def insert(self, records: Sequence[ControlRecord]) -> None:
        """Write new records (facilities first seen at start: ``planned`` or ``skipped``)."""
        ...

    def claim(self, event_id: str, at: datetime) -> dict[FacilityKey, str]:
        """The one way a facility becomes held: the event's ``planned`` records, atomically.

        Each becomes ``intent``, or ``skipped`` ("under control of event X")
        when another event holds its facility. Returns those left to their
        holders (facility -> holding event). A facility is never held twice.
        """
        ...

    def save(self, records: Sequence[ControlRecord]) -> None:
        """Write the records' new state (matched by event and facility)."""
        ...

    def open_records(self, event_id: str | None = None) -> Sequence[ControlRecord]:
        """Every record in an open state (start-up reconcile), or one event's."""
        ...

    def event_statuses(self, event_ids: Sequence[str]) -> dict[str, Status]:
        """The local status of each event (missing ids are left out)."""
        ...

    def canceled(self, event_ids: Sequence[str]) -> set[str]:
        """The events among ``event_ids`` whose cancel is recorded (not yet carried out)."""
        ...

    def plan_event(self, event_id: str) -> PlanEvent:
        """The event's content (its LOAD_CONTROL signal, after a restart)."""
        ...

    def started(self, event_id: str) -> bool:
        """The event has a record in a state only its start writes (not planned/skipped)."""
        ...

    def unstarted_events(self, now: datetime) -> Sequence[PlanEvent]:
        """Events ``active`` locally, inside their window, with no record but ``planned`` or
        ``skipped`` ones (what prepare writes).

        Control of them never started (a crash between the status and the
        start): reconcile starts them.
        """
        ...

    def together(self, calls: Sequence[Callable[[], Any]]) -> Sequence[Any]:
        """The calls (this store's methods) as one transaction (``StoreGateway.batch``).

        For each, in order, its result or the exception it alone raised
        (nothing of it written); an error of the transaction raises.
        """
        ...


class ReadSink(Protocol):
    """Where every read of an event's facilities is kept as evidence (optional)."""

    def record_reads(self, reads: Sequence[HvacRead]) -> None: ...


__all__ = ["Answer", "BeconPort", "ControlStorePort", "ReadSink", "Reading"]
