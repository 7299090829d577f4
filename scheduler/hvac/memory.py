"""The controller's memory: open records by event, and what its parts share.

Thousands of answers arrive at a window's start, each moving one record: a
per-event index and a running count of facilities under control
(:class:`OpenRecords`) keep every one of those moves O(1) instead of a scan
of all open records. :class:`ControlMemory` is the one object the
controller's parts (start and stop, the periodic work, restores, reconcile)
share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from scheduler.domain.control_records import HELD, UNDER_CONTROL, ControlRecord
from scheduler.domain.events import Signal
from scheduler.domain.hvac import Batch, FacilityKey
from scheduler.domain.shaping import Ramp, Shaping
from scheduler.hvac.mapping import GatewayRead
from scheduler.hvac.planning import Settings

log = structlog.get_logger("scheduler.hvac")


class OpenRecords:
    def __init__(self) -> None:
        self._by_event: dict[str, dict[FacilityKey, ControlRecord]] = {}
        #: Records in :data:`~scheduler.domain.control_records.UNDER_CONTROL` states.
        self.under_control = 0
        #: The events with a record in a :data:`~scheduler.domain.control_records.HELD`
        #: state, by facility (one, unless something is wrong): ``holders`` without a scan
        #: of every open record, which each of 200 events' prepare made (issue 14).
        self._held: dict[FacilityKey, dict[str, None]] = {}

    def __iter__(self) -> Iterator[ControlRecord]:
        for records in self._by_event.values():
            yield from records.values()

    def __len__(self) -> int:
        return sum(len(records) for records in self._by_event.values())

    def get(self, event_id: str, key: FacilityKey) -> ControlRecord | None:
        return self._by_event.get(event_id, {}).get(key)

    def of(self, event_id: str) -> list[ControlRecord]:
        return list(self._by_event.get(event_id, {}).values())

    def remember(self, records: Iterable[ControlRecord]) -> None:
        """Keep open records (replacing older values), forget final ones."""
        for record in records:
            mine = self._by_event.setdefault(record.event_id, {})
            previous = mine.pop(record.key, None)
            if previous is not None:
                self._left(previous)
            if record.state.is_open:
                mine[record.key] = record
                self.under_control += record.state in UNDER_CONTROL
                if record.state in HELD:
                    self._held.setdefault(record.key, {})[record.event_id] = None
            elif not mine:
                del self._by_event[record.event_id]

    def _left(self, record: ControlRecord) -> None:
        """``record`` is no longer kept (replaced, or its event forgotten)."""
        self.under_control -= record.state in UNDER_CONTROL
        if record.state in HELD:
            events = self._held.get(record.key, {})
            events.pop(record.event_id, None)
            if not events:
                self._held.pop(record.key, None)

    def forget_event(self, event_id: str) -> None:
        for record in self._by_event.pop(event_id, {}).values():
            self._left(record)

    def clear(self) -> None:
        self._by_event.clear()
        self._held.clear()
        self.under_control = 0

    def held(self, event_id: str) -> bool:
        """The event has a facility at (or moving to or from) a DR setpoint."""
        return any(r.state in HELD for r in self._by_event.get(event_id, {}).values())

    def holders(self, exclude: str | None = None) -> dict[FacilityKey, str]:
        """Which event holds each facility under control (``exclude``'s records not looked at)."""
        found: dict[FacilityKey, str] = {}
        for key, events in self._held.items():
            for event_id in events:
                if event_id != exclude:
                    found[key] = event_id  # two holders (never happens): one of them
        return found


@dataclass(frozen=True)
class Prepared:
    """What ``prepare`` computed for an event's start: only PUTs are left to send."""

    fingerprint: str
    batches: tuple[Batch, ...]
    skipped: int
    unread: tuple[GatewayRead, ...]


class ControlMemory:
    """Everything the controller keeps in memory, shared by its parts.

    The records are the truth: the store is written first, then this
    (:meth:`.context.Context.record`); the rest are caches of the events'
    content and what this process did.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.open = OpenRecords()
        #: Each controlled event's LOAD_CONTROL signal (loaded at prepare, or from the store).
        self.signals: dict[str, Signal] = {}
        #: Each event's own load shaping (issue 15), None where it asks for none.
        self.shaping: dict[str, Shaping | None] = {}
        self.prepared: dict[str, Prepared] = {}
        #: Events stopped in this process: a late prepare or start for them does nothing.
        #: (A failed write in ``stop`` is made good by the next tick: see ``Restores.end_windows``.)
        self.stopped: dict[str, str] = {}
        #: Events whose start's PUTs are in flight (see ``StartStop._fan_out``).
        self.starting: set[str] = set()
        #: Events the DR service was seen running: ``start`` was called for them in this
        #: process (the engine calls it when a poll sees ``active``, again after a restart).
        #: Only they get DR setpoints; a held facility of another waits (issue 15).
        self.started: set[str] = set()
        #: Each event's window start, where known (pre-conditioning ends there, issue 15).
        self.starts: dict[str, datetime] = {}
        #: While ``release`` runs: every record written, by ident (final ones included).
        self.written: dict[tuple[str, FacilityKey], ControlRecord] | None = None

    def due(self) -> datetime | None:
        return min((r.due_at for r in self.open if r.due_at is not None), default=None)

    def held(self, event_id: str) -> bool:
        return event_id in self.starting or self.open.held(event_id)

    def holders(self, exclude: str | None = None) -> dict[FacilityKey, str]:
        """Which event holds each facility (an event starting holds its planned ones)."""
        holders = self.open.holders(exclude=exclude)
        for event_id in self.starting - {exclude}:
            holders.update((r.key, event_id) for r in self.open.of(event_id))
        return holders

    def capped(self, record: ControlRecord) -> ControlRecord:
        """A pre-conditioning record is due at its window's start at the latest: there it
        gets its DR setpoint (the window never holds a pre-conditioning setpoint). Once
        the start has come (a state that could not be read then) it keeps its own due."""
        start = self.starts.get(record.event_id)
        if not record.preconditioning or start is None or record.due_at is None:
            return record
        if record.updated_at >= start:  # the start has come: it is being moved now
            return record
        return record if record.due_at <= start else replace(record, due_at=start)

    def ramp(self, event_id: str) -> Ramp | None:
        """The event's ``restore.ramp`` (loaded at prepare, stop or reconcile), else hvac's."""
        shaping = self.shaping.get(event_id)
        if shaping is not None and shaping.ramp is not None:
            return shaping.ramp
        return self.settings.ramp

    def randomize(self, event_id: str) -> timedelta:
        shaping = self.shaping.get(event_id)
        if shaping is not None and shaping.randomize_start is not None:
            return shaping.randomize_start
        return self.settings.randomize_start

    def known_stagger(self, event_id: str) -> timedelta | None:
        """The event's ``restore.stagger`` if loaded; None: ``hvac.restore_stagger``."""
        shaping = self.shaping.get(event_id)
        return shaping.restore_stagger if shaping else None

    def log_event(self, name: str, event_id: str, **fields: object) -> None:
        states: dict[str, int] = defaultdict(int)
        for record in self.open.of(event_id):
            states[record.state.value] += 1
        log.info(name, event_id=event_id, open=dict(states), **fields)
