"""Program dates: an RFC 5545 RRULE between two dates, less skipped dates and holidays.

A program yields one event per date, so the rule is restricted to day-level
recurrence: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY, and the range comes
from the program's ``from``/``until`` rather than DTSTART, COUNT or UNTIL in
the rule. Holidays come from the ``holidays`` package (no I/O).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from datetime import date, datetime, time
from functools import lru_cache

import holidays
from dateutil.rrule import rrule, rrulestr

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


def occurrence_dates(text: str, first: date, last: date) -> list[date]:
    """The dates ``text`` (an RRULE) yields from ``first`` to ``last`` inclusive."""
    rule = _parse(text, first)
    dates: list[date] = []
    for moment in rule:
        day = moment.date()
        if day > last:
            break
        dates.append(day)
        if len(dates) > MAX_OCCURRENCES:
            raise RuleProblem(
                f"rrule yields more than {MAX_OCCURRENCES} dates between "
                f"{first} and {last}; split the program"
            )
    return dates


def _parse(text: str, first: date) -> rrule:
    body = text.strip().removeprefix("RRULE:")
    parts = _parts(body)
    if parts.get("FREQ") not in _FREQS:
        raise RuleProblem(
            f"rrule FREQ must be one of {', '.join(_FREQS)} (a program has one event per date)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rule = rrulestr(body, dtstart=datetime.combine(first, time()))
    except Exception as exc:  # dateutil raises many kinds of error on a bad rule
        raise RuleProblem(f"invalid rrule {text!r}: {exc}") from None
    if not isinstance(rule, rrule):
        raise RuleProblem(f"invalid rrule {text!r}: one RRULE line expected")
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
                f"rrule part {name} is not allowed in a program (allowed: "
                f"{', '.join(_PARTS)}; dates come from from/until, the time "
                "from start_time)"
            )
        parts[name] = value.strip().upper()
    return parts


def holiday_dates(code: str, years: Iterable[int]) -> frozenset[date]:
    """Public holidays of a country (``US``) or a subdivision (``US-CA``) in ``years``."""
    match = _HOLIDAY_CODE.fullmatch(code.strip())
    if not match:
        raise RuleProblem(f"skip_holidays {code!r}: write a country code such as US or US-CA")
    return _holidays(match[1].upper(), (match[2] or "").upper(), tuple(sorted(set(years))))


@lru_cache(maxsize=64)
def _holidays(country: str, subdiv: str, years: tuple[int, ...]) -> frozenset[date]:
    try:
        calendar = holidays.country_holidays(country, subdiv=subdiv or None, years=years)
    except NotImplementedError:
        where = f"subdivision {subdiv} of {country}" if subdiv else f"country {country}"
        raise RuleProblem(
            f"skip_holidays: the holidays package has no calendar for {where}"
        ) from None
    return frozenset(calendar.keys())
