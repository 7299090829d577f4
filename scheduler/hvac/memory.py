"""The controller's memory of open records, indexed by event, with its gauge count kept up.

Thousands of answers arrive at a window's start, each moving one record: a
per-event index and a running count of facilities under control keep every
one of those moves O(1) instead of a scan of all open records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from scheduler.domain.control_records import HELD, UNDER_CONTROL, ControlRecord
from scheduler.domain.hvac import FacilityKey


class OpenRecords:
    def __init__(self) -> None:
        self._by_event: dict[str, dict[FacilityKey, ControlRecord]] = {}
        #: Records in :data:`~scheduler.domain.control_records.UNDER_CONTROL` states.
        self.under_control = 0

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
            if previous is not None and previous.state in UNDER_CONTROL:
                self.under_control -= 1
            if record.state.is_open:
                mine[record.key] = record
                self.under_control += record.state in UNDER_CONTROL
            elif not mine:
                del self._by_event[record.event_id]

    def forget_event(self, event_id: str) -> None:
        for record in self._by_event.pop(event_id, {}).values():
            self.under_control -= record.state in UNDER_CONTROL

    def clear(self) -> None:
        self._by_event.clear()
        self.under_control = 0

    def held(self, event_id: str) -> bool:
        """The event has a facility at (or moving to or from) a DR setpoint."""
        return any(r.state in HELD for r in self._by_event.get(event_id, {}).values())

    def holders(self, exclude: str | None = None) -> dict[FacilityKey, str]:
        """Which event holds each facility under control (``exclude``'s records not looked at)."""
        return {
            r.key: event_id
            for event_id, records in self._by_event.items()
            if event_id != exclude
            for r in records.values()
            if r.state in HELD
        }
