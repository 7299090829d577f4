"""The daemon process's whole life around the engine: schema, health server, election.

:func:`supervise` is what ``drsched run`` does once the config is loaded, in
this order:

1. serve ``/metrics`` and ``/healthz`` on ``http.listen`` (for the whole
   process life, leader or standby: a standby is healthy when its loop runs
   and the database answers);
2. bring the schema to head (the election needs ``leader_lease``; two
   instances starting at once queue on the migration lock);
3. :func:`~scheduler.leadership.run.run_as_leader`: stand by until
   elected, then run the daemon fenced by the epoch.

It also feeds systemd's watchdog and the health heartbeat from the loop for
the whole life (the daemon pings the watchdog too once it is ready: a standby
and a long start-up reconcile must not be killed for silence), publishes
``drsched_events{status}`` and the late work while leading, and turns SIGTERM/SIGINT into a
clean stop and SIGHUP into a log line while no daemon runs (once the daemon
runs, it handles them itself).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from scheduler import metrics
from scheduler.config import Config
from scheduler.domain.lateness import Lateness
from scheduler.leadership.run import Election, StartDaemon, fenced_first_by, run_as_leader
from scheduler.leadership.standby import standby_signals
from scheduler.systemd import Notifier

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from scheduler.domain.events import PlanEvent
    from scheduler.health import Heartbeat
    from scheduler.store.identity import DatabaseGuard

log = structlog.get_logger("scheduler.supervision")

#: How often the loop proves it is alive (heartbeat, and the watchdog if asked more rarely).
BEAT_INTERVAL = 5.0
#: How often the leader publishes ``drsched_events{status}`` (one GROUP BY on an index).
COUNTS_INTERVAL = 15.0


async def supervise(
    config: Config,
    start_daemon: StartDaemon,
    *,
    notifier: Notifier,
    elector: Election | None = None,
    ready_after: float = 1.0,
) -> None:
    """Serve health, migrate, then stand by or lead until stopped; see the module doc.

    Raises :class:`~scheduler.errors.FencedError` when leadership was lost
    (``drsched run`` exits 3 and systemd restarts it into standby).
    """
    # here, not at the top: `drsched --help` and the other commands never need uvicorn
    from scheduler.health import HealthChecks, Heartbeat, ping_database, serve_health
    from scheduler.leadership.postgres import elector_for
    from scheduler.store import open_engine
    from scheduler.store.identity import DatabaseGuard
    from scheduler.store.migrate import upgrade

    url = config.database.url
    election = elector or elector_for(url)
    sql = open_engine(url, busy_timeout=config.database.busy_timeout.total_seconds())
    heartbeat = Heartbeat()
    guard = DatabaseGuard(sql, url)
    extra = {}
    if config.openadr is not None:
        from scheduler.openadr.health import ven_check

        extra["openadr"] = ven_check(
            sql, config.openadr.vtn_url, lambda: election.epoch is not None
        )
    checks = HealthChecks(
        heartbeat,
        ping_database(sql, lambda: guard.check(prove_write=False)),
        leader=lambda: election.epoch is not None,
        extra=extra,
    )
    stop = asyncio.Event()

    try:
        async with serve_health(config.http.listen, checks):
            background = [
                asyncio.create_task(_keepalive(heartbeat, notifier), name="drsched-beat"),
            ]
            try:
                with standby_signals(stop):
                    notifier.status("migrating the database schema")
                    await asyncio.to_thread(upgrade, url)
                    await asyncio.to_thread(guard.remember)
                    background += [
                        asyncio.create_task(
                            _publish_counts(sql, election, config), name="drsched-counts"
                        ),
                        asyncio.create_task(_watch(guard), name="drsched-db-guard"),
                    ]
                    await run_as_leader(
                        election,
                        fenced_first_by(guard.fence, start_daemon),
                        notifier,
                        stop,
                        ready_after=ready_after,
                    )
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
    finally:
        await election.close()  # idempotent; covers a failed upgrade
        sql.dispose()


async def _watch(guard: DatabaseGuard) -> None:
    """Check the database every beat; say once, loudly, when it is lost (``/healthz``
    fails from then on and every write is refused)."""
    from scheduler.store.identity import DatabaseLostError

    while True:
        try:
            await asyncio.to_thread(guard.check)
        except DatabaseLostError as exc:
            log.error("database.lost", reason=str(exc))
            return
        except Exception as exc:  # an outage: /healthz reports it, the engine retries
            log.debug("database.check_failed", error=str(exc)[:200])
        await asyncio.sleep(BEAT_INTERVAL)


async def _keepalive(heartbeat: Heartbeat, notifier: Notifier) -> None:
    """Beat from the loop itself: a blocked loop misses both beats and watchdog pings."""
    watchdog = notifier.watchdog_interval()
    interval = min(BEAT_INTERVAL, watchdog) if watchdog is not None else BEAT_INTERVAL
    while True:
        heartbeat.beat()
        notifier.watchdog()
        await asyncio.sleep(interval)


async def _publish_counts(sql: Engine, election: Election, config: Config) -> None:
    """``drsched_events{status}`` and the late work (:mod:`scheduler.store.watch`), by the leader.

    Every instance reads the same database: if standbys published too, a
    ``sum()`` across instances would count each event twice.
    """
    from sqlalchemy.orm import Session

    from scheduler.hvac.mapping import targets_for
    from scheduler.store import events as repo
    from scheduler.store import watch

    def controls_hvac(event: PlanEvent) -> bool:
        return event.load_control() is not None and bool(targets_for(event, config.hvac.targets))

    def count() -> tuple[dict[str, int], Lateness]:
        with Session(sql) as session:
            counts = {status.value: n for status, n in repo.counts_by_status(session).items()}
            now = datetime.now(UTC)
            lead = config.dr_api.submit_lead
            return counts, watch.lateness(session, now, lead, controls_hvac)

    failing = False
    while True:
        if election.epoch is not None:
            try:
                counts, late = await asyncio.to_thread(count)
                metrics.set_events_by_status(counts)
                metrics.set_lateness(late)
                failing = False
            except Exception as exc:  # /healthz reports the database; say it once here
                if not failing:
                    log.warning("metrics.event_counts_failed", error=str(exc)[:200])
                failing = True
        await asyncio.sleep(COUNTS_INTERVAL)
