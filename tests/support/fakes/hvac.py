"""In-memory fakes at the HVAC controller's Protocols: a BECON account and a control store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.clock import FakeClock
from scheduler.domain.control_records import HELD, OPEN, ControlRecord, ControlState
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.hvac import Batch, FacilityKey, FacilityState, Mode
from scheduler.domain.lifecycle import Status
from scheduler.domain.units import convert_temperature, exact
from scheduler.errors import NotFoundError, RetryableApiError, StoreError
from tests.support.fakes.together import one_by_one

T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)


class Crash(BaseException):
    """The process dies here (kill -9): nothing after it runs."""


@dataclass(frozen=True)
class Target:
    """An ``hvac.targets`` entry."""

    ven: str
    site: str
    gateway: str
    types: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()
    resource: str | None = None


def load_control(
    max_temp: float | None = 80,
    offset: float | None = 4,
    unit: TempUnit | None = TempUnit.F,
    min_temp: float | None = None,
) -> Signal:
    return Signal(
        "s1",
        "LOAD_CONTROL",
        "x-loadControlLevelOffset",
        ("x-DEVICE_AIR_CONDITIONER",),
        min_temp=min_temp,
        max_temp=max_temp,
        temp_offset=offset,
        unit=unit,
    )


def event(
    event_id: str = "ev",
    start: datetime = T0,
    minutes: float = 60,
    vens: Sequence[str] = ("CE-01",),
    signal: Signal | None = None,
) -> PlanEvent:
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=start,
        end=start + timedelta(minutes=minutes),
        signals=(signal or load_control(),),
        targets=tuple(EventTarget(v) for v in vens),
    )


def idu(
    facility_id: str,
    set_temp: float = 74,
    *,
    unit: TempUnit = TempUnit.F,
    mode: Mode | None = Mode.COOL,
    power: bool = True,
    facility_type: str = "IDU",
    span: tuple[float, float] | None = None,
) -> FacilityState:
    if span is None:
        span = (64.0, 86.0) if unit == TempUnit.F else (18.0, 30.0)
    return FacilityState(facility_id, facility_type, power, mode, set_temp, unit, span)


def no_setpoint(facility_id: str, facility_type: str = "ODU") -> FacilityState:
    return FacilityState(facility_id, facility_type, True, Mode.FAN, None, None)


@dataclass(frozen=True)
class Reading:
    key: FacilityKey
    state: FacilityState

    def to_domain(self) -> FacilityState:
        return self.state


@dataclass(frozen=True)
class Answer:
    key: FacilityKey
    outcome: str
    reason: str | None = None


@dataclass
class Put:
    at: datetime
    key: FacilityKey
    value: float
    unit: TempUnit
    outcome: str
    reason: str | None = None


@dataclass
class FakeBecon:
    """BECON over a dict of states; logs every call; faults on demand."""

    clock: FakeClock
    states: dict[FacilityKey, FacilityState] = field(default_factory=dict)
    offline: set[FacilityKey] = field(default_factory=set)
    puts: list[Put] = field(default_factory=list)
    put_calls: list[Batch] = field(default_factory=list)
    reads: list[tuple[str, str, tuple[str, ...] | None]] = field(default_factory=list)
    unreadable: set[tuple[str, str]] = field(default_factory=set)
    fail_puts: int = 0  # the next N PUT calls fail before reaching BECON
    lose_answers: int = 0  # the next N PUT calls land but their answer is lost
    crash_after_puts: int | None = None  # after N PUT calls have landed, the process dies
    in_flight: int = 0
    max_in_flight: int = 0
    on_put: list[Callable[[Batch], object]] = field(default_factory=list)
    #: Every change to a setpoint, in order: ("put" | "occupant", key, value in its unit).
    history: list[tuple[str, FacilityKey, float | None]] = field(default_factory=list)

    def add(self, site: str, gateway: str, *states: FacilityState) -> list[FacilityKey]:
        keys = [s.key(site, gateway) for s in states]
        self.states.update(zip(keys, states, strict=True))
        return keys

    def occupant(self, key: FacilityKey, **changes: Any) -> None:
        self.states[key] = replace(self.states[key], **changes)
        self.history.append(("occupant", key, self.states[key].set_temp))

    def setpoint(self, key: FacilityKey) -> float | None:
        return self.states[key].set_temp

    def sent(self, key: FacilityKey) -> list[float]:
        return [p.value for p in self.puts if p.key == key and p.outcome == "success"]

    # -- the port ------------------------------------------------------------

    async def gateway_states(
        self, site: str, gateway: str, types: Iterable[str] | None = None
    ) -> list[Reading]:
        wanted = None if types is None else set(types)
        self.reads.append((site, gateway, None if wanted is None else tuple(sorted(wanted))))
        await asyncio.sleep(0)
        if (site, gateway) in self.unreadable:
            raise RetryableApiError("BECON", "states", message="gateway timeout")
        return [
            Reading(k, s)
            for k, s in sorted(self.states.items())
            if k.site == site
            and k.gateway == gateway
            and (wanted is None or k.facility_type in wanted)
        ]

    async def state(self, key: FacilityKey) -> Reading:
        self.reads.append((key.site, key.gateway, (key.facility_type, key.facility_id)))
        await asyncio.sleep(0)
        if (key.site, key.gateway) in self.unreadable:
            raise RetryableApiError("BECON", "state", message="gateway timeout")
        if key not in self.states:
            raise NotFoundError("BECON", "state", message="no such facility")
        return Reading(key, self.states[key])

    async def send_batch(self, batch: Batch) -> list[Answer]:
        assert len(batch.controls) <= 100
        assert {c.key.facility_type for c in batch.controls} == {batch.facility_type}
        assert {(c.key.site, c.key.gateway) for c in batch.controls} == {
            (batch.site, batch.gateway)
        }
        if self.crash_after_puts is not None and len(self.put_calls) >= self.crash_after_puts:
            raise Crash
        for hook in self.on_put:
            hook(batch)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if self.fail_puts:
                self.fail_puts -= 1
                raise RetryableApiError("BECON", "control", message="connection reset")
            self.put_calls.append(batch)
            answers = [self._apply(c.key, c.set_temp, c.unit) for c in batch.controls]
        finally:
            self.in_flight -= 1
        if self.lose_answers:
            self.lose_answers -= 1
            raise RetryableApiError("BECON", "control", message="read timeout")
        return answers

    def _apply(self, key: FacilityKey, value: float, unit: TempUnit) -> Answer:
        now = self.clock.now()
        state = self.states.get(key)
        if state is None:
            return Answer(key, "refused", "not_found")
        if state.set_temp is None or state.unit is None or state.set_temp_range is None:
            return Answer(key, "refused", "not_supported")
        converted = convert_temperature(value, unit, state.unit)
        low, high = (exact(v) for v in state.set_temp_range)
        if not low <= converted <= high:
            self.puts.append(Put(now, key, value, unit, "fail", "out_of_range"))
            return Answer(key, "refused", "out_of_range")
        if key in self.offline:
            self.puts.append(Put(now, key, value, unit, "fail", "offline"))
            return Answer(key, "fail", "offline")
        self.states[key] = replace(state, set_temp=float(converted))
        self.puts.append(Put(now, key, value, unit, "success"))
        self.history.append(("put", key, float(converted)))
        return Answer(key, "success")


@dataclass
class FakeControlStore:
    """The control store over a dict; events' statuses and contents for reconcile."""

    records: dict[tuple[str, FacilityKey], ControlRecord] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)
    #: Events whose cancel is recorded (``canceled``).
    cancel_requested: set[str] = field(default_factory=set)
    events: dict[str, PlanEvent] = field(default_factory=dict)
    intents_marked: list[tuple[str, datetime]] = field(default_factory=list)
    #: Outcomes of the next ``save`` calls, in order: False makes that call fail.
    saves_ok: list[bool] = field(default_factory=list)
    #: Refuse a second holder of a facility, as the SQL store's unique index does.
    unique_holds: bool = True
    #: Called (in the store's thread) before an ``insert`` writes anything.
    on_insert: list[Callable[[Sequence[ControlRecord]], None]] = field(default_factory=list)

    def add_event(self, plan: PlanEvent, status: Status = Status.STANDBY) -> None:
        self.events[plan.event_id] = plan
        self.statuses[plan.event_id] = status

    def of(self, event_id: str) -> list[ControlRecord]:
        return sorted(
            (r for r in self.records.values() if r.event_id == event_id), key=lambda r: r.key
        )

    def record(self, event_id: str, key: FacilityKey) -> ControlRecord:
        return self.records[(event_id, key)]

    def states(self, event_id: str) -> dict[FacilityKey, ControlState]:
        return {r.key: r.state for r in self.of(event_id)}

    # -- the port ------------------------------------------------------------

    def replace_planned(self, event_id: str, records: Sequence[ControlRecord]) -> None:
        for ident, record in list(self.records.items()):
            if record.event_id == event_id and record.state in (
                ControlState.PLANNED,
                ControlState.SKIPPED,
            ):
                del self.records[ident]
        self.insert([r for r in records if r.ident not in self.records])

    def insert(self, records: Sequence[ControlRecord]) -> None:
        for hook in self.on_insert:
            hook(records)
        for record in records:
            assert record.ident not in self.records, f"{record.ident} written twice"
        self._write(records)

    def claim(self, event_id: str, at: datetime) -> dict[FacilityKey, str]:
        """As the SQL store: one atomic step; a facility another event holds is skipped."""
        self.intents_marked.append((event_id, at))
        holders = {r.key: r.event_id for r in self.records.values() if r.state in HELD}
        taken = {}
        for ident, record in self.records.items():
            if record.event_id != event_id or record.state is not ControlState.PLANNED:
                continue
            holder = holders.get(record.key)
            if holder is not None and holder != event_id:
                taken[record.key] = holder
                why = f"under control of event {holder}"
                self.records[ident] = replace(
                    record, state=ControlState.SKIPPED, due_at=None, updated_at=at, reason=why
                )
            else:
                self.records[ident] = replace(
                    record, state=ControlState.INTENT, due_at=None, updated_at=at
                )
        return taken

    def save(self, records: Sequence[ControlRecord]) -> None:
        if self.saves_ok and not self.saves_ok.pop(0):
            raise StoreError("database error: disk I/O error (injected)")
        for record in records:
            assert record.ident in self.records, f"{record.ident} saved before it was written"
        self._write(records)

    def together(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        return one_by_one(calls)

    def _write(self, records: Sequence[ControlRecord]) -> None:
        """All or nothing, like a transaction under the unique index of held facilities."""
        after = {**self.records, **{r.ident: r for r in records}}
        if self.unique_holds:
            holders: dict[FacilityKey, str] = {}
            for record in after.values():
                if record.state in HELD:
                    other = holders.setdefault(record.key, record.event_id)
                    if other != record.event_id:
                        raise StoreError(f"UNIQUE constraint failed: {record.key} held twice")
        self.records = after

    def open_records(self, event_id: str | None = None) -> list[ControlRecord]:
        return [
            r for r in self.records.values() if r.state in OPEN and event_id in (None, r.event_id)
        ]

    def event_statuses(self, event_ids: Sequence[str]) -> dict[str, Status]:
        return {e: self.statuses[e] for e in event_ids if e in self.statuses}

    def canceled(self, event_ids: Sequence[str]) -> set[str]:
        return {e for e in event_ids if e in self.cancel_requested}

    def plan_event(self, event_id: str) -> PlanEvent:
        return self.events[event_id]

    def started(self, event_id: str) -> bool:
        prepared = (ControlState.PLANNED, ControlState.SKIPPED)
        return any(
            r.event_id == event_id and r.state not in prepared for r in self.records.values()
        )

    def unstarted_events(self, now: datetime) -> list[PlanEvent]:
        prepared = (ControlState.PLANNED, ControlState.SKIPPED)
        started = {r.event_id for r in self.records.values() if r.state not in prepared}
        return [
            e
            for e in self.events.values()
            if self.statuses.get(e.event_id) == Status.ACTIVE
            and now < e.end
            and e.event_id not in started
        ]
