"""Adaptive polling: how often to GET a DR request, as a pure function of time.

The DR API has no push notification (spec: "status is learned by polling
GET"), so the engine polls: slowly far from the window, every few seconds
close to its start and end (where statuses change), never after a terminal
status. A poll is also never scheduled past the next zone boundary, so an
event polled every 10 minutes a day ahead still gets fast polls a minute
before its start.

An event already seen ``active`` in the minute after its start is polled
every ``NEAR`` (30 s), not ``FAST``: the change the start brings has been
seen, and what is left to learn there is a cancel at the DR service (status
9). The cost: such a cancel is seen (and the setpoints restored) up to 30 s
after it, instead of 5 s, as anywhere from the 1st to the 10th minute of a
window (later in a long window: 1–2 min). The gain: a system-wide start of
200 events made 200 GETs every 5 s for a minute beside its PUTs (2,400);
now 400. Near the end an active event is polled fast as before (its
``completed`` ends control in the timeline when the DR service says so).

A poll due less than ``FAST`` before the start or the end waits for it
(:func:`_at_the_change`): it could only see the status before the change.
The start's own poll leaves a little before the start, the time its GET
takes to reach the DR service (:func:`_ahead_of_start`), so that it is read
there at the start rather than one trip after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.domain.lifecycle import Status

FAST = timedelta(seconds=5)
NEAR = timedelta(seconds=30)
INSIDE = timedelta(seconds=60)
MEDIUM = timedelta(minutes=2)
SLOW = timedelta(minutes=10)

#: Within this distance of the start or the end, a status change is expected: poll ``FAST``.
FAST_ZONE = timedelta(minutes=1)

#: (distance to the nearest of start/end, interval): the first row that fits wins.
ZONES: tuple[tuple[timedelta, timedelta], ...] = (
    (FAST_ZONE, FAST),
    (timedelta(minutes=10), NEAR),
    (timedelta(hours=1), MEDIUM),
)

#: The most a start's poll leaves before the start (``next_poll_at``'s ``ahead``).
MAX_AHEAD = timedelta(milliseconds=500)

#: Statuses whose request exists at the DR service and may still change.
POLLED = frozenset({Status.PENDING, Status.STANDBY, Status.ACTIVE})


def poll_interval(
    now: datetime, start: datetime, end: datetime, status: Status
) -> timedelta | None:
    """How long to wait after a poll at ``now``; None when nothing is left to learn."""
    if status not in POLLED:
        return None
    if _started_seen(now, start, end, status):
        return NEAR
    distance = min(abs(now - start), abs(now - end))
    for limit, interval in ZONES:
        if distance <= limit:
            return interval
    if start <= now <= end:
        return INSIDE
    return SLOW


def _started_seen(now: datetime, start: datetime, end: datetime, status: Status) -> bool:
    """Seen ``active`` in the start's fast zone, and not near the end (module docstring)."""
    return status is Status.ACTIVE and start <= now <= start + FAST_ZONE and end - now > FAST_ZONE


def _boundaries(start: datetime, end: datetime) -> list[datetime]:
    """Instants at which :func:`poll_interval` may change its answer."""
    points: list[datetime] = []
    for anchor in (start, end):
        points.append(anchor)  # the DR service changes the status exactly there
        for limit, _ in ZONES:
            points.extend((anchor - limit, anchor + limit))
    return sorted(points)


def next_poll_at(
    last_poll: datetime | None,
    now: datetime,
    start: datetime,
    end: datetime,
    status: Status,
    ahead: timedelta = timedelta(0),
) -> datetime | None:
    """When the next GET is due: at once if never polled, None for terminal statuses.

    ``ahead``: how long a GET takes to reach the DR service (half a round
    trip, :class:`~scheduler.engine.round_trips.RoundTrips`); the start's
    poll leaves that much before the start, at most :data:`MAX_AHEAD`.
    """
    if status not in POLLED:
        return None
    if last_poll is None:
        return now
    if status is Status.ACTIVE and start - MAX_AHEAD <= last_poll < start:
        last_poll = start  # the start's own poll, left ahead of it: the change is seen
    interval = poll_interval(last_poll, start, end, status)
    assert interval is not None  # POLLED statuses always have one
    due = last_poll + interval
    crossed = [b for b in _boundaries(start, end) if last_poll < b < due]
    due = _at_the_change(min(crossed, default=due), start, end)
    return _ahead_of_start(due, last_poll, start, ahead)


def _ahead_of_start(
    due: datetime, last_poll: datetime, start: datetime, ahead: timedelta
) -> datetime:
    """The start's poll leaves ``ahead`` before the start, once, to be read there at the start.

    The DR service reads the status when the GET reaches it: a GET that
    leaves at the start sees ``active`` half a round trip after it, and the
    first PUT follows one whole round trip after the start (issue 14). A
    GET that left early and still found the old status (a trip shorter than
    the ones measured, a clock behind the service's) is followed by the
    start's poll at the start, as without ``ahead``: the cost is one GET.
    """
    early = start - min(max(ahead, timedelta(0)), MAX_AHEAD)
    if due == start and last_poll < early:
        return early
    return due


def _at_the_change(due: datetime, start: datetime, end: datetime) -> datetime:
    """A poll due less than ``FAST`` before the start or the end waits for it.

    The DR service changes the status exactly there, so such a poll can only
    see the old one, and the start's (or end's) own poll follows it at once.
    At a system-wide start those were 200 GETs through ``dr_api.max_concurrency``
    (10 at a time: a second's worth) still running at the start: the tick that
    sent them held back the start's own polls until every GET of its round and
    every HVAC start it led to were done (issue 14). The cost: a change the DR
    service makes in the last ``FAST`` before the start or the end (a cancel) is
    seen at the start or the end, up to ``FAST`` later than before; nothing
    starts before a poll has seen ``active``. A poll is never moved past the
    first change after it: in a window shorter than ``FAST``, the start's own
    poll moved to the end would never see ``active``.
    """
    # ``due`` is after the last poll, so the first change at or after it is too
    change = next((c for c in (start, end) if due <= c), None)  # never past the first
    if change is not None and change - due < FAST:
        return change
    return due
