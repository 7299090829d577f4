"""DR programs: the contract terms a utility sets on events, as plain values.

A program (``dr_programs:`` in a plan file or the daemon config) limits when
its events may run and how many a participant can be asked for: a season,
allowed days and local hours, no public holidays, a longest event, the
longest pre-conditioning before it (or none at all), a rest
between events on one VEN, and counts / event hours per day, week, month
and season. Events name their program with ``program:``. The check itself is
:func:`scheduler.plans.rule_check.check_rules`; these types are shared with
``programs status`` and any other event source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class Period(StrEnum):
    """The calendar periods limits count over, in the program's local zone."""

    DAY = "day"
    WEEK = "week"  # ISO week, Monday to Sunday
    MONTH = "month"
    SEASON = "season"


@dataclass(frozen=True)
class Season:
    """A yearly date range, ``(month, day)`` to ``(month, day)`` inclusive; it may wrap
    the year (``11-01`` to ``03-31`` is one winter season)."""

    first: tuple[int, int]
    last: tuple[int, int]

    @property
    def wraps(self) -> bool:
        return self.first > self.last

    def contains(self, day: date) -> bool:
        md = (day.month, day.day)
        if self.wraps:
            return md >= self.first or md <= self.last
        return self.first <= md <= self.last

    def start_year(self, day: date) -> int:
        """The year the season holding ``day`` begins (a wrapped winter belongs to its
        November's year)."""
        if self.wraps and (day.month, day.day) <= self.last:
            return day.year - 1
        return day.year

    def bounds(self, year: int) -> tuple[date, date]:
        """The first and last dates of the season beginning in ``year``."""
        end_year = year + 1 if self.wraps else year
        return _date(year, self.first), _date(end_year, self.last)

    def label(self, year: int) -> str:
        return f"{year}/{(year + 1) % 100:02d}" if self.wraps else str(year)

    def text(self) -> str:
        return f"{self.first[0]:02d}-{self.first[1]:02d}..{self.last[0]:02d}-{self.last[1]:02d}"


def _date(year: int, month_day: tuple[int, int]) -> date:
    month, day = month_day
    if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        return date(year, 2, 28)
    return date(year, month, day)


@dataclass(frozen=True)
class OptOutBudget:
    """How much a facility may opt out in a season: a count of events, a share of its
    event hours, or both (whichever is reached first)."""

    count: int | None = None
    share: float | None = None


@dataclass(frozen=True)
class ProgramRules:
    """One DR program's rules; ``None`` (or an empty mapping) means no limit."""

    program_id: str
    tz: ZoneInfo
    season: Season | None = None
    days: frozenset[int] | None = None  # 0 = Monday
    hours: tuple[time, time] | None = None  # local [from, until]
    holidays: tuple[str, str] | None = None  # (country, subdivision)
    max_duration: timedelta | None = None
    #: Longest ``pre_condition`` an event may ask for (issue 15); zero forbids it.
    max_pre_condition: timedelta | None = None
    min_rest: timedelta | None = None
    max_events: dict[Period, int] = field(default_factory=dict)
    max_hours: dict[Period, float] = field(default_factory=dict)
    opt_out_budget: OptOutBudget | None = None
    where: str = ""  # "file:line:col" of its definition, for messages

    def season_of(self, day: date) -> str:
        """The label of the season ``day`` counts in (the calendar year without a season)."""
        if self.season is None:
            return str(day.year)
        return self.season.label(self.season.start_year(day))

    def period_of(self, period: Period, local_start: datetime) -> str:
        day = local_start.date()
        if period is Period.DAY:
            return day.isoformat()
        if period is Period.WEEK:
            iso = day.isocalendar()
            return f"week {iso.year}-W{iso.week:02d}"
        if period is Period.MONTH:
            return f"{day:%Y-%m}"
        return f"season {self.season_of(day)}"


@dataclass(frozen=True)
class CountedEvent:
    """An event as the rules see it: its program, VENs and window (UTC).

    ``past`` marks one already stored (run or scheduled earlier, from the
    database): it counts toward the limits but is not itself refused.
    ``where`` is ``file:line:col`` (or the source) used to place a problem.
    """

    event_id: str
    program_id: str
    ven_ids: frozenset[str]
    start: datetime
    end: datetime
    past: bool = False
    where: str = ""
    #: Its ``pre_condition.duration`` (None: it does not pre-condition).
    pre_condition: timedelta | None = None

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True)
class Violation:
    """One broken rule: which, its limit, the count found and the events making it up.

    ``event`` is the (not past) event the problem is reported at.
    """

    program_id: str
    rule: str
    limit: str
    count: str
    event_ids: tuple[str, ...]
    event: CountedEvent
    message: str


@dataclass(frozen=True)
class Participation:
    """One facility in one event of the program, as the HVAC records have it."""

    event_id: str
    facility: str
    state: str
    event_start: datetime
    event_end: datetime
    changed_at: datetime  # when the record reached ``state`` (the opt-out time)

    @property
    def hours(self) -> float:
        return (self.event_end - self.event_start).total_seconds() / 3600

    @property
    def opted_out_hours(self) -> float:
        if self.state != "opted_out":
            return 0.0
        since = min(max(self.changed_at, self.event_start), self.event_end)
        return (self.event_end - since).total_seconds() / 3600


#: Record states in which a facility took part (it was, or was being, held at DR).
TOOK_PART = frozenset({"intent", "applied", "retrying", "restoring", "restored", "opted_out"})
