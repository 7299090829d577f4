"""DST: gaps and folds are errors naming date and zone, unless the plan's dst policy resolves them.

America/New_York 2026: clocks go forward 2026-03-08 02:00 EST -> 03:00 EDT
(07:00 UTC) and back 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC).
Europe/London 2026: forward 2026-03-29 01:00 GMT -> 02:00 BST (01:00 UTC),
back 2026-10-25 02:00 BST -> 01:00 GMT (01:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.plans import by_id, problems

BASE = """\
timezone: {zone}
{dst}defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-02}}]
  signals: [{{name: SIMPLE, targets: [x-DEVICE_TV]}}]
events:
  - id: e1
    start: {start}
    end: {end}
"""


def plan(start: str, end: str, zone: str = "America/New_York", dst: str = "") -> str:
    return BASE.format(zone=zone, dst=f"dst: {dst}\n" if dst else "", start=start, end=end)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_new_york_gap_is_an_error_naming_date_and_zone() -> None:
    assert problems(plan("2026-03-08 02:30", "2026-03-08 05:00")) == [
        "8:12: start: local time 2026-03-08 02:30 in America/New_York does not exist "
        "(DST gap, clocks go forward); set dst.gap to shift_forward"
    ]


def test_new_york_fold_is_an_error_naming_date_and_zone() -> None:
    assert problems(plan("2026-10-31 23:00", "2026-11-01 01:30")) == [
        "9:10: end: local time 2026-11-01 01:30 in America/New_York happens twice "
        "(DST fold, clocks go back); set dst.fold to earlier or later"
    ]


def test_gap_shift_forward_starts_when_the_clocks_change() -> None:
    text = plan("2026-03-08 02:30", "2026-03-08 05:00", dst="{gap: shift_forward}")
    event = by_id(text)["e1"]
    assert event.start == utc(2026, 3, 8, 7, 0)  # 03:00 EDT, the first instant after the gap
    assert event.end == utc(2026, 3, 8, 9, 0)  # 05:00 EDT


@pytest.mark.parametrize(
    ("fold", "expected"), [("earlier", utc(2026, 11, 1, 5, 30)), ("later", utc(2026, 11, 1, 6, 30))]
)
def test_fold_policy_picks_one_of_the_two_instants(fold: str, expected: datetime) -> None:
    text = plan("2026-11-01 01:30", "2026-11-01 04:00", dst=f"{{fold: {fold}}}")
    assert by_id(text)["e1"].start == expected  # 01:30 EDT (-4) or 01:30 EST (-5)


def test_fold_policy_does_not_excuse_a_gap() -> None:
    found = problems(plan("2026-03-08 02:30", "2026-03-08 05:00", dst="{fold: later}"))
    assert found == [
        "9:12: start: local time 2026-03-08 02:30 in America/New_York does not exist "
        "(DST gap, clocks go forward); set dst.gap to shift_forward"
    ]


def test_an_event_may_set_its_own_policy_over_the_plan() -> None:
    text = plan("2026-11-01 01:30", "2026-11-01 04:00", dst="{fold: earlier}")
    text += "    dst: {fold: later}\n"
    assert by_id(text)["e1"].start == utc(2026, 11, 1, 6, 30)


def test_an_instant_with_offset_needs_no_policy() -> None:
    text = plan("2026-11-01T01:30:00-05:00", "2026-11-01T08:00:00Z")
    event = by_id(text)["e1"]
    assert (event.start, event.end) == (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 8, 0))


def test_london_gap_and_fold() -> None:
    assert problems(plan("2026-03-29 01:30", "2026-03-29 04:00", zone="Europe/London")) == [
        "8:12: start: local time 2026-03-29 01:30 in Europe/London does not exist "
        "(DST gap, clocks go forward); set dst.gap to shift_forward"
    ]
    assert problems(plan("2026-10-25 01:15", "2026-10-25 04:00", zone="Europe/London")) == [
        "8:12: start: local time 2026-10-25 01:15 in Europe/London happens twice "
        "(DST fold, clocks go back); set dst.fold to earlier or later"
    ]
    shifted = plan(
        "2026-03-29 01:30",
        "2026-03-29 04:00",
        zone="Europe/London",
        dst="{gap: shift_forward, fold: later}",
    )
    assert by_id(shifted)["e1"].start == utc(2026, 3, 29, 1, 0)  # 02:00 BST
    later = plan("2026-10-25 01:15", "2026-10-25 04:00", zone="Europe/London", dst="{fold: later}")
    assert by_id(later)["e1"].start == utc(2026, 10, 25, 1, 15)  # 01:15 GMT


def test_local_times_around_the_change_are_plain() -> None:
    """Just outside the gap: 01:59 is EST, 03:00 is EDT."""
    event = by_id(plan("2026-03-08 01:59", "2026-03-08 03:00"))["e1"]
    assert (event.start, event.end) == (utc(2026, 3, 8, 6, 59), utc(2026, 3, 8, 7, 0))


PROGRAM = """\
timezone: America/New_York
{dst}defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-02}}]
  signals: [{{name: SIMPLE, targets: [x-DEVICE_TV]}}]
programs:
  - id: daily
    rrule: FREQ=DAILY
    from: {first}
    until: {last}
    start_time: "{clock}"
    duration: 1h
"""


def program(first: str, last: str, clock: str, dst: str = "") -> str:
    return PROGRAM.format(first=first, last=last, clock=clock, dst=f"dst: {dst}\n" if dst else "")


def test_program_spanning_spring_forward_keeps_its_local_start_time() -> None:
    events = by_id(program("2026-03-07", "2026-03-09", "15:00"))
    assert [(e.start, e.end) for e in events.values()] == [
        (utc(2026, 3, 7, 20, 0), utc(2026, 3, 7, 21, 0)),  # 15:00 EST
        (utc(2026, 3, 8, 19, 0), utc(2026, 3, 8, 20, 0)),  # 15:00 EDT
        (utc(2026, 3, 9, 19, 0), utc(2026, 3, 9, 20, 0)),
    ]


def test_program_spanning_fall_back_keeps_its_local_start_time() -> None:
    events = by_id(program("2026-10-31", "2026-11-02", "08:00"))
    assert [e.start for e in events.values()] == [
        utc(2026, 10, 31, 12, 0),
        utc(2026, 11, 1, 13, 0),
        utc(2026, 11, 2, 13, 0),
    ]


def test_program_duration_is_elapsed_time_across_the_change() -> None:
    """00:30 EDT + 3h on the fall-back day ends 3 real hours later (02:30 EST on the wall)."""
    text = program("2026-11-01", "2026-11-01", "00:30").replace("duration: 1h", "duration: 3h")
    event = by_id(text)["daily-20261101"]
    assert event.start == utc(2026, 11, 1, 4, 30)  # 00:30 EDT
    assert event.end == utc(2026, 11, 1, 7, 30)  # 02:30 EST


def test_program_occurrence_in_a_gap_names_the_date() -> None:
    assert problems(program("2026-03-07", "2026-03-09", "02:30")) == [
        "11:17: program 'daily': local time 2026-03-08 02:30 in America/New_York does not "
        "exist (DST gap, clocks go forward); set dst.gap to shift_forward"
    ]


def test_program_occurrence_in_a_fold_names_the_date() -> None:
    assert problems(program("2026-10-30", "2026-11-02", "01:30")) == [
        "11:17: program 'daily': local time 2026-11-01 01:30 in America/New_York happens "
        "twice (DST fold, clocks go back); set dst.fold to earlier or later"
    ]


def test_program_dst_policy_resolves_its_occurrences() -> None:
    text = program("2026-03-07", "2026-03-09", "02:30", dst="{gap: shift_forward}")
    assert [e.start for e in by_id(text).values()] == [
        utc(2026, 3, 7, 7, 30),
        utc(2026, 3, 8, 7, 0),
        utc(2026, 3, 9, 6, 30),
    ]
    per_program = program("2026-10-31", "2026-11-01", "01:30") + "    dst: {fold: later}\n"
    assert by_id(per_program)["daily-20261101"].start == utc(2026, 11, 1, 6, 30)
