"""Act only while elected: stand by, lead under a fencing epoch, stop the moment it is lost.

:func:`run_as_leader` is the daemon's outer life when several instances
share one PostgreSQL database (on SQLite the election is won at once):

1. **Standby.** ``STATUS=standby: waiting for leadership``, ``drsched_leader 0``,
   and — if the election is not won within ``ready_after`` — ``READY=1``: a
   standby is a healthy, started service, and systemd's start job must not
   time out waiting for a leader that may live for months. A standby does
   nothing else: no API call, no write.
2. **Leader.** The daemon is started with the elector's ``fence``, which every
   write transaction calls first, so a write made after a take-over is refused
   (:func:`scheduler.leadership.postgres.assert_fenced`).
3. **Lost.** The daemon task is cancelled at once (in-flight HTTP calls with
   it; a database call already in a worker thread finishes there, and the
   fence refuses its write), then :class:`~scheduler.errors.FencedError` is
   raised: ``drsched run`` exits 3 and systemd (``Restart=on-failure``) starts
   a fresh process, which stands by. Exiting instead of standing by again in
   the same process means no engine memory, HVAC state or timer survives from
   the term that was lost.

``stop`` (SIGTERM/SIGINT while no daemon runs) ends a standby cleanly. Once
the daemon runs it handles those signals itself, and a clean stop of the
daemon ends :func:`run_as_leader` normally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from scheduler import metrics
from scheduler.errors import FencedError
from scheduler.store.fenced import Fence
from scheduler.systemd import Notifier

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = structlog.get_logger("scheduler.leadership")

STANDBY_STATUS = "standby: waiting for leadership"

#: Runs the daemon to its end (a clean stop); cancelled when leadership is lost.
StartDaemon = Callable[[Fence], Coroutine[Any, Any, None]]


def fenced_first_by(check: Fence, start_daemon: StartDaemon) -> StartDaemon:
    """``start_daemon`` with ``check`` run before the election's fence in every write.

    The supervisor's database guard uses it: once the database file is lost,
    every write is refused even while the election still holds.
    """

    async def start(fence: Fence) -> None:
        def both(session: Session) -> None:
            check(session)
            fence(session)

        await start_daemon(both)

    return start


class Election(Protocol):
    """What this module needs of :mod:`scheduler.leadership.postgres`'s electors."""

    @property
    def epoch(self) -> int | None: ...

    async def acquire(self) -> int: ...

    async def wait_lost(self) -> None: ...

    def fence(self, session: Session) -> None: ...

    async def close(self) -> None: ...


async def run_as_leader(
    elector: Election,
    start_daemon: StartDaemon,
    notifier: Notifier,
    stop: asyncio.Event,
    *,
    ready_after: float = 1.0,
) -> None:
    """Stand by until elected, then run the daemon until it stops or leadership is lost.

    Returns after a clean stop (``stop`` while standing by, or the daemon's own
    SIGTERM handling); raises :class:`FencedError` when leadership was lost.
    The elector is closed (the lock given up) on every way out.
    """
    try:
        epoch = await _stand_by(elector, notifier, stop, ready_after)
        if epoch is not None:
            await _lead(elector, start_daemon, notifier, stop, epoch)
    finally:
        await elector.close()


async def _stand_by(
    elector: Election, notifier: Notifier, stop: asyncio.Event, ready_after: float
) -> int | None:
    """Wait for the election (or ``stop``: None); say READY=1 if it takes a while."""
    metrics.set_leader(False)
    notifier.status(STANDBY_STATUS)
    acquiring = asyncio.create_task(elector.acquire(), name="drsched-election")
    stopping = asyncio.create_task(stop.wait(), name="drsched-standby-stop")
    try:
        done, _ = await asyncio.wait(
            {acquiring, stopping}, timeout=ready_after, return_when=asyncio.FIRST_COMPLETED
        )
        if not done:
            log.info("leadership.standby", status=STANDBY_STATUS)
            notifier.ready(STANDBY_STATUS)
            await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not acquiring.done():
            log.info("leadership.standby_stopped")
            return None
        return acquiring.result()
    finally:
        for task in (acquiring, stopping):
            await _cancelled(task)


async def _lead(
    elector: Election,
    start_daemon: StartDaemon,
    notifier: Notifier,
    stop: asyncio.Event,
    epoch: int,
) -> None:
    notifier.status(f"leader (epoch {epoch}): starting")
    log.info("leadership.leading", epoch=epoch)
    daemon = asyncio.create_task(start_daemon(elector.fence), name="drsched-daemon")
    lost = asyncio.create_task(elector.wait_lost(), name="drsched-leader-lost")
    stopping = asyncio.create_task(stop.wait(), name="drsched-leader-stop")
    try:
        await asyncio.wait({daemon, lost, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if daemon.done():
            daemon.result()  # a clean stop returns; a crash propagates
            return
        if lost.done():
            log.error("leadership.lost_stopping_daemon", epoch=epoch)
            notifier.status(f"leadership lost (epoch {epoch}): stopping")
            raise FencedError(
                f"leadership lost (epoch {epoch}): stopped acting at once; "
                "exiting so that a fresh process stands by"
            )
        log.info("leadership.stopped_before_daemon_ready", epoch=epoch)
    finally:
        for task in (daemon, lost, stopping):
            await _cancelled(task)


async def _cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it; its late failure is logged, not raised."""
    if task.done():
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # we are being cancelled ourselves: let it through
    except Exception:  # the task was abandoned; its error must not hide ours
        log.exception("leadership.task_failed_while_cancelled", task=task.get_name())
