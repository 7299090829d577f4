"""``dr_programs:`` entries to :class:`ProgramRules`: each key parsed and checked.

The same entries come from plan files (problems at ``file:line:col``) and
from the daemon config (problems naming the key), so :func:`build_rules`
reports through a callback that takes the key and the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from scheduler.domain.dr_programs import (
    WEEKDAYS,
    OptOutBudget,
    Period,
    ProgramRules,
    Season,
)
from scheduler.durations import parse_duration
from scheduler.plans.model import DrProgramShape, EventLimits, HourLimits
from scheduler.plans.recurrence import RuleProblem, holiday_calendar
from scheduler.plans.times import TimeProblem, parse_clock, zone

#: ``report(key, message)``: key is a dotted path inside the entry (``season.from``).
Report = Callable[[str, str], None]
_T = TypeVar("_T")
_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")


def build_rules(
    shape: DrProgramShape, default_tz: ZoneInfo | None, report: Report, where: str = ""
) -> ProgramRules | None:
    """The rules of one entry, or None after reporting every key that is wrong."""
    problems = 0

    def checked(key: str, parse: Callable[[], _T]) -> _T | None:
        nonlocal problems
        try:
            return parse()
        except (TimeProblem, RuleProblem, ValueError) as exc:
            problems += 1
            report(key, f"{key}: {exc}")
            return None

    name = shape.timezone
    tz = checked("timezone", lambda: zone(name)) if name else default_tz
    if tz is None and not shape.timezone:
        problems += 1
        report("id", f"DR program {shape.id!r}: set its timezone or the plan's top-level timezone")
    season = checked("season", lambda: _season(shape)) if shape.season else None
    hours = checked("hours", lambda: _hours(shape)) if shape.hours else None
    code = shape.exclude_holidays
    calendar = checked("exclude_holidays", lambda: holiday_calendar(code)) if code else None
    longest = checked("max_duration", lambda: _positive(shape.max_duration))
    rest = checked("min_rest", lambda: _positive(shape.min_rest))
    pre = checked("max_pre_condition", lambda: _duration(shape.max_pre_condition))
    if problems or tz is None:
        return None
    return ProgramRules(
        program_id=shape.id,
        tz=tz,
        season=season,
        days=frozenset(WEEKDAYS.index(d) for d in shape.days) if shape.days else None,
        hours=hours,
        holidays=calendar,
        max_duration=longest,
        max_pre_condition=pre,
        min_rest=rest,
        max_events=_event_limits(shape.max_events),
        max_hours=_hour_limits(shape.max_event_hours),
        opt_out_budget=_budget(shape),
        where=where,
    )


def _season(shape: DrProgramShape) -> Season:
    assert shape.season is not None
    first = _month_day(shape.season.from_, "from")
    last = _month_day(shape.season.until, "until")
    return Season(first, last)


def _month_day(text: str, key: str) -> tuple[int, int]:
    match = _MONTH_DAY.fullmatch(text.strip())
    month, day = (int(match[1]), int(match[2])) if match else (0, 0)
    days_in = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not 1 <= month <= 12 or not 1 <= day <= days_in[month - 1]:
        raise TimeProblem(f"{key} {text!r} is not a day of the year: write MM-DD, e.g. 06-01")
    return month, day


def _hours(shape: DrProgramShape) -> tuple[time, time]:
    assert shape.hours is not None
    first, last = parse_clock(shape.hours.from_), parse_clock(shape.hours.until)
    if last <= first:
        raise TimeProblem(f"until {shape.hours.until} is not after from {shape.hours.from_}")
    return first, last


def _positive(text: str | None) -> timedelta | None:
    if text is None:
        return None
    duration = parse_duration(text)
    if duration <= timedelta(0):
        raise TimeProblem(f"{text!r} must be longer than zero")
    return duration


def _duration(text: str | None) -> timedelta | None:
    """A limit where zero means "not at all" (``max_pre_condition: 0s``)."""
    return None if text is None else parse_duration(text)


def _event_limits(shape: EventLimits | None) -> dict[Period, int]:
    if shape is None:
        return {}
    values = {Period.DAY: shape.day, Period.WEEK: shape.week, Period.MONTH: shape.month}
    values[Period.SEASON] = shape.season
    return {period: limit for period, limit in values.items() if limit is not None}


def _hour_limits(shape: HourLimits | None) -> dict[Period, float]:
    if shape is None:
        return {}
    values = {Period.MONTH: shape.month, Period.SEASON: shape.season}
    return {period: limit for period, limit in values.items() if limit is not None}


def _budget(shape: DrProgramShape) -> OptOutBudget | None:
    budget = shape.opt_out_budget
    if budget is None or (budget.count is None and budget.share is None):
        return None
    return OptOutBudget(budget.count, budget.share)
