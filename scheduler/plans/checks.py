"""Checks across events: unique ids, and no two windows on one VEN at once.

They run over every event of every file together. Overlaps are found per
VEN in O(n log n): sort by start and sweep, remembering the event that ends
last so far; an event starting before that end overlaps it. Windows are
half-open, so one event may start exactly when another ends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from scheduler.errors import Problem
from scheduler.plans.context import Located

#: (event, file it came from)
Sourced = tuple[Located, str]


def duplicate_ids(events: Sequence[Sourced]) -> list[Problem]:
    """Every event whose id an earlier one (in file and line order) already has."""
    first: dict[str, Sourced] = {}
    problems: list[Problem] = []
    for located, file in sorted(events, key=_position):
        event_id = located.event.event_id
        if event_id not in first:
            first[event_id] = (located, file)
            continue
        other, other_file = first[event_id]
        if (other.line, other.col, other_file) == (located.line, located.col, file):
            message = f"event id {event_id!r} is made twice by this program"
        else:
            message = f"duplicate event id {event_id!r} (also at {other.where(other_file)})"
        problems.append(Problem(file, located.line, located.col, message))
    return problems


def overlaps(events: Sequence[Sourced]) -> list[Problem]:
    """Every event whose window overlaps an earlier-starting one on the same VEN."""
    by_ven: dict[str, list[Sourced]] = defaultdict(list)
    for sourced in events:
        for ven in sourced[0].event.ven_ids:
            by_ven[ven].append(sourced)
    problems: list[Problem] = []
    for ven in sorted(by_ven):
        problems.extend(_sweep(ven, by_ven[ven]))
    return problems


def _sweep(ven: str, events: list[Sourced]) -> list[Problem]:
    ordered = sorted(events, key=lambda s: (s[0].event.start, s[0].event.event_id))
    problems: list[Problem] = []
    latest: Sourced | None = None
    for current in ordered:
        located, file = current
        if latest is not None and located.event.start < latest[0].event.end:
            other, other_file = latest
            problems.append(
                Problem(
                    file,
                    located.line,
                    located.col,
                    f"event {located.event.event_id!r} ({_span(located)}) overlaps event "
                    f"{other.event.event_id!r} ({_span(other)}, {other.where(other_file)}) "
                    f"on VEN {ven}",
                )
            )
        if latest is None or located.event.end > latest[0].event.end:
            latest = current
    return problems


def _position(sourced: Sourced) -> tuple[str, int, int, datetime]:
    located, file = sourced
    return (file, located.line, located.col, located.event.start)


def _span(located: Located) -> str:
    start, end = located.event.start, located.event.end
    shown_end = _clock(end) if end.date() == start.date() else f"{end:%Y-%m-%d} {_clock(end)}"
    return f"{start:%Y-%m-%d} {_clock(start)}–{shown_end} UTC"


def _clock(instant: datetime) -> str:
    return f"{instant:%H:%M:%S}" if instant.second else f"{instant:%H:%M}"
