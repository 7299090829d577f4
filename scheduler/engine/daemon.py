"""The daemon's main loop: signals and timers are messages; the loop ticks the engine.

Start-up order (READY=1 only at the end): apply the plan files, reconcile
(HVAC, then every unfinished intent), start the timer. Then each message —
a wake-up from the timer, a plan revision noticed in the database, SIGHUP —
leads to one engine tick (SIGHUP re-applies the plan files first). SIGTERM
and SIGINT stop the loop: the tick in progress finishes, bounded by
``stop_timeout`` (an interrupted call leaves its intent open, reconciled at
the next start), and ``run`` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import Enum

import structlog

from scheduler import metrics
from scheduler.engine.runner import Engine
from scheduler.engine.timer import WakeTimer
from scheduler.errors import DrschedError, PlanError
from scheduler.systemd import Notifier

log = structlog.get_logger("scheduler.daemon")

#: ``hvac.on_stop`` at the instant of a stop: what it did (``restore``, ``hand_over``) and
#: a line saying so.
OnStop = Callable[[], Awaitable[tuple[str, str]]]

#: After a failed tick (database unreachable...), try again this much later.
TICK_RETRY = timedelta(seconds=5)


class Message(Enum):
    WAKE = "wake"
    RELOAD = "reload"


class Daemon:
    def __init__(
        self,
        engine: Engine,
        *,
        apply_plans: Callable[[], str] | None = None,
        notifier: Notifier | None = None,
        revision_interval: timedelta = timedelta(seconds=2),
        stop_timeout: timedelta = timedelta(seconds=15),
        on_stop: OnStop | None = None,
        on_stop_timeout: timedelta = timedelta(seconds=45),
    ) -> None:
        self.engine = engine
        self._on_stop = on_stop
        self._on_stop_timeout = on_stop_timeout
        self._apply_plans = apply_plans
        self._notifier = notifier or Notifier({})
        self._stop_timeout = stop_timeout
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._revision: int | None = None
        self._revision_check: asyncio.Task[None] | None = None
        self.timer = WakeTimer(self._wake, self._check_revision, revision_interval)
        self.ticks = 0
        self.ready = asyncio.Event()

    # -- messages (signal handlers and timer jobs only post them) -----------

    def request_stop(self) -> None:
        self._stopping.set()

    def request_reload(self) -> None:
        self._queue.put_nowait(Message.RELOAD)

    async def _wake(self) -> None:
        self._queue.put_nowait(Message.WAKE)

    async def _check_revision(self) -> None:
        """Notice ``drsched plan apply`` / ``events cancel`` run from a shell.

        The timer's job only starts the check: while the store is busy (200
        events prepared at once) a check waits its turn for seconds, and
        APScheduler would skip (with a warning) every run that came meanwhile.
        The one in flight sees any change those would have seen.
        """
        if self._revision_check is None or self._revision_check.done():
            self._revision_check = asyncio.create_task(
                self._read_revision(), name="drsched-revision"
            )

    async def _read_revision(self) -> None:
        try:
            revision = await self.engine.gateway.call(self.engine.store.plan_revision)
        except Exception:  # the database may be briefly unavailable; the next check retries
            log.exception("daemon.revision_check_failed")
            return
        if revision != self._revision:
            log.info("daemon.plan_changed", revision=revision, previous=self._revision)
            self._revision = revision
            self._queue.put_nowait(Message.WAKE)

    # -- life cycle --------------------------------------------------------

    async def run(self) -> None:
        """Serve until asked to stop; return once everything in flight is done."""
        self._install_signals()
        try:
            await self._start()
            serving = asyncio.create_task(self._serve(), name="drsched-serve")
            watchdog = asyncio.create_task(self._watchdog(), name="drsched-watchdog")
            await self._stopping.wait()
            log.info("daemon.stopping")
            self._notifier.stopping()
            self._queue.put_nowait(Message.WAKE)  # unblock a loop waiting for messages
            try:
                await asyncio.wait_for(serving, self._stop_timeout.total_seconds())
            except TimeoutError:
                log.warning("daemon.stop_timeout", seconds=self._stop_timeout.total_seconds())
            await self._run_on_stop()
            watchdog.cancel()
        finally:
            self.timer.shutdown()
            if self._revision_check is not None:
                self._revision_check.cancel()
            self._remove_signals()
        log.info("daemon.stopped")

    async def _run_on_stop(self) -> None:
        """``hvac.on_stop`` (issue 15): bounded, and says what it did (restore or hand over)."""
        if self._on_stop is None:
            return
        self._notifier.status("stopping: hvac.on_stop")
        seconds = self._on_stop_timeout.total_seconds()
        try:
            action, summary = await asyncio.wait_for(self._on_stop(), seconds)
        except TimeoutError:
            log.error("daemon.on_stop_timeout", seconds=seconds)
            return
        except Exception:  # the next start restores what is left (its records say so)
            log.exception("daemon.on_stop_failed")
            return
        log.info("daemon.on_stop", action=action, summary=summary)
        self._notifier.status(f"stopping: {summary}")

    async def _start(self) -> None:
        self._notifier.status("applying plans")
        await self._apply()
        self._notifier.status("reconciling")
        await self.engine.start_up()
        self._revision = await self.engine.gateway.call(self.engine.store.plan_revision)
        self.timer.start()
        self._queue.put_nowait(Message.WAKE)
        self._notifier.ready("running")
        self.ready.set()
        log.info("daemon.ready", revision=self._revision)

    async def _serve(self) -> None:
        while not self._stopping.is_set():
            messages = [await self._queue.get()]
            while not self._queue.empty():
                messages.append(self._queue.get_nowait())
            if self._stopping.is_set():
                return
            if Message.RELOAD in messages:
                await self._reload()
            self.timer.wake_at(await self._tick())

    async def _tick(self) -> datetime:
        self.ticks += 1
        try:
            decision = await self.engine.tick()
        except Exception:  # keep the daemon alive; the database is the truth, retry soon
            log.exception("engine.tick_failed")
            return self.engine.clock.now() + TICK_RETRY
        tracked = len(self.engine.memory)
        self._notifier.status(f"running: {tracked} events tracked")
        return decision.next_wake

    async def _reload(self) -> None:
        log.info("daemon.reloading")
        self._notifier.reloading()
        await self._apply()
        self._notifier.ready("running")

    async def _apply(self) -> None:
        """Apply the plan files; a bad plan is logged whole and the previous one stays."""
        if self._apply_plans is None:
            return
        try:
            summary = await self.engine.gateway.call(self._apply_plans)
        except PlanError as exc:
            problems = [str(p) for p in exc.problems]
            log.error("plans.invalid", problems=problems, kept="previous plan stays in force")
            metrics.record_plan_apply(False, self.engine.clock.now())
            return
        except DrschedError as exc:
            log.error("plans.apply_failed", error=str(exc))
            metrics.record_plan_apply(False, self.engine.clock.now())
            return
        log.info("plans.applied", summary=summary)
        metrics.record_plan_apply(True, self.engine.clock.now())

    async def _watchdog(self) -> None:
        """Ping systemd's watchdog from the loop itself: a stuck loop misses its pings."""
        interval = self._notifier.watchdog_interval()
        if interval is None:
            return
        while True:
            self._notifier.watchdog()
            await asyncio.sleep(interval)

    # -- signals -----------------------------------------------------------

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signal.SIGTERM, self.request_stop)
            loop.add_signal_handler(signal.SIGINT, self.request_stop)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
