"""``hvac.on_stop: auto`` counts the standbys on a real PostgreSQL database (issue 15)."""

from __future__ import annotations

import asyncio

from scheduler.leadership.postgres import PostgresElector, Timing
from scheduler.store import open_engine
from scheduler.store.migrate import upgrade
from scheduler.wiring import standbys_connected

FAST = Timing(retry_interval=0.2, check_interval=0.2, check_timeout=2.0, idle_session_timeout=1.0)


async def test_a_connected_standby_is_counted(pg_url: str) -> None:
    upgrade(pg_url)
    sql = open_engine(pg_url)
    leader = PostgresElector(pg_url, holder="host-a:1", timing=FAST)
    await leader.acquire()
    try:
        assert standbys_connected(sql) == 0, "the leader alone"
        standby = PostgresElector(pg_url, holder="host-b:2", timing=FAST)
        waiting = asyncio.create_task(standby.acquire())
        try:
            async with asyncio.timeout(10):  # until its first attempt has connected
                while True:  # the server's view, polled: there is nothing to wait on
                    if standbys_connected(sql) == 1:
                        break
                    await asyncio.sleep(FAST.retry_interval)
        finally:
            waiting.cancel()
            await standby.close()
    finally:
        await leader.close()
        sql.dispose()
