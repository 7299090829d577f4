"""Adaptive polling: slow far from the window, fast near start and end, none when terminal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scheduler.domain.lifecycle import Status
from scheduler.engine.polling import (
    FAST,
    MAX_AHEAD,
    NEAR,
    POLLED,
    SLOW,
    next_poll_at,
    poll_interval,
)

START = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
END = START + timedelta(hours=4)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (START - timedelta(hours=20), SLOW),
        (START - timedelta(minutes=30), timedelta(minutes=2)),
        (START - timedelta(minutes=5), timedelta(seconds=30)),
        (START - timedelta(seconds=59), FAST),
        (START + timedelta(seconds=30), FAST),
        (START + timedelta(hours=2), timedelta(seconds=60)),
        (END - timedelta(seconds=10), FAST),
        (END + timedelta(seconds=50), FAST),
        (END + timedelta(hours=3), SLOW),
    ],
)
def test_interval_by_distance_to_the_window(now: datetime, expected: timedelta) -> None:
    assert poll_interval(now, START, END, Status.PENDING) == expected


@pytest.mark.parametrize(
    ("now", "end", "expected"),
    [
        (START - timedelta(seconds=10), END, FAST),  # active early: as any status
        (START, END, NEAR),  # seen active at the start: its change is seen
        (START + timedelta(seconds=30), END, NEAR),
        (START + timedelta(seconds=60), END, NEAR),
        (START + timedelta(minutes=5), END, NEAR),
        (START + timedelta(hours=2), END, timedelta(seconds=60)),
        (END - timedelta(seconds=10), END, FAST),  # completed is expected there
        (END + timedelta(seconds=50), END, FAST),
        (START + timedelta(seconds=10), START + timedelta(seconds=60), FAST),  # near its end
    ],
)
def test_an_active_event_is_polled_fast_near_its_end_only(
    now: datetime, end: datetime, expected: timedelta
) -> None:
    """A cancel at the DR service is seen within NEAR of it after the start (module docstring)."""
    assert poll_interval(now, START, end, Status.ACTIVE) == expected


def test_seen_active_at_the_start_next_polled_after_near() -> None:
    """A system-wide start: 200 events polled every 30 s after it, not every 5 s."""
    seen = START + timedelta(milliseconds=80)
    assert next_poll_at(seen, seen, START, END, Status.ACTIVE) == seen + NEAR
    standby = START - timedelta(seconds=3)
    assert next_poll_at(standby, standby, START, END, Status.STANDBY) == START


@pytest.mark.parametrize(
    ("last", "status", "expected"),
    [
        (START - timedelta(seconds=8), Status.STANDBY, START),  # not at START - 3 s
        (START - timedelta(seconds=10), Status.STANDBY, START - timedelta(seconds=5)),
        (START - timedelta(seconds=40), Status.PENDING, START - timedelta(seconds=35)),
        (END - timedelta(seconds=9), Status.ACTIVE, END),  # not at END - 4 s
        (END - timedelta(seconds=12), Status.ACTIVE, END - timedelta(seconds=7)),
        (START + timedelta(seconds=2), Status.STANDBY, START + timedelta(seconds=7)),
    ],
)
def test_a_poll_due_just_before_a_change_waits_for_it(
    last: datetime, status: Status, expected: datetime
) -> None:
    """The status changes at the start and the end: a poll just before sees the old one."""
    assert next_poll_at(last, last, START, END, status) == expected


def test_the_start_poll_of_a_window_shorter_than_fast_stays_at_the_start() -> None:
    """Moved to the end, it would never see ``active`` (and control would never start)."""
    end = START + timedelta(seconds=3)
    last = START - timedelta(seconds=4)
    assert next_poll_at(last, last, START, end, Status.STANDBY) == START
    assert next_poll_at(START, START, START, end, Status.ACTIVE) == end


@pytest.mark.parametrize(
    "status", [Status.PLANNED, Status.SUBMITTING, Status.COMPLETED, Status.CANCELED, Status.FAILED]
)
def test_no_polling_outside_submitted_statuses(status: Status) -> None:
    assert poll_interval(START, START, END, status) is None
    assert next_poll_at(START, START, START, END, status) is None


def test_never_polled_is_due_at_once() -> None:
    now = START - timedelta(hours=10)
    assert next_poll_at(None, now, START, END, Status.PENDING) == now


def test_slow_poll_does_not_skip_the_fast_zone() -> None:
    last = START - timedelta(minutes=65)
    due = next_poll_at(last, last, START, END, Status.PENDING)
    assert due == START - timedelta(hours=1)


instants = st.integers(min_value=-3 * 86400, max_value=3 * 86400).map(
    lambda s: START + timedelta(seconds=s)
)
durations = st.integers(min_value=1, max_value=86400).map(lambda s: timedelta(seconds=s))
polled = st.sampled_from(sorted(POLLED))
near_start = st.integers(min_value=-10, max_value=10).map(lambda s: START + timedelta(seconds=s))
#: Windows around ``FAST`` (the end tests' paced windows are seconds long).
short_windows = st.integers(min_value=1, max_value=8).map(lambda s: timedelta(seconds=s))


@given(last=instants, length=durations, status=polled)
def test_next_poll_is_after_the_last_and_at_most_slow(
    last: datetime, length: timedelta, status: Status
) -> None:
    due = next_poll_at(last, last, START, START + length, status)
    assert due is not None
    assert last < due <= last + SLOW


@given(offset=st.integers(min_value=-60, max_value=60), length=durations, status=polled)
def test_fast_within_a_minute_of_start_or_end(
    offset: int, length: timedelta, status: Status
) -> None:
    """Fast near the end; near the start too, unless the start's change was seen."""
    end = START + length
    at_end = end + timedelta(seconds=offset)
    assert poll_interval(at_end, START, end, status) == FAST
    at_start = START + timedelta(seconds=offset)
    seen = status == Status.ACTIVE and offset >= 0 and end - at_start > timedelta(minutes=1)
    assert poll_interval(at_start, START, end, status) == (NEAR if seen else FAST)


@given(last=instants, length=durations)
def test_an_active_event_is_polled_at_least_every_near_in_its_window(
    last: datetime, length: timedelta
) -> None:
    """A cancel at the DR service is seen at most NEAR after it in the first 10 minutes."""
    end = START + length
    if not START <= last <= min(end, START + timedelta(minutes=10)):
        return
    due = next_poll_at(last, last, START, end, Status.ACTIVE)
    assert due is not None
    assert due - last <= NEAR


aheads = st.integers(min_value=0, max_value=800).map(lambda ms: timedelta(milliseconds=ms))


@example(
    last=START - timedelta(seconds=3),
    length=timedelta(seconds=3),
    status=Status.STANDBY,
    ahead=timedelta(0),
)
@given(
    last=st.one_of(near_start, instants),
    length=st.one_of(short_windows, durations),
    status=polled,
    ahead=aheads,
)
def test_no_poll_is_due_in_the_fast_before_the_start_or_the_end(
    last: datetime, length: timedelta, status: Status, ahead: timedelta
) -> None:
    """Except the start's own poll, which leaves its way ahead of the start (at most 0.5 s)."""
    end = START + length
    due = next_poll_at(last, last, START, end, status, ahead)
    assert due is not None
    assert last < due
    early = START - min(ahead, MAX_AHEAD)
    for change in (START, end):
        assert due in (START, early, end) or not (last < change and change - FAST < due < change)
        assert not last < change < due, "a poll never goes past a change"


WAY = timedelta(milliseconds=30)


@pytest.mark.parametrize(
    ("last", "status", "expected"),
    [
        (START - FAST, Status.STANDBY, START - WAY),  # the start's poll, its way ahead
        (START - timedelta(seconds=2), Status.STANDBY, START - WAY),
        (START - WAY, Status.STANDBY, START),  # it left early and saw standby: once more
        (START - timedelta(milliseconds=10), Status.STANDBY, START),
        (START - WAY, Status.ACTIVE, START + NEAR),  # it saw active: the start's change
        (START - MAX_AHEAD, Status.ACTIVE, START + NEAR),
        (START - timedelta(seconds=3), Status.ACTIVE, START - WAY),  # active early: as any
        (END - FAST, Status.ACTIVE, END),  # the end's poll is not moved
    ],
)
def test_the_start_s_poll_leaves_its_way_ahead_once(
    last: datetime, status: Status, expected: datetime
) -> None:
    assert next_poll_at(last, last, START, END, status, WAY) == expected


def test_the_way_ahead_is_bounded() -> None:
    last = START - FAST
    assert next_poll_at(last, last, START, END, Status.STANDBY, timedelta(seconds=4)) == (
        START - MAX_AHEAD
    )
    assert next_poll_at(last, last, START, END, Status.STANDBY, -WAY) == START


@given(a=instants, b=instants)
def test_closer_to_start_never_polls_slower(a: datetime, b: datetime) -> None:
    """Approaching the start from far away, the interval only shrinks."""
    early, late = sorted((a, b))
    if late > START:
        return
    far_end = START + timedelta(days=10)
    slow = poll_interval(early, START, far_end, Status.PENDING)
    fast = poll_interval(late, START, far_end, Status.PENDING)
    assert slow is not None
    assert fast is not None
    assert fast <= slow
