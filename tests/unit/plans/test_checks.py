"""Cross-event checks: overlaps per VEN (sort and sweep) and duplicate ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.plans.checks import Sourced, duplicate_ids, overlaps
from scheduler.plans.context import Located

T0 = datetime(2026, 7, 1, tzinfo=UTC)
SIGNALS = (Signal("1", "SIMPLE", "level", ("T",)),)


def located(
    event_id: str, start: int, end: int, vens: tuple[str, ...] = ("V",), line: int = 1
) -> Sourced:
    """An event from minute ``start`` to minute ``end`` after T0."""
    event = PlanEvent(
        event_id=event_id,
        vtn_id="vtn",
        start=T0 + timedelta(minutes=start),
        end=T0 + timedelta(minutes=end),
        signals=SIGNALS,
        targets=tuple(EventTarget(v) for v in vens),
    )
    return (Located(event, line, 5), "p.yaml")


def flagged(events: list[Sourced]) -> set[str]:
    return {p.message.split("'")[1] for p in overlaps(events)}


def test_touching_windows_do_not_overlap() -> None:
    assert overlaps([located("a", 0, 60), located("b", 60, 120)]) == []


def test_different_vens_do_not_overlap() -> None:
    assert overlaps([located("a", 0, 60, ("V1",)), located("b", 0, 60, ("V2",))]) == []


def test_overlap_names_both_events_their_windows_positions_and_the_ven() -> None:
    (problem,) = overlaps([located("a", 0, 60, line=3), located("b", 30, 90, line=8)])
    assert (problem.line, problem.col) == (8, 5)
    assert problem.message == (
        "event 'b' (2026-07-01 00:30–01:30 UTC) overlaps event 'a' "
        "(2026-07-01 00:00–01:00 UTC, p.yaml:3:5) on VEN V"
    )


def test_an_event_inside_a_long_one_is_found_past_shorter_ones() -> None:
    events = [located("long", 0, 600), located("short", 10, 20), located("later", 300, 310)]
    assert flagged(events) == {"short", "later"}


def test_events_sharing_one_of_several_vens_overlap_on_that_ven() -> None:
    (problem,) = overlaps([located("a", 0, 60, ("V1", "V2")), located("b", 0, 60, ("V2", "V3"))])
    assert problem.message.endswith("on VEN V2")


def brute_force(events: list[Sourced]) -> set[str]:
    """Each event that overlaps one ordered before it (by start, then id) on a shared VEN."""
    found = set()
    for located_a, _ in events:
        a = located_a.event
        for located_b, _ in events:
            b = located_b.event
            before = (b.start, b.event_id) < (a.start, a.event_id)
            if before and a.ven_ids & b.ven_ids and a.start < b.end and b.start < a.end:
                found.add(a.event_id)
    return found


windows = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 60), st.sets(st.sampled_from("XYZ"), min_size=1)),
    max_size=25,
)


@given(windows)
def test_sweep_flags_exactly_the_events_brute_force_finds(
    spec: list[tuple[int, int, set[str]]],
) -> None:
    events = [located(f"e{i}", s, s + d, tuple(sorted(v))) for i, (s, d, v) in enumerate(spec)]
    assert flagged(events) == brute_force(events)


def test_twenty_thousand_events_are_checked_quickly() -> None:
    """20,000 back-to-back events on one VEN plus one intruder: O(n log n), well under a second."""
    events = [located(f"e{i:05d}", i * 60, i * 60 + 60) for i in range(20_000)]
    events.append(located("intruder", 600_000 + 30, 600_000 + 45))
    began = time.perf_counter()
    found = flagged(events)
    elapsed = time.perf_counter() - began
    assert found == {"intruder"}
    assert elapsed < 1.0, f"overlap check took {elapsed:.2f} s"


def test_duplicate_ids_name_the_first_position() -> None:
    events = [located("a", 0, 10, line=2), located("a", 20, 30, line=9), located("b", 40, 50)]
    (problem,) = duplicate_ids(events)
    assert (problem.line, problem.message) == (9, "duplicate event id 'a' (also at p.yaml:2:5)")
