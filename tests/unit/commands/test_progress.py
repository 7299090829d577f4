"""The demo's tables and its events: what a person sees, and that it fits in ~30 s."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console

from scheduler.commands.demo import DEADLINE, demo_events
from scheduler.commands.demo_setup import SUBMIT_LEAD
from scheduler.commands.progress import EventRow, events_table, timeline_table
from scheduler.domain.lifecycle import Source, Status, Transition
from tests.support.fakes.engine import T0


def rendered(renderable: object) -> str:
    console = Console(record=True, width=160)
    console.print(renderable)
    return console.export_text()


def test_live_table_shows_status_expectation_and_time_to_start() -> None:
    row = EventRow(
        "demo-complete",
        "demo-complete",
        Status.PENDING,
        T0 + timedelta(seconds=5),
        T0 + timedelta(seconds=10),
        Status.COMPLETED,
        "runs its window",
    )
    text = rendered(events_table([row], T0, "events"))
    assert "demo-complete" in text
    assert "pending" in text
    assert "completed" in text
    assert "(in 5s)" in text


def test_timeline_lists_each_transition_with_source_and_detail() -> None:
    moves = [
        Transition(
            "ev", Status.PLANNED, Status.SUBMITTING, T0, Source.CLOCK, "submitting as request ev"
        ),
        Transition("ev", Status.PENDING, Status.PENDING, T0, Source.PLAN, "re-submitting as ev-r2"),
    ]
    text = rendered(timeline_table(moves, "timeline"))
    assert "submitting as request ev" in text
    assert "re-submitting as ev-r2" in text
    assert "clock" in text


def test_demo_events_fit_the_demo_and_expect_the_right_ends() -> None:
    events = demo_events(T0)
    assert {d.event.event_id: d.expected for d in events} == {
        "demo-complete": Status.COMPLETED,
        "demo-remote": Status.CANCELED,
        "demo-change": Status.COMPLETED,
    }
    for d in events:
        assert d.event.start - SUBMIT_LEAD > T0, "submitted by the daemon, not before it starts"
        assert d.event.end - T0 <= DEADLINE - timedelta(seconds=15)
