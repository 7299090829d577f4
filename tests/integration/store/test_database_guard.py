"""The daemon notices its database deleted, replaced or unwritable (issue 16, findings 3, 5).

Real SQLite files and PostgreSQL databases; the last test runs ``supervise``
with a stand-in daemon that writes through its fence, deletes the SQLite file
under it, and expects /healthz to fail, ``database.lost`` logged and every
later write refused.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from scheduler.config import Config, DatabaseConfig, HttpConfig
from scheduler.errors import StoreError
from scheduler.store import open_engine, transaction
from scheduler.store.fenced import Fence
from scheduler.store.identity import DatabaseGuard, DatabaseLostError
from scheduler.store.migrate import upgrade
from scheduler.systemd import Notifier
from scheduler.wiring import supervise_daemon
from tests.support.processes import free_port, healthz


def _guard(url: str, *, read_only: bool = False) -> tuple[DatabaseGuard, Engine]:
    upgrade(url)
    sql = open_engine(url, read_only=read_only)
    guard = DatabaseGuard(sql, url)
    guard.remember()
    return guard, sql


def test_the_same_database_passes(db_url: str) -> None:
    guard, sql = _guard(db_url)
    try:
        guard.check()
        guard.check()
        with transaction(sql) as session:
            guard.fence(session)
    finally:
        sql.dispose()


def test_a_replaced_marker_is_noticed_and_stays_noticed(db_url: str) -> None:
    guard, sql = _guard(db_url)
    try:
        with sql.begin() as conn:
            conn.execute(text("UPDATE database_marker SET marker = 'someone-else'"))
        with pytest.raises(DatabaseLostError, match="database replaced: marker someone-else"):
            guard.check()
        with sql.begin() as conn:
            conn.execute(text("SELECT 1"))
        with pytest.raises(DatabaseLostError, match="refusing to act"), transaction(sql) as s:
            guard.fence(s)
    finally:
        sql.dispose()


def test_a_database_that_cannot_be_written_is_lost(db_url: str) -> None:
    guard, sql = _guard(db_url, read_only=True)
    try:
        with pytest.raises(DatabaseLostError, match="cannot write to the database"):
            guard.check()
    finally:
        sql.dispose()


def test_a_deleted_sqlite_file_is_noticed_before_any_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    guard, sql = _guard(url)
    try:
        with sql.connect() as conn:  # the daemon holds the file open, as it would
            (tmp_path / "drsched.db").unlink()
            with pytest.raises(DatabaseLostError, match="is gone"), transaction(sql) as s:
                guard.fence(s)
            conn.execute(text("SELECT 1"))
        with pytest.raises(DatabaseLostError, match="is gone"):
            guard.check()
    finally:
        sql.dispose()


def test_a_sqlite_file_replaced_by_a_fresh_one_is_noticed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    guard, sql = _guard(url)
    upgrade(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        shutil.move(tmp_path / "fresh.db", tmp_path / "drsched.db")
        with pytest.raises(DatabaseLostError, match="replaced by another file"):
            guard.check()
    finally:
        sql.dispose()


class _Daemon:
    """Writes through its fence every 50 ms; counts what landed and what was refused."""

    def __init__(self, sql: Engine) -> None:
        self.sql = sql
        self.landed = 0
        self.refused: list[str] = []
        self.started = asyncio.Event()
        self.wrote = asyncio.Event()
        self.was_refused = asyncio.Event()

    def _write(self, fence: Fence) -> None:
        with transaction(self.sql) as session:
            fence(session)
            session.execute(text("UPDATE plan_state SET revision = revision + 1"))

    async def run(self, fence: Fence) -> None:
        self.started.set()
        while True:
            try:
                await asyncio.to_thread(self._write, fence)
                self.landed += 1
                self.wrote.set()
            except StoreError as exc:
                self.refused.append(str(exc))
                self.was_refused.set()
            await asyncio.sleep(0.05)


async def test_supervise_goes_unhealthy_and_refuses_writes_once_the_file_is_deleted(
    tmp_path: Path,
) -> None:
    url, port = f"sqlite:///{tmp_path / 'drsched.db'}", free_port()
    upgrade(url)
    sql = open_engine(url)
    daemon = _Daemon(sql)
    config = Config(database=DatabaseConfig(url=url), http=HttpConfig(listen=f"127.0.0.1:{port}"))
    with capture_logs() as logs:
        task = asyncio.create_task(
            supervise_daemon(config, daemon.run, notifier=Notifier({}), ready_after=0.1)
        )
        try:
            await asyncio.wait_for(daemon.wrote.wait(), 20)
            healthy = await healthz(port)
            for suffix in ("", "-wal", "-shm"):
                (tmp_path / f"drsched.db{suffix}").unlink(missing_ok=True)
            await asyncio.wait_for(daemon.was_refused.wait(), 20)
            landed = daemon.landed
            answer: httpx.Response = await healthz(port)
            await asyncio.sleep(0.3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            sql.dispose()
    assert healthy.status_code == 200, healthy.text
    assert answer.status_code == 503
    assert "is gone" in answer.json()["checks"]["database"]["detail"]
    assert "is gone (deleted while the daemon ran)" in daemon.refused[0]
    assert daemon.landed == landed, "a write landed after the database was lost"
    lost = [e for e in logs if e["event"] in ("database.lost", "health.failing")]
    assert lost, "losing the database was not logged"
