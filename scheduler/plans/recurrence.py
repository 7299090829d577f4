"""Program dates: an RFC 5545 RRULE between two dates, less skipped dates and holidays.

A program yields one event per date, so the rule is restricted to day-level
recurrence: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY, and the range comes
from the program's ``from``/``until`` rather than DTSTART, COUNT or UNTIL in
the rule. Holidays come from the ``holidays`` package (no I/O), through
:mod:`.holiday_calendars` (which imports only the country asked for).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from datetime import date, datetime, time
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr

from scheduler.plans.holiday_calendars import country_holidays

#: More events than this from one program is a mistake (about 27 years of days).
MAX_OCCURRENCES = 10_000

_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_PARTS = (
    "FREQ",
    "INTERVAL",
    "BYDAY",
    "BYMONTH",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYSETPOS",
    "WKST",
)
_HOLIDAY_CODE = re.compile(r"([A-Za-z]{2,3})(?:-([A-Za-z0-9]{1,10}))?")


class RuleProblem(ValueError):
    """An RRULE, date range or holiday calendar that cannot be used."""


def parse_rule(text: str) -> str:
    """The rule ``text`` checked for use in a program, without any ``RRULE:`` prefix."""
    body = text.strip().removeprefix("RRULE:")
    parts = _parts(body)
    if parts.get("FREQ") not in _FREQS:
        raise RuleProblem(
            f"FREQ must be one of {', '.join(_FREQS)} (a program has one event per date)"
        )
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or int(interval) < 1:
        raise RuleProblem(f"INTERVAL must be a whole number of 1 or more, got {interval!r}")
    _rule(body, date(2000, 1, 1))
    return body


def occurrence_dates(body: str, first: date, last: date) -> list[date]:
    """The dates a checked rule yields from ``first`` to ``last`` inclusive."""
    dates: list[date] = []
    moments = iter(_rule(body, first))
    while True:
        try:
            day = next(moments).date()
        except StopIteration:
            return dates
        except Exception as exc:  # dateutil may fail while iterating, e.g. near year 9999
            raise RuleProblem(f"cannot expand rrule {body!r}: {exc}") from None
        if day > last:
            return dates
        dates.append(day)
        if len(dates) > MAX_OCCURRENCES:
            raise RuleProblem(
                f"yields more than {MAX_OCCURRENCES} dates between {first} and {last}; "
                "split the program"
            )


def _rule(body: str, first: date) -> rrule:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rule = rrulestr(body, dtstart=datetime.combine(first, time()))
    except Exception as exc:  # dateutil raises many kinds of error on a bad rule
        raise RuleProblem(f"invalid rrule {body!r}: {exc}") from None
    if not isinstance(rule, rrule):
        raise RuleProblem(f"invalid rrule {body!r}: one RRULE line expected")
    return rule


def _parts(body: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in filter(str.strip, body.split(";")):
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise RuleProblem(
                f"invalid rrule part {item!r}: write NAME=VALUE, e.g. "
                "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
            )
        if name not in _PARTS:
            raise RuleProblem(
                f"part {name} is not allowed in a program (allowed: {', '.join(_PARTS)}; "
                "dates come from from/until, the time from start_time)"
            )
        parts[name] = value.strip().upper()
    return parts


def holiday_calendar(code: str) -> tuple[str, str]:
    """``US`` or ``US-CA`` as (country, subdivision), checked against the holidays package."""
    match = _HOLIDAY_CODE.fullmatch(code.strip())
    if not match:
        raise RuleProblem(f"{code!r} is not a country code: write e.g. US or US-CA")
    calendar = (match[1].upper(), (match[2] or "").upper())
    _holidays(*calendar, ())
    return calendar


def holiday_dates(calendar: tuple[str, str], years: Iterable[int]) -> frozenset[date]:
    """Public holidays (observed days included) of a checked calendar in ``years``."""
    return _holidays(*calendar, tuple(sorted(set(years))))


@lru_cache(maxsize=64)
def _holidays(country: str, subdiv: str, years: tuple[int, ...]) -> frozenset[date]:
    try:
        calendar = country_holidays(country, subdiv or None, years)
    except NotImplementedError:
        where = f"subdivision {subdiv} of {country}" if subdiv else f"country {country}"
        raise RuleProblem(f"the holidays package has no calendar for {where}") from None
    except Exception as exc:  # the package's boundary: report, never crash the plan
        raise RuleProblem(f"the holidays package failed for {country}: {exc}") from None
    return frozenset(calendar.keys())
