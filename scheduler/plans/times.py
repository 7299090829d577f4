"""Plan times: local times in an IANA zone, instants with offsets, dates, DST gaps and folds.

DESIGN.md rule 3: a local time that does not exist (spring-forward gap) or
happens twice (fall-back fold) is an error naming the date and zone, unless
the plan's ``dst`` policy resolves it. Resolution is pure: the zone rules
come from :mod:`zoneinfo`, the result is a UTC instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.plans.model import DstPolicy

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_DATETIME = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<offset>Z|z|[+-]\d{2}(?::?\d{2})?)?"
)

DATETIME_FORMS = "'YYYY-MM-DD HH:MM' (local) or an ISO 8601 instant with offset"

#: The instants the DR API can carry: ``startTs``/``endTs`` are UTC epoch
#: milliseconds of exactly 13 digits (DR spec, POST /requests).
DR_EARLIEST = datetime.fromtimestamp(10**12 / 1000, UTC)
DR_LATEST = datetime.fromtimestamp((10**13 - 1) // 1000, UTC)


class TimeProblem(ValueError):
    """A time that cannot be read or resolved; the message is meant for the plan's author."""


@dataclass(frozen=True)
class Moment:
    """A time as written: an absolute instant, or a local wall time needing a zone."""

    instant: datetime | None = None
    local: datetime | None = None


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; TimeProblem when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeProblem(
            f"unknown time zone {name!r} (use an IANA name such as America/New_York or UTC)"
        ) from None


def parse_moment(text: str) -> Moment:
    """``2026-07-15 14:00`` (local) or ``2026-07-15T18:00:00Z`` (an instant)."""
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        raise TimeProblem(f"{text!r} is not a time: write {DATETIME_FORMS}")
    try:
        local = datetime.fromisoformat(match["local"].replace(" ", "T"))
    except ValueError:
        raise TimeProblem(f"{text!r} is not a valid date and time") from None
    offset = match["offset"]
    if offset is None:
        return Moment(local=local)
    try:
        aware = datetime.fromisoformat(match["local"].replace(" ", "T") + offset.upper())
        return Moment(instant=aware.astimezone(UTC))
    except (ValueError, OverflowError):
        raise TimeProblem(f"{text!r} has an invalid UTC offset or is out of range") from None


def check_dr_range(instant: datetime, text: str) -> datetime:
    """``instant`` if the DR API can take it (a 13-digit epoch in milliseconds)."""
    if not DR_EARLIEST <= instant <= DR_LATEST:
        raise TimeProblem(
            f"{text!r} is outside what the DR service accepts "
            f"({DR_EARLIEST:%Y-%m-%d} .. {DR_LATEST:%Y-%m-%d} UTC)"
        )
    return instant


def parse_date(text: str) -> date:
    """A ``YYYY-MM-DD`` date."""
    if not _DATE.fullmatch(text.strip()):
        raise TimeProblem(f"{text!r} is not a date: write YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise TimeProblem(f"{text!r} is not a valid date") from None


def parse_clock(text: str) -> time:
    """An ``HH:MM`` wall-clock time."""
    if not _CLOCK.fullmatch(text.strip()):
        raise TimeProblem(f'{text!r} is not a time of day: write HH:MM, e.g. "15:00"')
    return time.fromisoformat(text.strip())


def resolve_local(local: datetime, tz: ZoneInfo, policy: DstPolicy) -> datetime:
    """The UTC instant of wall time ``local`` in ``tz``, applying the DST ``policy``."""
    try:
        return _resolve(local, tz, policy)
    except OverflowError:
        raise TimeProblem(f"{local:%Y-%m-%d %H:%M} is out of range") from None


def _resolve(local: datetime, tz: ZoneInfo, policy: DstPolicy) -> datetime:
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    shown = f"{local:%Y-%m-%d %H:%M} in {tz.key}"
    if _exists(first):
        if policy.fold == "error":
            raise TimeProblem(
                f"local time {shown} happens twice (DST fold, clocks go back); "
                "set dst.fold to earlier or later"
            )
        return (first if policy.fold == "earlier" else second).astimezone(UTC)
    if policy.gap == "error":
        raise TimeProblem(
            f"local time {shown} does not exist (DST gap, clocks go forward); "
            "set dst.gap to shift_forward"
        )
    return _transition(second.astimezone(UTC), first.astimezone(UTC), tz)


def _exists(aware: datetime) -> bool:
    """True when the wall time exists (a fold), False when it falls in a gap."""
    back = aware.astimezone(UTC).astimezone(aware.tzinfo)
    return back.replace(tzinfo=None) == aware.replace(tzinfo=None)


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The instant the clocks change, between ``before`` and ``after``.

    A gap's wall time read with the new offset lies before the change, read
    with the old offset after it; bisect on whole seconds (zone transitions
    fall on whole seconds) for the first instant with the new offset.
    """
    old = before.astimezone(tz).utcoffset()
    lo, hi = int(before.timestamp()), int(after.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == old:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)
