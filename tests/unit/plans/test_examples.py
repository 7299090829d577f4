"""The example plans in config/plans/ load cleanly and mean what their comments say."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from scheduler.domain.events import TempUnit
from scheduler.plans import load_plans

PLANS = Path(__file__).parents[3] / "config" / "plans"
ONEOFF, SUMMER = PLANS / "example-oneoff.yaml", PLANS / "summer-weekdays.yaml"


def test_one_off_example() -> None:
    (event,) = load_plans([ONEOFF])
    assert event.event_id == "2026-07-18-heatwave"
    assert (event.start, event.end) == (
        datetime(2026, 7, 18, 18, 0, tzinfo=UTC),
        datetime(2026, 7, 18, 22, 0, tzinfo=UTC),
    )
    load_control = event.load_control()
    assert load_control is not None
    assert (load_control.signal_id, load_control.unit) == ("1", TempUnit.C)
    assert [t.ven_id for t in event.targets] == ["CE-02", "CE-01"]


def test_summer_weekdays_example_skips_holidays_and_keeps_local_time() -> None:
    events = {e.event_id: e for e in load_plans([SUMMER])}
    summer = [e for e in events.values() if e.program_id == "weekday-peak"]
    days = {e.start.date() for e in summer}
    assert date(2026, 7, 3) not in days  # Independence Day (observed)
    assert date(2026, 9, 7) not in days  # Labor Day
    assert date(2026, 8, 14) not in days  # skip_dates
    assert len(summer) == 88 - 4  # June 19 too
    assert events["autumn-peak-20261030"].start == datetime(2026, 10, 30, 19, 0, tzinfo=UTC)
    assert events["autumn-peak-20261102"].start == datetime(2026, 11, 2, 20, 0, tzinfo=UTC)


def test_both_examples_load_together() -> None:
    assert len(load_plans([ONEOFF, SUMMER])) == 1 + len(load_plans([SUMMER]))
