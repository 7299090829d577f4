"""HVAC reconcile starts no event it may not touch (issue 10, bugs 2 and 3; the running revision).

``ControlStore.unstarted_events`` is what a restart starts: every event
active at the DR service with no facility under control yet. It asks the
same rule as every other start (``scheduler.domain.outside``): not with a
cancel recorded, not after the end of the revision the DR service runs; and
it gives that revision's content.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from scheduler.domain.intents import Intent, IntentKind
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from tests.support.fakes.hvac import event
from tests.support.harness.control_store import T0, stores

__all__ = ["stores"]


def _active(daemon: DaemonStore, event_id: str) -> None:
    daemon.begin_intent(Intent(event_id, IntentKind.CREATE, event_id, 1), None, T0)
    path = (Status.PLANNED, Status.SUBMITTING, Status.PENDING, Status.STANDBY, Status.ACTIVE)
    for before, after in itertools.pairwise(path):
        assert daemon.record(Transition(event_id, before, after, T0, Source.API, ""))


def test_a_canceled_event_is_not_started_by_reconcile(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    store, daemon = stores
    daemon.apply_events([event("a", T0), event("b", T0)], T0 - timedelta(days=1))
    _active(daemon, "a")
    _active(daemon, "b")
    daemon.request_cancel("b", T0)
    assert [e.event_id for e in store.unstarted_events(T0)] == ["a"]


def test_reconcile_follows_the_revision_the_dr_service_runs(
    stores: tuple[ControlStore, DaemonStore],
) -> None:
    store, daemon = stores
    first = event("a", T0, minutes=30)
    daemon.apply_events([first], T0 - timedelta(days=1))
    daemon.begin_intent(Intent("a", IntentKind.CREATE, "a", 1), None, T0 - timedelta(days=1))
    daemon.record(Transition("a", Status.PLANNED, Status.SUBMITTING, T0, Source.API, ""))
    daemon.record(Transition("a", Status.SUBMITTING, Status.PENDING, T0, Source.API, ""))
    daemon.apply_events([event("a", T0, minutes=90)], T0 - timedelta(days=1))  # refused there
    daemon.record(Transition("a", Status.PENDING, Status.ACTIVE, T0, Source.API, ""))
    assert [(e.start, e.end) for e in store.unstarted_events(T0)] == [(first.start, first.end)]
    assert store.unstarted_events(first.end) == []  # the stored revision's end is later
    assert store.plan_event("a").end == first.end
