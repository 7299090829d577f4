"""The clock the engine asks for "now"; the pure core takes ``now`` as an argument.

Tests pass a :class:`FakeClock` and move it; nothing sleeps to move time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)


def to_epoch_ms(instant: datetime) -> int:
    """UTC epoch milliseconds, as the DR API takes them."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime")
    return int(instant.timestamp() * 1000)


def from_epoch(value: int | float) -> datetime:
    """An instant from epoch seconds (10 digits) or milliseconds (13 digits)."""
    seconds = value / 1000 if abs(value) >= 100_000_000_000 else value
    return datetime.fromtimestamp(seconds, UTC)
