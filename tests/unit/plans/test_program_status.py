"""Where a program stands: period use and the next allowed start (same rules as the gate)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.dr_programs import CountedEvent, Participation, Period, ProgramRules, Season
from scheduler.plans.program_status import facility_budgets, next_allowed_start, period_use

NY = ZoneInfo("America/New_York")
RULES = ProgramRules(
    "p",
    NY,
    season=Season((6, 1), (9, 30)),
    days=frozenset(range(5)),
    hours=(time(12), time(20)),
    holidays=("US", ""),
    min_rest=timedelta(hours=20),
    max_events={Period.WEEK: 2},
    max_hours={Period.SEASON: 10},
)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY).astimezone(UTC)


def event(event_id: str, start: str, hours: float = 2) -> CountedEvent:
    begin = local(start)
    return CountedEvent(
        event_id, "p", frozenset({"CE-02"}), begin, begin + timedelta(hours=hours), True
    )


@pytest.mark.parametrize(
    ("now", "events", "expected"),
    [
        # Before the season: its first allowed day (06-01-2027 is a Tuesday) at 12:00.
        ("2027-05-20 09:00", [], "2027-06-01 12:00"),
        # Within the hours now: now itself.
        ("2027-06-02 13:00", [], "2027-06-02 13:00"),
        # Too late today for a 1 h event: tomorrow at 12:00.
        ("2027-06-02 19:30", [], "2027-06-03 12:00"),
        # The rest after an event ending 16:00: 20 h later, 12:00 next day.
        ("2027-06-02 17:00", [event("a", "2027-06-02 14:00")], "2027-06-03 12:00"),
        # Week full (2): next Monday; 2027-07-05 is the observed Independence Day: Tuesday.
        (
            "2027-07-01 13:00",
            [event("a", "2027-06-28 14:00"), event("b", "2027-06-30 14:00")],
            "2027-07-06 12:00",
        ),
        # Season hours used up: next season.
        (
            "2027-09-01 13:00",
            [event(f"e{i}", f"2027-08-0{i + 2} 12:00", 5) for i in range(2)],
            "2028-06-01 12:00",
        ),
    ],
)
def test_next_allowed_start(now: str, events: list[CountedEvent], expected: str) -> None:
    found = next_allowed_start(RULES, events, "CE-02", local(now), timedelta(hours=1))
    assert found == local(expected)


def test_period_use_counts_the_current_periods_in_local_time() -> None:
    # 21:00 local on 06-30 is 01:00 UTC on 07-01: still June in New York.
    events = [event("a", "2027-06-28 14:00"), event("b", "2027-06-30 21:00", 1)]
    use = {u.period: u for u in period_use(RULES, events, "CE-02", local("2027-06-30 22:00"))}
    assert (use[Period.DAY].label, use[Period.DAY].events) == ("2027-06-30", 1)
    assert (use[Period.WEEK].events, use[Period.WEEK].events_left) == (2, 0)
    assert (use[Period.MONTH].label, use[Period.MONTH].events) == ("2027-06", 2)
    assert (use[Period.SEASON].hours, use[Period.SEASON].hours_left) == (3.0, 7.0)
    assert use[Period.MONTH].events_left is None  # no monthly limit


def test_facility_budgets_count_this_season_only() -> None:
    rules = ProgramRules("p", NY, season=Season((6, 1), (9, 30)))
    s = local("2027-07-01 14:00")
    items = [
        Participation("a", "F1", "opted_out", s, s + timedelta(hours=2), s + timedelta(hours=1)),
        Participation("b", "F1", "restored", s, s + timedelta(hours=2), s + timedelta(hours=2)),
        Participation("c", "F1", "skipped", s, s + timedelta(hours=2), s),
        Participation("old", "F1", "opted_out", s - timedelta(days=365), s, s),
    ]
    (f1,) = facility_budgets(rules, items, s + timedelta(days=1))
    assert (f1.events, f1.opt_outs, f1.hours, f1.opted_out_hours) == (2, 1, 4.0, 1.0)
    assert f1.share == 0.25
    assert not f1.over_budget  # no budget
