"""The engine's memory of events: one :class:`~.model.Tracking` each, not persisted.

``decide`` reads it; the engine's actions (DR calls, HVAC calls) change it
through :meth:`EventMemory.track`. A restart loses it without harm (see
:mod:`.model`).
"""

from __future__ import annotations

from dataclasses import replace

from scheduler.engine.model import Tracking


class EventMemory(dict[str, Tracking]):
    """Event id → what the engine remembers of it."""

    def track(self, event_id: str, **changes: object) -> None:
        """Change some of the event's :class:`~.model.Tracking` fields."""
        current = self.get(event_id, Tracking())
        self[event_id] = replace(current, **changes)  # type: ignore[arg-type]  # Tracking fields
