"""The daemon's loop over fakes: ready after reconcile, reload, revision polling, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from scheduler import metrics
from scheduler.domain.lifecycle import Status
from scheduler.engine.decide import Decision
from scheduler.engine.timer import REVISION_JOB, WAKE_JOB
from scheduler.errors import AlreadyRunningError, PlanError, Problem
from scheduler.leadership.sqlite_lock import DaemonLock, sqlite_lock_path
from tests.support.fakes.engine import plan_event
from tests.support.harness.engine_on_fakes import make_daemon


async def wait_for(predicate: Callable[[], bool], seconds: float = 5) -> None:
    """Poll a condition the daemon reaches on its own (real time, bounded)."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110  # the daemon has no event for this; bounded
            await asyncio.sleep(0.01)


async def test_a_plan_change_from_a_shell_is_noticed_through_the_revision() -> None:
    daemon, store = make_daemon()
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 5)
    await wait_for(lambda: daemon.timer.job_ids() == sorted([REVISION_JOB, WAKE_JOB]))
    store.add(plan_event("ev", datetime.now(UTC) + timedelta(minutes=10)))
    await wait_for(lambda: store.status("ev") == Status.PENDING)
    daemon.request_stop()
    await asyncio.wait_for(task, 5)


async def test_sighup_path_reapplies_plans_and_a_bad_plan_keeps_the_previous() -> None:
    applied: list[str] = []
    bad = PlanError([Problem("plans/a.yaml", 3, 5, "end before start")])

    def apply_plans() -> str:
        applied.append("apply")
        if len(applied) == 2:
            raise bad
        return "ok"

    daemon, _ = make_daemon(apply_plans=apply_plans)
    with metrics.isolated_metrics() as m:
        task = asyncio.create_task(daemon.run())
        await asyncio.wait_for(daemon.ready.wait(), 5)
        assert applied == ["apply"]
        assert m.registry.get_sample_value("drsched_plan_last_apply_success_timestamp_seconds")
        with capture_logs() as logs:
            daemon.request_reload()
            await wait_for(lambda: len(applied) == 2)
            await wait_for(lambda: any(e["event"] == "plans.invalid" for e in logs))
        assert m.registry.get_sample_value("drsched_plan_last_apply_successful") == 0
        assert m.registry.get_sample_value("drsched_plan_apply_failures_total") == 1
    invalid = next(e for e in logs if e["event"] == "plans.invalid")
    assert invalid["problems"] == ["plans/a.yaml:3:5: end before start"]
    assert not task.done(), "a bad plan must not stop the daemon"
    daemon.request_stop()
    await asyncio.wait_for(task, 5)


async def test_graceful_stop_waits_for_the_tick_in_flight() -> None:
    daemon, _ = make_daemon()
    release = asyncio.Event()
    original = daemon.engine.tick
    finished: list[bool] = []

    async def slow_tick() -> Decision:
        await release.wait()
        decision = await original()
        finished.append(True)
        return decision

    daemon.engine.tick = slow_tick  # type: ignore[method-assign]  # a tick held until released
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 5)
    await asyncio.sleep(0.05)
    daemon.request_stop()
    await asyncio.sleep(0.05)
    assert not task.done()
    release.set()
    await asyncio.wait_for(task, 5)
    assert finished == [True]


async def test_stop_timeout_bounds_a_stuck_tick() -> None:
    daemon, _ = make_daemon()
    daemon._stop_timeout = timedelta(milliseconds=100)

    async def stuck_tick() -> None:
        await asyncio.Event().wait()

    daemon.engine.tick = stuck_tick  # type: ignore[method-assign,assignment]  # a tick that never ends
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 5)
    await asyncio.sleep(0.05)
    with capture_logs() as logs:
        daemon.request_stop()
        await asyncio.wait_for(task, 5)
    assert any(e["event"] == "daemon.stop_timeout" for e in logs)


def test_second_daemon_on_the_same_sqlite_database_refuses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    assert sqlite_lock_path(url) == tmp_path / "drsched.db.lock"
    with DaemonLock(url), pytest.raises(AlreadyRunningError, match="already running"):
        DaemonLock(url).acquire()
    with DaemonLock(url) as again:  # released: a new daemon may start
        assert again.path is not None


def test_no_lock_for_postgresql() -> None:
    assert sqlite_lock_path("postgresql+psycopg://u@h/db") is None


async def test_real_signals_are_messages_hup_reloads_term_stops() -> None:
    """SIGHUP and SIGTERM sent to this process reach the daemon's loop as messages."""
    import os
    import signal

    applied: list[str] = []

    def apply_plans() -> str:
        applied.append("apply")
        return "ok"

    daemon, _ = make_daemon(apply_plans=apply_plans)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 5)
    os.kill(os.getpid(), signal.SIGHUP)
    await wait_for(lambda: len(applied) == 2)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 5)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


async def test_on_stop_runs_after_the_last_tick_and_says_what_it_did() -> None:
    """hvac.on_stop: restore (issue 15): after serving stops, before run returns."""
    daemon, _ = make_daemon()
    calls: list[str] = []

    async def restore() -> tuple[str, str]:
        calls.append("restore")
        return "restore", "3 facilities under control: 3 restored; 3 resume at restart"

    daemon._on_stop = restore
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 5)
    with capture_logs() as logs:
        daemon.request_stop()
        await asyncio.wait_for(task, 5)
    assert calls == ["restore"]
    done = [e for e in logs if e["event"] == "daemon.on_stop"]
    assert done == [
        {
            "event": "daemon.on_stop",
            "log_level": "info",
            "action": "restore",
            "summary": "3 facilities under control: 3 restored; 3 resume at restart",
        }
    ]
    events = [e["event"] for e in logs]
    assert events.index("daemon.on_stop") < events.index("daemon.stopped")


async def test_on_stop_is_bounded_by_its_timeout() -> None:
    daemon, _ = make_daemon()
    daemon._on_stop_timeout = timedelta(milliseconds=100)

    async def stuck() -> tuple[str, str]:
        await asyncio.Event().wait()
        return "", ""

    daemon._on_stop = stuck
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 5)
    with capture_logs() as logs:
        daemon.request_stop()
        await asyncio.wait_for(task, 5)
    assert any(e["event"] == "daemon.on_stop_timeout" for e in logs)
