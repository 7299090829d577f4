"""The event lifecycle table (scheduler.domain.lifecycle): DESIGN.md "Event lifecycle"."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.lifecycle import (
    API_STATUS,
    TERMINAL,
    EditAction,
    Source,
    Status,
    Transition,
    can_move,
    edit_action,
    transition,
)

AT = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
S = Status
END = {S.CANCELED, S.FAILED}  # reachable from any non-terminal status

#: Every allowed move, written out: forward along the path (skips allowed), or to an end.
ALLOWED: dict[Status, set[Status]] = {
    S.PLANNED: {S.SUBMITTING, S.PENDING, S.STANDBY, S.ACTIVE, S.COMPLETED, *END},
    S.SUBMITTING: {S.PENDING, S.STANDBY, S.ACTIVE, S.COMPLETED, *END},
    S.PENDING: {S.STANDBY, S.ACTIVE, S.COMPLETED, *END},
    S.STANDBY: {S.ACTIVE, S.COMPLETED, *END},
    S.ACTIVE: {S.COMPLETED, *END},
    S.COMPLETED: set(),
    S.CANCELED: set(),
    S.FAILED: set(),
}

#: Rank on the forward path; terminal statuses come last.
RANK = {
    S.PLANNED: 0,
    S.SUBMITTING: 1,
    S.PENDING: 2,
    S.STANDBY: 3,
    S.ACTIVE: 4,
    S.COMPLETED: 5,
    S.CANCELED: 5,
    S.FAILED: 5,
}


def test_table_covers_every_status() -> None:
    assert set(ALLOWED) == set(Status)


@pytest.mark.parametrize(
    ("current", "new"), list(itertools.product(Status, Status)), ids=lambda s: str(s)
)
def test_every_pair_of_statuses(current: Status, new: Status) -> None:
    allowed = new in ALLOWED[current]
    assert can_move(current, new) is allowed
    result = transition("ev-1", current, new, at=AT, source=Source.API, detail="polled")
    if allowed:
        assert result == Transition("ev-1", current, new, AT, Source.API, "polled")
    else:
        assert result is None


@pytest.mark.parametrize("status", list(Status))
def test_no_status_moves_to_itself(status: Status) -> None:
    assert transition("ev", status, status, at=AT, source=Source.CLOCK) is None


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_statuses_are_sticky(status: Status) -> None:
    assert status.is_terminal
    assert not any(can_move(status, other) for other in Status)


def test_terminal_set() -> None:
    assert {s for s in Status if s.is_terminal} == {S.COMPLETED, S.CANCELED, S.FAILED}


def test_api_numbers() -> None:
    assert API_STATUS == {0: S.PENDING, 1: S.STANDBY, 2: S.ACTIVE, 3: S.COMPLETED, 9: S.CANCELED}


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.PLANNED, EditAction.UPDATE),
        (S.SUBMITTING, EditAction.DELETE_RESUBMIT),
        (S.PENDING, EditAction.DELETE_RESUBMIT),
        (S.STANDBY, EditAction.REFUSE),
        (S.ACTIVE, EditAction.REFUSE),
        (S.COMPLETED, EditAction.NONE),
        (S.CANCELED, EditAction.NONE),
        (S.FAILED, EditAction.NONE),
    ],
)
def test_edit_action_per_status(status: Status, action: EditAction) -> None:
    assert edit_action(status) is action


@given(st.lists(st.sampled_from(list(Status)), max_size=30))
def test_any_observed_sequence_gives_a_monotone_path(observed: list[Status]) -> None:
    current, path = S.PLANNED, []
    for seen in observed:
        step = transition("ev", current, seen, at=AT, source=Source.API)
        if step is not None:
            assert step.from_status == current
            path.append(step)
            current = step.to_status
    ranks = [RANK[S.PLANNED]] + [RANK[t.to_status] for t in path]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks), "strictly forward"
    terminals = [t for t in path if t.to_status.is_terminal]
    assert len(terminals) <= 1
    if terminals:
        assert path[-1] is terminals[0]
    assert current == (path[-1].to_status if path else S.PLANNED)
