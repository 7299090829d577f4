"""Small in-memory fakes at the engine's Protocols (store, DR API, HVAC)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.clock import Clock, FakeClock
from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.domain.intents import EventView, Intent, IntentKind
from scheduler.domain.lifecycle import Status, Transition
from scheduler.errors import NotFoundError, PermanentApiError, RetryableApiError
from tests.support.fakes.together import one_by_one

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def plan_event(event_id: str, start: datetime, minutes: int = 30, name: str = "") -> PlanEvent:
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=start,
        end=start + timedelta(minutes=minutes),
        signals=(Signal("s1", "SIMPLE", "level", ("x-DEVICE_TV",)),),
        targets=(EventTarget("CE-02"),),
        name=name or None,
    )


@dataclass
class FakeStore:
    """The engine's store Protocol over dicts; records every write for assertions."""

    views: dict[str, EventView] = field(default_factory=dict)
    contents: dict[str, PlanEvent] = field(default_factory=dict)
    #: The content each submission recorded (what the DR service runs).
    submitted: dict[str, PlanEvent] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    intents: list[tuple[Intent, str | None]] = field(default_factory=list)
    revision: int = 0

    def add(self, event: PlanEvent) -> None:
        self.contents[event.event_id] = event
        self.views[event.event_id] = EventView(
            event.event_id, Status.PLANNED, event.start, event.end
        )
        self.revision += 1

    def change(self, event: PlanEvent) -> None:
        view = self.views[event.event_id]
        self.contents[event.event_id] = event
        running = self.submitted.get(event.event_id)
        self.views[event.event_id] = replace(
            view,
            start=event.start,
            end=event.end,
            revision=view.revision + 1,
            running_start=running.start if running else None,
            running_end=running.end if running else None,
        )
        self.revision += 1

    def cancel(self, event_id: str) -> None:
        self.views[event_id] = replace(self.views[event_id], cancel_requested=True)
        self.revision += 1

    def status(self, event_id: str) -> Status:
        return self.views[event_id].status

    def details(self, event_id: str) -> list[str]:
        return [t.detail for t in self.transitions if t.event_id == event_id]

    # -- EngineStore -----------------------------------------------------------

    def plan_revision(self) -> int:
        return self.revision

    def snapshot(self, planned_start_before: datetime) -> list[EventView]:
        return [
            v
            for v in self.views.values()
            if not v.status.is_terminal
            and (v.status != Status.PLANNED or v.start < planned_start_before)
        ]

    def plan_event(self, event_id: str) -> PlanEvent:
        return self.contents[event_id]

    def running_event(self, event_id: str) -> PlanEvent:
        return self.submitted.get(event_id, self.contents[event_id])

    def open_intents(self) -> list[Intent]:
        return [i for i, outcome in self.intents if outcome is None]

    def begin_intent(
        self, intent: Intent, change: Transition | None, at: datetime
    ) -> PlanEvent | None:
        self.intents.append((intent, None))
        view = replace(self.views[intent.event_id], open_intent=intent)
        if intent.kind == IntentKind.CREATE:
            view = replace(
                view,
                request_id=intent.request_id,
                submitted_revision=intent.revision,
                running_start=None,
                running_end=None,
            )
            self.submitted[intent.event_id] = self.contents[intent.event_id]
        self.views[intent.event_id] = view
        if change is not None:
            self._apply(change)
        return self.submitted[intent.event_id] if intent.kind == IntentKind.CREATE else None

    def end_intent(
        self, intent: Intent, outcome: str, change: Transition | None, at: datetime
    ) -> None:
        index = self.intents.index((intent, None))
        self.intents[index] = (intent, outcome)
        self.views[intent.event_id] = replace(self.views[intent.event_id], open_intent=None)
        if change is not None:
            self._apply(change)

    def record(self, change: Transition) -> bool:
        if self.views[change.event_id].status != change.from_status:
            return False
        self._apply(change)
        return True

    def together(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        return one_by_one(calls)

    def _apply(self, change: Transition) -> None:
        self.transitions.append(change)
        self.views[change.event_id] = replace(self.views[change.event_id], status=change.to_status)


@dataclass
class RemoteReq:
    status: Status | None


@dataclass
class FakeDr:
    """A DR service whose statuses follow the clock, like the simulator.

    ``lose_next_response`` makes the next create reach the service but fail
    as a timeout; ``fail_next_create`` makes it fail before reaching it.
    """

    clock: Clock
    standby_lead: timedelta = timedelta(minutes=5)
    requests: dict[str, PlanEvent] = field(default_factory=dict)
    canceled: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    reject: dict[str, PermanentApiError] = field(default_factory=dict)
    lose_next_response: bool = False
    fail_next_create: bool = False
    down: bool = False
    #: A status the service reports whatever the clock says (e.g. late: still active).
    reported: dict[str, Status] = field(default_factory=dict)
    #: A GET's way there and its way back, each moving the (fake) clock; the service
    #: reads the status in between, as a real one does when the request reaches it.
    way: timedelta = timedelta(0)

    def status_of(self, request_id: str) -> Status:
        if request_id in self.reported:
            return self.reported[request_id]
        if request_id in self.canceled:
            return Status.CANCELED
        event, now = self.requests[request_id], self.clock.now()
        if now >= event.end:
            return Status.COMPLETED
        if now >= event.start:
            return Status.ACTIVE
        if now >= event.start - self.standby_lead:
            return Status.STANDBY
        return Status.PENDING

    def posts(self, request_id: str) -> int:
        return self.calls.count(("POST", request_id))

    def _unreachable(self, operation: str) -> None:
        if self.down:
            raise RetryableApiError("dr", operation, message="connection refused")

    async def create(self, event: PlanEvent, request_id: str) -> None:
        self._unreachable("create")
        if self.fail_next_create:
            self.fail_next_create = False
            raise RetryableApiError("dr", "create", message="connection reset")
        self.calls.append(("POST", request_id))
        if request_id in self.reject:
            raise self.reject[request_id]
        self.requests[request_id] = event
        if self.lose_next_response:
            self.lose_next_response = False
            raise RetryableApiError("dr", "create", message="read timeout", message_id="m-lost")

    async def get(self, request_id: str) -> RemoteReq:
        self._unreachable("get")
        self.calls.append(("GET", request_id))
        self._travel()
        found = request_id in self.requests and request_id not in self.deleted
        status = self.status_of(request_id) if found else None
        self._travel()
        if not found:
            raise NotFoundError("dr", "get", code="4302", message="request not found")
        return RemoteReq(status)

    def _travel(self) -> None:
        if self.way:
            assert isinstance(self.clock, FakeClock), "a way takes a fake clock to move"
            self.clock.advance(self.way)

    async def delete(self, request_id: str) -> None:
        self._unreachable("delete")
        self.calls.append(("DELETE", request_id))
        if request_id not in self.requests or request_id in self.deleted:
            raise NotFoundError("dr", "delete", code="4302", message="request not found")
        if self.status_of(request_id) != Status.PENDING:
            raise PermanentApiError("dr", "delete", code="4000", message="not pending")
        self.deleted.add(request_id)


@dataclass
class RecordingHvac:
    """Records every HVAC call point the engine reaches; ``wake_ups`` are its own due times."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    wake_ups: list[datetime] = field(default_factory=list)
    ticks: list[datetime] = field(default_factory=list)
    #: The event content each call point was given, and when: (call, event, now).
    given: list[tuple[str, PlanEvent, datetime]] = field(default_factory=list)

    async def reconcile(self, now: datetime) -> None:
        self.calls.append(("reconcile", ""))

    async def prepare(self, event: PlanEvent, now: datetime) -> None:
        self.calls.append(("prepare", event.event_id))
        self.given.append(("prepare", event, now))

    async def start(self, event: PlanEvent, now: datetime) -> None:
        self.calls.append(("start", event.event_id))
        self.given.append(("start", event, now))

    async def stop(self, event: PlanEvent, now: datetime, reason: str) -> None:
        self.calls.append(("stop", f"{event.event_id}: {reason}"))
        self.given.append(("stop", event, now))

    async def due(self, now: datetime) -> datetime | None:
        return min(self.wake_ups, default=None)

    async def tick(self, now: datetime) -> None:
        self.ticks.append(now)
        self.wake_ups = [w for w in self.wake_ups if w > now]
