"""Late work the operator's alerts watch, as values.

The store counts it (``scheduler.store.watch``) and the metrics publish it;
the values live here so neither has to know the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Overdue:
    """How many things are late, and by how much the latest one is (0 when none)."""

    count: int = 0
    max_seconds: float = 0.0


@dataclass(frozen=True)
class Lateness:
    """The store's late work the operator's alerts watch (see ``scheduler.store.watch``)."""

    submissions: Overdue = Overdue()
    windows_uncontrolled: Overdue = Overdue()
    held_past_end: Overdue = Overdue()
