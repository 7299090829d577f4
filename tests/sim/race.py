"""An admin's ``plan apply`` racing a daemon tick (issue 10 bug 9), on PostgreSQL only.

``plan apply`` reads the stored statuses, diffs the plan against them and
writes what it decided, in one transaction. The daemon's status moves and
submissions are other transactions: on PostgreSQL (READ COMMITTED) one can
commit between the apply's read and its writes. To explore that, the
simulation runs the apply on a thread of its own (its own connection from
the pool) and holds it right after the diff (a hook around
``plan_apply.diff_plan``, as tests/integration/store/test_plan_apply_race.py
does); the main thread meanwhile runs one daemon tick, its store calls
inline as always. Then the apply goes on:

- at once, if the daemon's tick is waiting for a lock (``pg_stat_activity``):
  the apply's ``SELECT ... FOR UPDATE`` holds what it diffed, so the daemon's
  write waits for the apply's commit (the fix of bug 9);
- after the tick, if the tick moved the event the admin acts on: the apply
  writes what it decided from the status it read before (with the fix, the
  lock prevents that from happening; without it, bug 9);
- otherwise the apply is rolled back (nothing written) and tried again with
  the next tick: the admin's apply is "the one that met the daemon's move".

Deterministic: the thread only waits between its read and its writes, and the
tick's outcome decides which of the three happens. On SQLite the apply's
``BEGIN IMMEDIATE`` takes the writer lock for the whole transaction, so a
daemon write cannot land inside it (it would wait for the busy timeout): the
simulation applies racing actions there as ordinary ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from scheduler.store import plan_apply

#: Seconds any wait may take before the simulation gives up (normally milliseconds).
WAIT = 60.0
#: Ticks a racing action waits for one that moves its event, then it is applied plainly.
MAX_TRIES = 40


class Aborted(Exception):  # the tick did not move the event: roll the apply back
    """Raised inside the apply's transaction: nothing it decided is written."""


def lock_waits(engine: Engine) -> bool:
    """Whether a session of this database waits for a lock (the daemon's tick)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as connection:
        return bool(connection.scalar(query))


class PlanRace:
    """One ``plan apply`` on its own thread, held between its diff and its writes."""

    def __init__(self, engine: Engine, apply: Callable[[], object]) -> None:
        self.engine = engine
        self.apply = apply
        self.thread = threading.Thread(target=self._run, name="sim-plan-apply", daemon=True)
        self.diffed = threading.Event()
        self.release = threading.Event()
        #: Set by the main thread before ``release``: write (True) or roll back.
        self.proceed = False
        #: The daemon's tick waited for the apply's lock (the apply then went on).
        self.blocked = False
        self.error: BaseException | None = None
        self._original = plan_apply.diff_plan

    def start(self) -> None:
        """Start the apply; return once it has diffed (or ended without diffing)."""
        plan_apply.diff_plan = self._hook
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.diffed.wait(0.005) and self.thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("plan apply neither diffed nor ended")

    def finish(self, proceed: bool) -> BaseException | None:
        """Let the apply write (``proceed``) or roll back; its error, if any."""
        self.proceed = proceed
        self.release.set()
        self.thread.join(WAIT)
        plan_apply.diff_plan = self._original
        if self.thread.is_alive():
            raise RuntimeError("plan apply did not end")
        return self.error

    def _run(self) -> None:
        try:
            self.apply()
        except BaseException as exc:  # reported to the main thread
            self.error = exc

    def _hook(self, *args: Any, **kwargs: Any) -> Any:
        diff = self._original(*args, **kwargs)
        if threading.current_thread() is not self.thread:
            return diff
        self.diffed.set()
        deadline = time.monotonic() + WAIT
        while not self.release.wait(0.005):
            if lock_waits(self.engine):
                self.blocked = True
                return diff
            if time.monotonic() > deadline:
                raise RuntimeError("the daemon's tick neither ended nor waited")
        if not self.proceed:
            raise Aborted
        return diff
