"""``plan apply`` racing the daemon's writes (issue 10, bug 9), on SQLite and PostgreSQL.

The daemon's write is injected exactly between the apply's read of the stored
statuses and its writes (a hook around ``diff_plan``), in another thread on
its own connection. The apply must not act on what it read if that changed:
under READ COMMITTED without a lock, a removal decided from ``planned``
deleted an event the daemon had just moved to ``submitting`` (intent and
all: the daemon POSTs an orphan request), and a change decided from
``pending`` was written over a ``standby`` row. Whatever order the two end
up in, the result must be one a serial order gives.

The hook waits until the daemon's write is done or blocked (PostgreSQL:
``pg_stat_activity`` shows it waiting for a lock; SQLite: a short busy
timeout makes it fail at once), so the interleaving is the same every run.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from scheduler.domain.intents import Intent, IntentKind
from scheduler.domain.lifecycle import Source, Status, Transition
from scheduler.store import is_sqlite, open_engine, plan_apply
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.stored_events import NOW, event, move, status

WAIT = 30.0  # seconds; the hook normally returns within milliseconds


@dataclass
class Writer:
    """The daemon's write, run in a thread; ``error`` is what it raised, if anything."""

    write: Callable[[], object]
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            self.write()
        except BaseException as exc:  # any failure means "not written"
            self.error = exc
        finally:
            self.done.set()


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[DaemonStore, DaemonStore]]:
    """The CLI's store and the daemon's (its own engine; on SQLite a short busy timeout)."""
    upgrade(db_url)
    cli = open_engine(db_url)
    daemon = open_engine(db_url, busy_timeout=0.2)
    yield DaemonStore(cli), DaemonStore(daemon)
    cli.dispose()
    daemon.dispose()


def _blocked(engine: Engine) -> bool:
    if is_sqlite(str(engine.url)):
        return False
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as connection:
        return bool(connection.scalar(query))


def apply_with(
    monkeypatch: pytest.MonkeyPatch, cli: DaemonStore, writer: Writer, plan: list[Any]
) -> BaseException | None:
    """Apply ``plan`` with ``writer`` run between the apply's read and its writes."""
    original = plan_apply.diff_plan
    thread = threading.Thread(target=writer.run)

    def diff_then_write(*args: Any, **kwargs: Any) -> Any:
        diff = original(*args, **kwargs)
        thread.start()
        deadline = time.monotonic() + WAIT
        while not writer.done.wait(0.01) and not _blocked(cli.engine):
            assert time.monotonic() < deadline, "the daemon's write neither ran nor waited"
        return diff

    monkeypatch.setattr(plan_apply, "diff_plan", diff_then_write)
    error = None
    try:
        cli.apply_events(plan, NOW)
    except BaseException as exc:  # reported to the test
        error = exc
    thread.join(WAIT)
    assert writer.done.is_set()
    return error


def test_a_removal_racing_a_submission_never_orphans_a_request(
    stores: tuple[DaemonStore, DaemonStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli, daemon = stores
    cli.apply_events([event("ev"), event("other", 5)], NOW)
    intent = Intent("ev", IntentKind.CREATE, "ev", 1)
    submitting = Transition("ev", Status.PLANNED, Status.SUBMITTING, NOW, Source.CLOCK, "test")
    writer = Writer(lambda: daemon.begin_intent(intent, submitting, NOW))
    error = apply_with(monkeypatch, cli, writer, [event("other", 5)])  # "ev" removed
    assert error is None
    exists = any(r.event_id == "ev" for r in cli.overview())
    if writer.error is None:  # the daemon recorded its intent, so it will POST:
        assert exists, "the event and its intent were deleted under the daemon's POST"
        assert status(cli, "ev") == Status.SUBMITTING
        assert cli.overview()[0].cancel_requested  # the removal became a cancel
        assert cli.open_intents() == [intent]
    else:  # the daemon's write was refused: it will not POST
        assert not exists
        assert cli.open_intents() == []


def test_a_change_racing_a_status_move_is_decided_from_the_status_it_writes_over(
    stores: tuple[DaemonStore, DaemonStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli, daemon = stores
    cli.apply_events([event("ev")], NOW)
    daemon.begin_intent(Intent("ev", IntentKind.CREATE, "ev", 1), None, NOW)
    move(cli, "ev", Status.PLANNED, Status.SUBMITTING, Status.PENDING)
    standby = Transition("ev", Status.PENDING, Status.STANDBY, NOW, Source.API, "test")
    writer = Writer(lambda: daemon.record(standby))
    changed = event("ev", end=NOW + timedelta(hours=4))
    error = apply_with(monkeypatch, cli, writer, [changed])
    timeline = cli.timeline("ev")
    # Every line of the timeline starts from the status the one before it left.
    for before, after in itertools.pairwise(timeline):
        assert after.from_status == before.to_status, [
            (t.from_status, t.to_status, t.detail) for t in timeline
        ]
    revision = next(r.revision for r in cli.overview() if r.event_id == "ev")
    if error is not None:  # the apply saw standby: the change is refused, nothing written
        assert revision == 1
    elif writer.error is not None:  # the move was refused (SQLite busy): it is polled again
        assert revision == 2
        assert status(cli, "ev") == Status.PENDING
    else:  # the apply came first (pending): the move follows it, and says what runs
        assert revision == 2
        assert "changed in the plan" in timeline[-3].detail
        assert timeline[-2].to_status == Status.STANDBY
        assert "revision 2 not applied" in timeline[-1].detail
        assert "runs revision 1" in timeline[-1].detail
