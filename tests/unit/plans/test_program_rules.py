"""DR program rules: each rule with a passing and a failing plan, the message, its
position and the events named; season wrap, DST days, holidays and stored events.

Plans are ``HEADER`` (6 lines, zone America/New_York, VEN CE-02) plus a
``dr_programs`` entry on lines 7-9 and events from line 10, one per 4 lines
(the n-th event's item is at line 10 + 4(n-1), column 5).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.dr_programs import CountedEvent, Period, ProgramRules, Season
from scheduler.errors import PlanError
from scheduler.plans import parse_plan
from scheduler.plans.rule_check import check_rules, refuse_violations
from tests.support.plans import HEADER, events, problems

NY = ZoneInfo("America/New_York")


def plan(rules: str, *windows: tuple[str, str, str]) -> str:
    """A plan with program ``p`` having ``rules`` (one flow mapping's inner text) and
    one-off events (id, local start, local end) in it."""
    lines = [HEADER, "dr_programs:\n", f"  - {{id: p, {rules}}}\n", "events:\n"]
    for event_id, start, end in windows:
        lines += [
            f"  - id: {event_id}\n",
            f"    start: {start}\n",
            f"    end: {end}\n",
            "    program: p\n",
        ]
    return "".join(lines)


def line_of(n: int) -> str:
    return f"{10 + 4 * (n - 1)}:5"


# (case, rules, passing events, failing events, expected problems on failing)
CASES = [
    (
        "season",
        'season: {from: "06-01", until: "09-30"}',
        [("a", "2027-06-01 14:00", "2027-06-01 16:00")],
        [("a", "2027-05-31 14:00", "2027-05-31 16:00")],
        [
            f"{line_of(1)}: program p: event 'a' starts on 2027-05-31, "
            "outside the season 06-01..09-30"
        ],
    ),
    (
        "season wraps the year",
        'season: {from: "11-01", until: "03-31"}',
        [
            ("a", "2026-12-31 14:00", "2026-12-31 16:00"),
            ("b", "2027-03-31 14:00", "2027-03-31 16:00"),
        ],
        [("a", "2027-04-01 14:00", "2027-04-01 16:00")],
        [
            f"{line_of(1)}: program p: event 'a' starts on 2027-04-01, "
            "outside the season 11-01..03-31"
        ],
    ),
    (
        "days",
        "days: [MO, TU, WE, TH, FR]",
        [("a", "2027-07-09 14:00", "2027-07-09 16:00")],
        [("a", "2027-07-10 14:00", "2027-07-10 16:00")],
        [
            f"{line_of(1)}: program p: event 'a' starts on SA 2027-07-10, "
            "allowed days MO,TU,WE,TH,FR"
        ],
    ),
    (
        "hours",
        'hours: {from: "12:00", until: "20:00"}',
        [("a", "2027-07-09 12:00", "2027-07-09 20:00")],
        [("a", "2027-07-09 17:00", "2027-07-09 20:30")],
        [
            f"{line_of(1)}: program p: event 'a' runs 17:00–20:30 local on 2027-07-09, "
            "allowed 12:00–20:00"
        ],
    ),
    (
        "holidays",
        "exclude_holidays: US",
        [("a", "2027-07-06 14:00", "2027-07-06 16:00")],
        # 2027-07-04 is a Sunday: the observed holiday is Monday 07-05.
        [("a", "2027-07-05 14:00", "2027-07-05 16:00")],
        [f"{line_of(1)}: program p: event 'a' starts on 2027-07-05, a public holiday in US"],
    ),
    (
        "max duration",
        "max_duration: 4h",
        [("a", "2027-07-09 14:00", "2027-07-09 18:00")],
        [("a", "2027-07-09 14:00", "2027-07-09 18:01")],
        [f"{line_of(1)}: program p: event 'a' lasts 4h1m, limit 4h"],
    ),
    (
        "max duration on the spring-forward day (elapsed, not wall clock)",
        "max_duration: 3h",
        [("a", "2027-03-14 00:00", "2027-03-14 04:00")],
        [("a", "2027-11-07 00:00", "2027-11-07 03:00")],
        [f"{line_of(1)}: program p: event 'a' lasts 4h, limit 3h"],
    ),
    (
        "min rest",
        "min_rest: 20h",
        [
            ("a", "2027-07-08 14:00", "2027-07-08 18:00"),
            ("b", "2027-07-09 14:00", "2027-07-09 18:00"),
        ],
        [
            ("a", "2027-07-08 14:00", "2027-07-08 18:00"),
            ("b", "2027-07-09 13:00", "2027-07-09 17:00"),
        ],
        [
            f"{line_of(2)}: program p: 19h rest between events 'a' and 'b' "
            "on VEN CE-02, min rest 20h"
        ],
    ),
    (
        "max events a day",
        "max_events: {day: 1}",
        [
            ("a", "2027-07-08 14:00", "2027-07-08 15:00"),
            ("b", "2027-07-09 14:00", "2027-07-09 15:00"),
        ],
        [
            ("a", "2027-07-09 10:00", "2027-07-09 11:00"),
            ("b", "2027-07-09 14:00", "2027-07-09 15:00"),
        ],
        [f"{line_of(2)}: program p: 2 events in 2027-07-09 on VEN CE-02, limit 1: a, b"],
    ),
    (
        "max events a week (ISO, Monday to Sunday)",
        "max_events: {week: 2}",
        [
            ("a", "2027-07-10 14:00", "2027-07-10 15:00"),  # Saturday
            ("b", "2027-07-11 14:00", "2027-07-11 15:00"),  # Sunday
            ("c", "2027-07-12 14:00", "2027-07-12 15:00"),  # Monday: next week
        ],
        [
            ("a", "2027-07-05 14:00", "2027-07-05 15:00"),
            ("b", "2027-07-07 14:00", "2027-07-07 15:00"),
            ("c", "2027-07-11 14:00", "2027-07-11 15:00"),
        ],
        [f"{line_of(3)}: program p: 3 events in week 2027-W27 on VEN CE-02, limit 2: a, b, c"],
    ),
    (
        "max events a month (local month: 20:00 on the 31st is 00:00 UTC next month)",
        "max_events: {month: 1}",
        [
            ("a", "2027-07-31 20:00", "2027-07-31 21:00"),
            ("b", "2027-08-01 14:00", "2027-08-01 15:00"),
        ],
        [
            ("a", "2027-07-01 14:00", "2027-07-01 15:00"),
            ("b", "2027-07-31 20:00", "2027-07-31 21:00"),
        ],
        [f"{line_of(2)}: program p: 2 events in 2027-07 on VEN CE-02, limit 1: a, b"],
    ),
    (
        "max events a wrapped season",
        'season: {from: "11-01", until: "03-31"}, max_events: {season: 1}',
        [
            ("a", "2027-03-01 14:00", "2027-03-01 15:00"),  # season 2026/27
            ("b", "2027-11-01 14:00", "2027-11-01 15:00"),  # season 2027/28
        ],
        [
            ("a", "2026-11-30 14:00", "2026-11-30 15:00"),
            ("b", "2027-01-04 14:00", "2027-01-04 15:00"),
        ],
        [f"{line_of(2)}: program p: 2 events in season 2026/27 on VEN CE-02, limit 1: a, b"],
    ),
    (
        "max event hours a month",
        "max_event_hours: {month: 4}",
        [
            ("a", "2027-07-08 14:00", "2027-07-08 16:00"),
            ("b", "2027-07-09 14:00", "2027-07-09 16:00"),
        ],
        [
            ("a", "2027-07-08 14:00", "2027-07-08 16:00"),
            ("b", "2027-07-09 14:00", "2027-07-09 16:30"),
        ],
        [f"{line_of(2)}: program p: 4.5 event hours in 2027-07 on VEN CE-02, limit 4: a, b"],
    ),
    (
        "max event hours a season",
        'season: {from: "06-01", until: "09-30"}, max_event_hours: {season: 5}',
        [
            ("a", "2027-06-08 14:00", "2027-06-08 16:00"),
            ("b", "2027-09-09 14:00", "2027-09-09 17:00"),
        ],
        [
            ("a", "2027-06-08 14:00", "2027-06-08 16:00"),
            ("b", "2027-08-09 14:00", "2027-08-09 16:00"),
            ("c", "2027-09-09 14:00", "2027-09-09 16:00"),
        ],
        [f"{line_of(3)}: program p: 6 event hours in season 2027 on VEN CE-02, limit 5: a, b, c"],
    ),
]


@pytest.mark.parametrize(
    ("rules", "good", "bad", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_rule_passes_and_fails(
    rules: str,
    good: list[tuple[str, str, str]],
    bad: list[tuple[str, str, str]],
    expected: list[str],
) -> None:
    events = parse_plan(plan(rules, *good), "plan.yaml")
    assert [e.event_id for e in events] == [w[0] for w in good]
    assert all(e.dr_program == "p" for e in events)
    assert problems(plan(rules, *bad)) == expected


def test_every_broken_rule_of_one_event_is_reported() -> None:
    rules = 'days: [MO], hours: {from: "12:00", until: "14:00"}, max_duration: 1h'
    assert problems(plan(rules, ("a", "2027-07-10 10:00", "2027-07-10 12:00"))) == [
        "10:5: program p: event 'a' lasts 2h, limit 1h",
        "10:5: program p: event 'a' runs 10:00–12:00 local on 2027-07-10, allowed 12:00–14:00",
        "10:5: program p: event 'a' starts on SA 2027-07-10, allowed days MO",
    ]


def test_recurring_program_events_are_checked_and_named_by_date() -> None:
    text = (
        HEADER
        + "dr_programs:\n  - {id: p, max_events: {week: 2}, exclude_holidays: US}\n"
        + "programs:\n"
        + "  - id: cbp\n"
        + "    program: p\n"
        + "    rrule: FREQ=WEEKLY;BYDAY=MO,WE,FR\n"
        + "    from: 2027-07-05\n"
        + "    until: 2027-07-09\n"
        + '    start_time: "14:00"\n'
        + "    duration: 2h\n"
    )
    assert problems(text) == [
        "10:5: program p: 3 events in week 2027-W27 on VEN CE-02, limit 2: "
        "cbp-20270705, cbp-20270707, cbp-20270709",
        "10:5: program p: event 'cbp-20270705' starts on 2027-07-05, a public holiday in US",
    ]


def test_program_named_in_defaults_applies_to_every_event() -> None:
    text = HEADER.replace("  vtn_id: vtn01\n", "  vtn_id: vtn01\n  program: p\n") + (
        "dr_programs: [{id: p, max_events: {day: 1}}]\n"
        "events:\n"
        "  - {id: a, start: 2027-07-09 10:00, end: 2027-07-09 11:00}\n"
        "  - {id: b, start: 2027-07-09 14:00, end: 2027-07-09 15:00}\n"
    )
    assert problems(text) == ["11:5: program p: 2 events in 2027-07-09 on VEN CE-02, limit 1: a, b"]


def test_unknown_program_is_an_error() -> None:
    text = plan("days: [MO]", ("a", "2027-07-05 14:00", "2027-07-05 15:00")).replace(
        "program: p", "program: q"
    )
    assert problems(text) == ["10:5: event 'a': no DR program 'q' (known: p)"]


def test_program_defined_twice_is_an_error() -> None:
    text = plan("days: [MO]").replace("events:\n", "  - {id: p, days: [TU]}\nevents:\n")
    assert problems(text) == ["9:5: DR program 'p' is defined twice (also at plan.yaml:8:5)"]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            'season: {from: "02-30", until: "03-01"}',
            "8:21: DR program 'p': season: from '02-30' is not a day of the year: "
            "write MM-DD, e.g. 06-01",
        ),
        (
            'hours: {from: "20:00", until: "12:00"}',
            "8:20: DR program 'p': hours: until 12:00 is not after from 20:00",
        ),
        (
            "exclude_holidays: XX",
            "8:31: DR program 'p': exclude_holidays: the holidays package "
            "has no calendar for country XX",
        ),
        ("max_duration: 0m", "8:27: DR program 'p': max_duration: '0m' must be longer than zero"),
        (
            "days: [MON]",
            "8:20: days[0]: must be 'MO', 'TU', 'WE', 'TH', 'FR', 'SA' or 'SU', got 'MON'",
        ),
        ("max_events: {year: 3}", "8:26: unknown key 'year' (known: day, month, season, week)"),
        (
            "opt_out_budget: {share: 1.5}",
            "8:37: share: Input should be less than or equal to 1, got 1.5",
        ),
    ],
)
def test_bad_rule_definitions_are_reported_at_the_key(rules: str, expected: str) -> None:
    assert problems(plan(rules)) == [expected]


# -- the pure check: stored events, other sources, DST ------------------------


def _at(day: str, hour: int, hours: float = 2) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(f"{day} {hour:02d}:00").replace(tzinfo=NY).astimezone(UTC)
    return start, start + timedelta(hours=hours)


def counted(
    event_id: str, day: str, hour: int = 14, *, past: bool = False, ven: str = "CE-02"
) -> CountedEvent:
    start, end = _at(day, hour)
    return CountedEvent(event_id, "p", frozenset({ven}), start, end, past, f"plan.yaml:{hour}:5")


RULES = {
    "p": ProgramRules(
        "p",
        NY,
        season=Season((6, 1), (9, 30)),
        max_events={Period.MONTH: 2, Period.SEASON: 3},
    )
}


def test_stored_events_count_toward_limits_but_are_not_refused() -> None:
    past = [counted("old1", "2027-07-01", past=True), counted("old2", "2027-07-02", past=True)]
    found = check_rules([counted("new", "2027-07-20")], RULES, past)
    assert [(v.rule, v.limit, v.count, v.event_ids, v.event.event_id) for v in found] == [
        ("max_events.month", "2", "3", ("old1", "old2", "new"), "new")
    ]
    assert found[0].message == (
        "program p: 3 events in 2027-07 on VEN CE-02, limit 2: old1, old2, new "
        "(2 already stored: old1, old2)"
    )


def test_stored_events_alone_over_a_limit_refuse_nothing() -> None:
    past = [counted(f"old{i}", f"2027-07-0{i}", past=True) for i in range(1, 5)]
    assert check_rules([], RULES, past) == []
    # July is over its limit with stored events only: only the season limit refuses "new".
    found = check_rules([counted("new", "2027-08-20")], RULES, past)
    assert [(v.rule, v.count, v.event.event_id) for v in found] == [
        ("max_events.season", "5", "new")
    ]


def test_other_seasons_and_vens_do_not_count() -> None:
    past = [
        counted("last-year", "2026-07-01", past=True),
        counted("other-ven", "2027-07-01", past=True, ven="CE-03"),
    ]
    new = [counted("a", "2027-07-05"), counted("b", "2027-07-06")]
    assert check_rules(new, RULES, past) == []


def test_re_applied_event_is_not_counted_twice() -> None:
    stored = counted("a", "2027-07-05", past=True)
    new = [counted("a", "2027-07-05"), counted("b", "2027-07-06")]
    assert check_rules(new, RULES, [stored]) == []


def test_refuse_violations_gives_the_same_message_for_other_sources() -> None:
    event = CountedEvent(
        "vtn-7", "p", frozenset({"CE-02"}), *_at("2027-05-01", 14), where="openadr vtn01"
    )
    with pytest.raises(PlanError) as caught:
        refuse_violations([event], RULES)
    assert [str(p) for p in caught.value.problems] == [
        "openadr vtn01: program p: event 'vtn-7' starts on 2027-05-01, "
        "outside the season 06-01..09-30"
    ]


def test_hours_on_the_fall_back_day_are_wall_clock() -> None:
    rules = {
        "p": ProgramRules(
            "p",
            NY,
            hours=(datetime.min.time().replace(hour=0), datetime.min.time().replace(hour=3)),
        )
    }
    # 00:00–03:00 local on 2027-11-07 is 4 h elapsed, but within the wall-clock hours.
    start = datetime(2027, 11, 7, 4, 0, tzinfo=UTC)
    event = CountedEvent("a", "p", frozenset({"CE-02"}), start, start + timedelta(hours=4))
    assert check_rules([event], rules) == []
    late = CountedEvent("b", "p", frozenset({"CE-02"}), start, start + timedelta(hours=5))
    assert [v.count for v in check_rules([late], rules)] == ["00:00–04:00"]


def test_wrapped_season_around_leap_day() -> None:
    season = Season((12, 1), (2, 29))
    assert season.contains(datetime(2027, 2, 28).date())
    assert not season.contains(datetime(2027, 3, 1).date())
    assert season.bounds(2026) == (datetime(2026, 12, 1).date(), datetime(2027, 2, 28).date())
    assert season.label(2027) == "2027/28"


def with_pre_condition(rules: str, lead: str | None) -> str:
    text = plan(rules, ("a", "2027-07-09 14:00", "2027-07-09 16:00"))
    if lead is None:
        return text
    pre = f"    pre_condition: {{duration: {lead}, offset: 2F}}\n"
    return text.replace("    program: p\n", "    program: p\n" + pre)


@pytest.mark.parametrize(
    ("rules", "lead", "expected"),
    [
        ("max_pre_condition: 1h", "90m", "event 'a' pre-conditions for 1h30m, limit 1h"),
        ("max_pre_condition: 0s", "15m", "event 'a' pre-conditions, which the program forbids"),
    ],
)
def test_max_pre_condition_caps_or_forbids_pre_conditioning(
    rules: str, lead: str, expected: str
) -> None:
    """``max_pre_condition`` (issue 15): the event's ``pre_condition.duration`` at most."""
    assert problems(with_pre_condition(rules, lead)) == [f"10:5: program p: {expected}"]


@pytest.mark.parametrize(
    ("rules", "lead"),
    [
        ("max_pre_condition: 1h", "1h"),
        ("max_pre_condition: 0s", None),  # no pre-conditioning: nothing to forbid
        ("max_duration: 4h", "6h"),  # no cap: any pre-conditioning the plan allows
    ],
)
def test_pre_conditioning_within_the_program(rules: str, lead: str | None) -> None:
    (event,) = events(with_pre_condition(rules, lead))
    assert event.dr_program == "p"


def test_a_bad_max_pre_condition_is_reported_at_the_key() -> None:
    assert problems(plan("max_pre_condition: 1x")) == [
        "8:32: DR program 'p': max_pre_condition: invalid duration '1x': "
        "write it like 90s, 5m, 24h or 1h30m"
    ]
