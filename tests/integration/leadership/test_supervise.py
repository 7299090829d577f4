"""supervise_daemon(): health server for the whole life, schema, election, fenced daemon, take-over.

Real sockets, real databases; the daemon is a stand-in that writes through
the fence it is given, so the test can check whose writes landed when.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from scheduler import metrics
from scheduler.config import Config, DatabaseConfig, HttpConfig
from scheduler.errors import FencedError
from scheduler.leadership import supervision
from scheduler.leadership.postgres import PostgresElector, Timing
from scheduler.leadership.run import STANDBY_STATUS
from scheduler.store import open_engine, transaction
from scheduler.store.fenced import Fence
from scheduler.store.migrate import upgrade
from scheduler.systemd import Notifier
from scheduler.wiring import supervise_daemon
from tests.support.pace import pace
from tests.support.processes import free_port, healthz

pytestmark = pytest.mark.realtime

FAST = Timing(retry_interval=0.2, check_interval=0.2, check_timeout=2.0, idle_session_timeout=1.0)
#: The requirement (not stretched); every other deadline here is, by the machine's pace.
TAKEOVER_LIMIT = 15.0


def config_for(url: str, port: int) -> Config:
    return Config(database=DatabaseConfig(url=url), http=HttpConfig(listen=f"127.0.0.1:{port}"))


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__({})
        self.sent: list[tuple[str, ...]] = []
        self._changed = asyncio.Event()

    def notify(self, *lines: str) -> bool:
        self.sent.append(lines)
        self._changed.set()
        return True

    async def wait_sent(self, *lines: str, seconds: float = 10) -> None:
        async with asyncio.timeout(pace().s(seconds)):
            while lines not in self.sent:
                self._changed.clear()
                await self._changed.wait()


class Writer:
    """Stands for the daemon: a fenced write every 50 ms until told to stop."""

    def __init__(self, sql: Engine, name: str) -> None:
        self.sql, self.name = sql, name
        self.started = asyncio.Event()
        self.finish = asyncio.Event()
        self.cancelled = False
        self.refused = False

    def _write(self, fence: Fence) -> None:
        with transaction(self.sql) as session:
            fence(session)
            session.execute(text("INSERT INTO writes (holder) VALUES (:h)"), {"h": self.name})

    async def run(self, fence: Fence) -> None:
        self.started.set()
        try:
            while not self.finish.is_set():
                await asyncio.to_thread(self._write, fence)
                await asyncio.sleep(0.05)  # the daemon's pace between writes
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        except FencedError:
            self.refused = True
            raise


@pytest.fixture
def pg_sql(pg_url: str) -> Iterator[Engine]:
    upgrade(pg_url)
    sql = open_engine(pg_url)
    with sql.begin() as conn:
        conn.execute(text("CREATE TABLE writes (id serial PRIMARY KEY, holder text NOT NULL)"))
    yield sql
    sql.dispose()


def terminate_lock_holder(sql: Engine) -> None:
    with sql.connect() as conn:
        pid = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'drsched-leader'"
                " AND datname = current_database()"
                " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"
            )
        ).scalar_one()
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_one_leads_one_stands_by_then_the_standby_takes_over_fenced(
    pg_url: str, pg_sql: Engine
) -> None:
    ports = free_port(), free_port()
    a, b = Writer(pg_sql, "a"), Writer(pg_sql, "b")
    notify_b = RecordingNotifier()
    leading = asyncio.create_task(
        supervise_daemon(
            config_for(pg_url, ports[0]),
            a.run,
            notifier=RecordingNotifier(),
            elector=PostgresElector(pg_url, holder="a", timing=FAST),
            ready_after=0.5,
        )
    )
    await asyncio.wait_for(a.started.wait(), pace().s(10))
    standing_by = asyncio.create_task(
        supervise_daemon(
            config_for(pg_url, ports[1]),
            b.run,
            notifier=notify_b,
            elector=PostgresElector(pg_url, holder="b", timing=FAST),
            ready_after=0.5,
        )
    )
    await notify_b.wait_sent("READY=1", f"STATUS={STANDBY_STATUS}")
    leader, standby = await healthz(ports[0]), await healthz(ports[1])
    assert (leader.status_code, leader.json()["leader"]) == (200, True)
    assert (standby.status_code, standby.json()["leader"]) == (200, False)
    assert not b.started.is_set()

    killed = time.monotonic()
    terminate_lock_holder(pg_sql)
    with pytest.raises(FencedError, match="leadership lost"):
        await asyncio.wait_for(leading, pace().s(10))
    # Stopped either way, whichever comes first on a busy machine: the election
    # cancels the daemon, or its next write meets the fence with the old epoch.
    assert a.cancelled or a.refused
    await asyncio.wait_for(b.started.wait(), TAKEOVER_LIMIT)
    print(f"take-over after the leader's lock session died: {time.monotonic() - killed:.2f}s")
    await asyncio.sleep(0.3)  # let the new leader write a few times
    assert (await healthz(ports[1])).json()["leader"] is True
    b.finish.set()
    await asyncio.wait_for(standing_by, pace().s(10))

    with pg_sql.connect() as conn:
        holders = list(conn.execute(text("SELECT holder FROM writes ORDER BY id")).scalars())
    assert holders[0] == "a"
    assert holders[-1] == "b"
    first_b = holders.index("b")
    assert set(holders[first_b:]) == {"b"}, "a write of the old leader landed after the take-over"


@pytest.fixture
async def other_leader(pg_url: str, pg_sql: Engine) -> AsyncIterator[PostgresElector]:
    """Another instance holding the leadership, so the one under test stands by."""
    other = PostgresElector(pg_url, holder="other", timing=FAST)
    await other.acquire()
    yield other
    await other.close()


async def test_a_standby_survives_sighup_and_stops_cleanly_on_sigterm(
    pg_url: str, pg_sql: Engine, other_leader: PostgresElector
) -> None:
    writer, notifier, port = Writer(pg_sql, "me"), RecordingNotifier(), free_port()
    with capture_logs() as logs:
        task = asyncio.create_task(
            supervise_daemon(
                config_for(pg_url, port),
                writer.run,
                notifier=notifier,
                elector=PostgresElector(pg_url, holder="me", timing=FAST),
                ready_after=0.2,
            )
        )
        await notifier.wait_sent("READY=1", f"STATUS={STANDBY_STATUS}")
        os.kill(os.getpid(), signal.SIGHUP)  # `systemctl reload` on a standby
        await asyncio.sleep(0.2)
        assert not task.done()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, pace().s(10))
    assert not writer.started.is_set()
    assert "supervise.reload_ignored" in [entry["event"] for entry in logs]
    with pytest.raises(httpx.ConnectError):
        await healthz(port)  # the health server is gone with the process's life


async def test_on_sqlite_the_single_instance_leads_at_once_and_is_healthy(
    sqlite_url: str,
) -> None:
    sql = open_engine(sqlite_url)
    upgrade(sqlite_url)
    with sql.begin() as conn:
        conn.execute(text("CREATE TABLE writes (id integer PRIMARY KEY, holder text NOT NULL)"))
    writer, notifier, port = Writer(sql, "only"), RecordingNotifier(), free_port()
    task = asyncio.create_task(
        supervise_daemon(config_for(sqlite_url, port), writer.run, notifier=notifier)
    )
    await asyncio.wait_for(writer.started.wait(), pace().s(10))
    response = await healthz(port)
    assert (response.status_code, response.json()["leader"]) == (200, True)
    assert not any("READY=1" in lines for lines in notifier.sent)  # the daemon says it
    writer.finish.set()
    await asyncio.wait_for(task, pace().s(10))
    sql.dispose()


async def test_a_fresh_postgresql_database_is_migrated_before_the_election(pg_url: str) -> None:
    """The election needs leader_lease: supervise upgrades first (two at once queue)."""
    started = asyncio.Event()

    async def daemon(fence: Fence) -> None:
        started.set()

    ports = free_port(), free_port()
    runs = [
        supervise_daemon(
            config_for(pg_url, port),
            daemon,
            notifier=RecordingNotifier(),
            elector=PostgresElector(pg_url, holder=f"i{port}", timing=FAST),
        )
        for port in ports
    ]
    await asyncio.wait_for(asyncio.gather(*runs), pace().s(30))  # each leads in turn, then stops
    assert started.is_set()


async def test_the_leader_publishes_event_counts_and_late_work_a_standby_does_not(
    pg_url: str, pg_sql: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervision, "COUNTS_INTERVAL", 0.05)
    with pg_sql.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO events (event_id, status, start, "end", vtn_id, source,'
                " fingerprint, revision, cancel_requested, created_at, updated_at) VALUES"
                " ('e1', 'pending', now(), now(), 'v', '', 'f', 1, false, now(), now()),"
                # planned, due an hour ago (submit_lead 24 h): overdue, nobody submits it
                " ('e2', 'planned', now() + interval '23 hours', now() + interval '24 hours',"
                " 'v', '', 'f', 1, false, now() - interval '2 hours', now() - interval '2 hours')"
            )
        )
    writer, port = Writer(pg_sql, "me"), free_port()
    other = PostgresElector(pg_url, holder="other", timing=FAST)
    await other.acquire()
    notifier = RecordingNotifier()
    with metrics.isolated_metrics() as m:
        task = asyncio.create_task(
            supervise_daemon(
                config_for(pg_url, port),
                writer.run,
                notifier=notifier,
                elector=PostgresElector(pg_url, holder="me", timing=FAST),
                ready_after=0.2,
            )
        )
        await notifier.wait_sent("READY=1", f"STATUS={STANDBY_STATUS}")
        await asyncio.sleep(0.2)  # several publishing rounds, all skipped on standby
        assert m.registry.get_sample_value("drsched_events", {"status": "pending"}) is None
        assert m.registry.get_sample_value("drsched_submissions_overdue") == 0
        await other.close()
        await asyncio.wait_for(writer.started.wait(), pace().s(10))
        async with asyncio.timeout(pace().s(10)):
            while m.registry.get_sample_value("drsched_events", {"status": "pending"}) != 1:  # noqa: ASYNC110  # a gauge has no event to wait on; bounded
                await asyncio.sleep(0.05)
        assert m.registry.get_sample_value("drsched_events", {"status": "failed"}) == 0
        assert m.registry.get_sample_value("drsched_submissions_overdue") == 1
        overdue = m.registry.get_sample_value("drsched_submissions_overdue_max_seconds")
        assert overdue is not None
        assert 3600 <= overdue < 3700
        writer.finish.set()
        await asyncio.wait_for(task, pace().s(10))
