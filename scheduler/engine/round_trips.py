"""How long the DR service's GETs take, as the engine sees them: how early a start's poll leaves.

The shortest of the recent round trips is the one least delayed by the
engine's own queueing (the event loop, the concurrency slots) and by the
service's load; half of it is the estimate of a GET's way out
(:func:`scheduler.engine.polling.next_poll_at`'s ``ahead``). None measured
yet (a daemon just started): no lead, the start's poll leaves at the start.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from scheduler.engine.polling import MAX_AHEAD

#: How many recent round trips are kept.
KEPT = 32


class RoundTrips:
    def __init__(self, kept: int = KEPT) -> None:
        self._recent: deque[timedelta] = deque(maxlen=kept)

    def observe(self, took: timedelta) -> None:
        """One GET's round trip (a wall clock stepped back gives a negative one: no lead)."""
        self._recent.append(max(took, timedelta(0)))

    def one_way(self) -> timedelta:
        """Half the shortest recent round trip, at most :data:`~.polling.MAX_AHEAD`."""
        if not self._recent:
            return timedelta(0)
        return min(min(self._recent) / 2, MAX_AHEAD)
