"""What applying a plan would do to the stored events: pure, ``now`` is an argument.

The files applied are the whole plan: an event stored but absent from them
is removed. DESIGN "Removing or changing an event" decides per status:

- ``planned``: a change updates the row, a removal deletes it;
- ``submitting``/``pending``: a change becomes a new revision (the daemon
  deletes the request and re-submits), a removal a cancel request (the
  daemon deletes the request);
- ``standby`` and later: the DR service can no longer delete the request, so
  a change or removal is refused (the whole apply is) with what to do instead;
- terminal: nothing can change any more; the difference is only reported.

A new event whose window is already over is not stored (it could only fail).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import EditAction, Status, edit_action
from scheduler.domain.request_ids import is_reserved_id
from scheduler.errors import PlanError, Problem


@dataclass(frozen=True)
class StoredEvent:
    """What the diff needs to know of a stored event."""

    event_id: str
    status: Status
    fingerprint: str
    source: str
    cancel_requested: bool = False


class Change(StrEnum):
    ADD = "add"
    UPDATE = "update"  # planned: new content, same request id
    RESUBMIT = "resubmit"  # pending: new revision, the daemon deletes and re-submits
    DELETE = "delete"  # planned and removed: the row goes
    CANCEL = "cancel"  # pending and removed: a cancel request for the daemon
    PAST = "past"  # new but already over: not stored
    IGNORED = "ignored"  # terminal or being canceled: nothing to do


@dataclass(frozen=True)
class Item:
    change: Change
    event_id: str
    status: Status | None = None  # the stored status (None for a new event)
    event: PlanEvent | None = None  # the planned content (None for a removal)
    note: str = ""


@dataclass(frozen=True)
class PlanDiff:
    items: tuple[Item, ...] = ()
    unchanged: int = 0
    refused: tuple[Problem, ...] = field(default=())

    def of(self, *changes: Change) -> list[Item]:
        return [item for item in self.items if item.change in changes]

    @property
    def writes(self) -> list[Item]:
        """The items that change the database."""
        return [i for i in self.items if i.change not in (Change.PAST, Change.IGNORED)]

    @property
    def is_empty(self) -> bool:
        return not self.writes

    def raise_refused(self) -> None:
        if self.refused:
            raise PlanError(self.refused)

    def counts(self) -> dict[str, int]:
        counts = {change.value: len(self.of(change)) for change in Change}
        counts["unchanged"] = self.unchanged
        return counts


def diff_plan(
    stored: Mapping[str, StoredEvent], planned: Iterable[PlanEvent], now: datetime
) -> PlanDiff:
    items: list[Item] = []
    refused: list[Problem] = []
    unchanged = 0
    seen: set[str] = set()
    for event in planned:
        seen.add(event.event_id)
        old = stored.get(event.event_id)
        if old is None and is_reserved_id(event.event_id):
            refused.append(_problem(event.source, _reserved_message(event.event_id)))
        elif old is None:
            items.append(_new(event, now))
        elif old.fingerprint == event.fingerprint():
            unchanged += 1
        else:
            _changed(old, event, items, refused)
    for old in stored.values():
        if old.event_id not in seen:
            _removed(old, items, refused)
    return PlanDiff(tuple(items), unchanged, tuple(refused))


def _reserved_message(event_id: str) -> str:
    """Every source's events pass here (plans, the CLI, an OpenADR VTN): no new event may
    take an id a re-submission's request would carry (issue 10, bug 8)."""
    return (
        f"event id {event_id!r} ends like a re-submission's request id (-r<N>), "
        "which could be another event's request: choose another id"
    )


def _new(event: PlanEvent, now: datetime) -> Item:
    if event.end <= now:
        return Item(Change.PAST, event.event_id, None, event, "window already over: not stored")
    return Item(Change.ADD, event.event_id, None, event)


def _changed(old: StoredEvent, event: PlanEvent, items: list[Item], refused: list[Problem]) -> None:
    if old.cancel_requested:
        items.append(_ignored(old, event, "cancel requested: the change is not applied"))
        return
    match edit_action(old.status):
        case EditAction.UPDATE:
            items.append(Item(Change.UPDATE, old.event_id, old.status, event))
        case EditAction.DELETE_RESUBMIT:
            note = "the daemon deletes the request and re-submits this revision"
            items.append(Item(Change.RESUBMIT, old.event_id, old.status, event, note))
        case EditAction.REFUSE:
            refused.append(
                _problem(
                    event.source,
                    f"event {old.event_id} is {old.status}: the DR service can no longer "
                    "change it; revert the change, or cancel it with "
                    f"`drsched events cancel {old.event_id}`",
                )
            )
        case EditAction.NONE:
            items.append(_ignored(old, event, f"already {old.status}: the change has no effect"))


def _removed(old: StoredEvent, items: list[Item], refused: list[Problem]) -> None:
    if old.status.is_terminal or old.cancel_requested:
        return
    match edit_action(old.status):
        case EditAction.UPDATE:
            items.append(Item(Change.DELETE, old.event_id, old.status))
        case EditAction.DELETE_RESUBMIT:
            note = "the daemon deletes the request at the DR service"
            items.append(Item(Change.CANCEL, old.event_id, old.status, None, note))
        case _:
            refused.append(
                _problem(
                    old.source,
                    f"event {old.event_id} was removed from the plan but is {old.status}: "
                    "the DR service can no longer delete it; put it back, or cancel it "
                    f"with `drsched events cancel {old.event_id}` first",
                )
            )


def _ignored(old: StoredEvent, event: PlanEvent, note: str) -> Item:
    return Item(Change.IGNORED, old.event_id, old.status, event, note)


def _problem(source: str, message: str) -> Problem:
    """A problem at an event's ``file:line`` (its source), or without a position."""
    file, _, line = source.rpartition(":")
    if file and line.isdigit():
        return Problem(file, int(line), 1, message)
    return Problem(source or "plan", 0, 0, message)


def describe(diff: PlanDiff) -> str:
    """One line for logs and the CLI, e.g. ``2 added, 1 changed, 30 unchanged``."""
    if diff.is_empty:
        text = f"no changes ({diff.unchanged} events unchanged)"
    else:
        parts = [
            (len(diff.of(Change.ADD)), "added"),
            (len(diff.of(Change.UPDATE, Change.RESUBMIT)), "changed"),
            (len(diff.of(Change.DELETE, Change.CANCEL)), "removed"),
            (diff.unchanged, "unchanged"),
        ]
        text = ", ".join(f"{count} {word}" for count, word in parts if count)
    extras = [
        (len(diff.of(Change.PAST)), "already over (not stored)"),
        (len(diff.of(Change.IGNORED)), "ignored (no longer changeable)"),
    ]
    notes = ", ".join(f"{count} {word}" for count, word in extras if count)
    return f"{text}; {notes}" if notes else text
