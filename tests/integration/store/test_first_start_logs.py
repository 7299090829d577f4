"""A first start and an uncontended upgrade log nothing alarming (issue 16, finding 17)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from scheduler.config import Config, DatabaseConfig, HttpConfig
from scheduler.store import migrate
from scheduler.store.fenced import Fence
from scheduler.store.migrate import upgrade
from scheduler.systemd import Notifier
from scheduler.wiring import supervise_daemon
from tests.support.processes import free_port


def test_an_upgrade_nobody_else_runs_does_not_say_it_waits(pg_url: str) -> None:
    with capture_logs() as logs:
        upgrade(pg_url)
    events = [entry["event"] for entry in logs]
    assert "migration.lock_waiting" not in events


async def test_a_first_start_does_not_count_events_before_the_schema_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_upgrade(url: str) -> tuple[str | None, str]:
        time.sleep(0.5)  # a migration that takes a moment (in its worker thread)
        return upgrade(url)

    monkeypatch.setattr(migrate, "upgrade", slow_upgrade)
    url = f"sqlite:///{tmp_path / 'fresh' / 'drsched.db'}"
    config = Config(
        database=DatabaseConfig(url=url), http=HttpConfig(listen=f"127.0.0.1:{free_port()}")
    )
    started = asyncio.Event()

    async def daemon(fence: Fence) -> None:
        started.set()
        await asyncio.Event().wait()

    with capture_logs() as logs:
        task = asyncio.create_task(supervise_daemon(config, daemon, notifier=Notifier({})))
        try:
            await asyncio.wait_for(started.wait(), 20)
            await asyncio.sleep(0.3)  # the first count runs at once
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    failed = [entry for entry in logs if entry["event"] == "metrics.event_counts_failed"]
    assert failed == []
