"""A cancel while pending must not wait for the retry delay of a poll that succeeded.

Found by the crash soak (``bench/crash_soak.py --seed 103``, SQLite): a
``drsched events cancel`` recorded one second after a successful poll was
carried out only ``retry_delay`` (15 s) after that poll, because
``decide._cancel`` gates the DELETE with ``_retry_due(tracking)`` and
``Tracking.last_contact`` is set by every DR call, not only by failed ones.
With a request about to turn standby, the DELETE then comes too late and the
cancel becomes local (or, with a restart in between, the event completes).
A change while pending had the same gate and was fixed (commit 33c405a:
"retry delay only for a retry of the same revision"); the cancel was not.

Fixed in ``decide._cancel``: it waits ``retry_delay`` only when a DELETE
for this cancel was already tried (``Tracking.delete_tried``, set by
``DrEffects.run`` on ``act.Delete``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.domain.intents import EventView
from scheduler.domain.lifecycle import Status
from scheduler.engine import actions as act
from scheduler.engine.decide import Policy, decide, due_actions
from scheduler.engine.model import Tracking

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
POLICY = Policy(submit_lead=timedelta(hours=24))
PENDING = EventView(
    "ev",
    Status.PENDING,
    NOW + timedelta(hours=2),
    NOW + timedelta(hours=3),
    request_id="ev",
    submitted_revision=1,
    cancel_requested=True,
)


def test_cancel_right_after_a_successful_poll_deletes_at_once() -> None:
    polled = Tracking(last_contact=NOW - timedelta(seconds=1))
    decision = decide([PENDING], {"ev": polled}, NOW, POLICY)
    assert list(due_actions(decision, "ev")) == [act.Delete("ev", "ev", 1)]


def test_cancel_with_no_contact_yet_deletes_at_once() -> None:
    decision = decide([PENDING], {}, NOW, POLICY)
    assert list(due_actions(decision, "ev")) == [act.Delete("ev", "ev", 1)]


def test_a_second_delete_waits_the_retry_delay() -> None:
    tried = Tracking(last_contact=NOW - timedelta(seconds=1), delete_tried=True)
    decision = decide([PENDING], {"ev": tried}, NOW, POLICY)
    assert list(due_actions(decision, "ev")) == []
    assert decision.next_wake == NOW - timedelta(seconds=1) + POLICY.retry_delay
