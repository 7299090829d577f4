"""Programs: one event per rule date, ids <program-id>-YYYYMMDD, skipped dates and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.support.plans import by_id, doc, events, problems

SUMMER = """\
programs:
  - id: weekday-peak
    name: Weekday peak
    rrule: FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
    from: 2026-06-01
    until: 2026-09-30
    start_time: "15:00"
    duration: 3h
"""


def dates(text: str) -> list[date]:
    return [datetime.strptime(e.event_id.rsplit("-", 1)[1], "%Y%m%d").date() for e in events(text)]


def test_each_date_becomes_an_event_with_a_dated_id() -> None:
    found = by_id(doc(SUMMER))
    first = found["weekday-peak-20260601"]
    assert first.start == datetime(2026, 6, 1, 19, 0, tzinfo=UTC)  # 15:00 EDT
    assert first.end - first.start == timedelta(hours=3)
    assert first.program_id == "weekday-peak"
    assert first.name == "Weekday peak"
    assert first.source == "plan.yaml:8"
    assert len(found) == 88  # weekdays from June to September 2026
    assert all(datetime.strptime(i[-8:], "%Y%m%d").weekday() < 5 for i in found)


def test_skip_dates_and_us_holidays_are_left_out() -> None:
    text = doc(SUMMER + "    skip_dates: [2026-08-14]\n    skip_holidays: US\n")
    found = set(dates(text))
    for skipped in (date(2026, 8, 14), date(2026, 6, 19), date(2026, 7, 3), date(2026, 9, 7)):
        assert skipped not in found  # extra day, Juneteenth, July 4 observed, Labor Day
    assert date(2026, 7, 2) in found
    assert len(found) == 88 - 4


def test_holidays_of_a_subdivision() -> None:
    body = SUMMER.replace("from: 2026-06-01", "from: 2026-04-01").replace(
        "until: 2026-09-30", "until: 2026-04-30"
    )
    us = set(dates(doc(body + "    skip_holidays: US\n")))
    massachusetts = set(dates(doc(body + "    skip_holidays: US-MA\n")))
    assert us - massachusetts == {date(2026, 4, 20)}  # Patriots' Day


def test_unknown_subdivision_is_a_problem() -> None:
    assert problems(doc(SUMMER + "    skip_holidays: US-XY\n")) == [
        "15:20: skip_holidays: the holidays package has no calendar for subdivision XY of US"
    ]


def test_rrule_forms() -> None:
    monthly = SUMMER.replace("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "RRULE:FREQ=MONTHLY;BYMONTHDAY=15")
    assert dates(doc(monthly)) == [date(2026, m, 15) for m in (6, 7, 8, 9)]
    fortnightly = SUMMER.replace("BYDAY=MO,TU,WE,TH,FR", "INTERVAL=2;BYDAY=MO")
    assert dates(doc(fortnightly))[:3] == [date(2026, 6, 1), date(2026, 6, 15), date(2026, 6, 29)]
    last_friday = SUMMER.replace("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=MONTHLY;BYDAY=-1FR")
    assert dates(doc(last_friday)) == [
        date(2026, 6, 26),
        date(2026, 7, 31),
        date(2026, 8, 28),
        date(2026, 9, 25),
    ]


def test_until_is_inclusive_and_one_day_programs_work() -> None:
    one = SUMMER.replace("until: 2026-09-30", "until: 2026-06-01")
    assert dates(doc(one)) == [date(2026, 6, 1)]


def test_a_rule_with_no_date_in_range_is_a_problem_never_a_silent_valid() -> None:
    weekend = SUMMER.replace("BYDAY=MO,TU,WE,TH,FR", "BYDAY=SA").replace(
        "until: 2026-09-30", "until: 2026-06-05"
    )
    assert problems(doc(weekend)) == [
        "10:12: rrule: 'FREQ=WEEKLY;BYDAY=SA' yields no date from 2026-06-01 until 2026-06-05"
    ]
    never = SUMMER.replace(
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"
    )
    assert problems(doc(never)) == [
        "10:12: rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30' yields no date "
        "from 2026-06-01 until 2026-09-30"
    ]


def test_a_repeated_skip_date_is_skipped_once_and_keeps_the_program() -> None:
    daily = SUMMER.replace("BYDAY=MO,TU,WE,TH,FR", "BYDAY=MO").replace(
        "until: 2026-09-30", "until: 2026-06-30"
    )
    once = dates(doc(daily + "    skip_dates: [2026-06-08]\n"))
    twice = dates(doc(daily + "    skip_dates: [2026-06-08, 2026-06-08]\n"))
    assert (
        once == twice == [date(2026, 6, 1), date(2026, 6, 15), date(2026, 6, 22), date(2026, 6, 29)]
    )


def test_a_program_whose_every_date_is_skipped_is_a_problem() -> None:
    one_day = SUMMER.replace("until: 2026-09-30", "until: 2026-06-01")
    assert problems(doc(one_day + "    skip_dates: [2026-06-01]\n")) == [
        "15:17: every date of the program from 2026-06-01 until 2026-06-01 is skipped: "
        "no event left"
    ]


def test_program_keys_win_over_defaults_and_lists_are_replaced() -> None:
    body = SUMMER + "    vtn_id: vtn02\n    targets: [{ven: CE-09}]\n"
    event = by_id(doc(body))["weekday-peak-20260601"]
    assert event.vtn_id == "vtn02"
    assert [t.ven_id for t in event.targets] == ["CE-09"]  # replaced, not CE-02 + CE-09
    assert [s.name for s in event.signals] == ["SIMPLE"]  # from defaults


def test_daily_events_longer_than_a_day_overlap_themselves() -> None:
    body = (
        SUMMER.replace("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=DAILY")
        .replace("duration: 3h", "duration: 25h")
        .replace("until: 2026-09-30", "until: 2026-06-02")
    )
    assert problems(doc(body)) == [
        "8:5: event 'weekday-peak-20260602' (2026-06-02 19:00–2026-06-03 20:00 UTC) overlaps "
        "event 'weekday-peak-20260601' (2026-06-01 19:00–2026-06-02 20:00 UTC, plan.yaml:8:5) "
        "on VEN CE-02"
    ]


def test_too_many_dates_is_a_problem() -> None:
    body = (
        SUMMER.replace("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=DAILY")
        .replace("until: 2026-09-30", "until: 2056-09-30")
        .replace("duration: 3h", "duration: 1h")
    )
    assert problems(doc(body)) == [
        "10:12: rrule: yields more than 10000 dates between 2026-06-01 and 2056-09-30; "
        "split the program"
    ]
