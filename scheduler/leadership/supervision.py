"""The daemon process's whole life around the engine: schema, health server, election.

:func:`supervise` is what ``drsched run`` does once the composition root
(:func:`scheduler.wiring.supervised`) has built its parts, in this order:

1. serve ``/metrics`` and ``/healthz`` on ``http.listen`` (for the whole
   process life, leader or standby: a standby is healthy when its loop runs
   and the database answers);
2. bring the schema to head (the election needs ``leader_lease``; two
   instances starting at once queue on the migration lock);
3. :func:`~scheduler.leadership.run.run_as_leader`: stand by until
   elected, then run the daemon fenced by the epoch (and by the database
   guard: once the database file is lost, every write is refused).

It also feeds systemd's watchdog and the health heartbeat from the loop for
the whole life (the daemon pings the watchdog too once it is ready: a standby
and a long start-up reconcile must not be killed for silence), publishes
``drsched_events{status}`` and the late work while leading, and turns SIGTERM/SIGINT into a
clean stop and SIGHUP into a log line while no daemon runs (once the daemon
runs, it handles them itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from scheduler import metrics
from scheduler.domain.lateness import Lateness
from scheduler.health import HealthChecks, Heartbeat, serve_health
from scheduler.leadership.run import Election, StartDaemon, fenced_first_by, run_as_leader
from scheduler.leadership.standby import standby_signals
from scheduler.store.identity import DatabaseGuard, DatabaseLostError
from scheduler.store.schema import ensure_schema
from scheduler.systemd import Notifier

log = structlog.get_logger("scheduler.supervise")

#: How often the loop proves it is alive (heartbeat, and the watchdog if asked more rarely).
BEAT_INTERVAL = 5.0
#: How often the leader publishes ``drsched_events{status}`` (one GROUP BY on an index).
COUNTS_INTERVAL = 15.0

#: The events per status and the late work, read from the database (blocking).
CountWork = Callable[[], tuple[dict[str, int], Lateness]]


@dataclass(frozen=True)
class Supervised:
    """What the supervisor runs around the daemon; the composition root builds and closes it."""

    url: str
    listen: str
    election: Election
    guard: DatabaseGuard
    heartbeat: Heartbeat
    checks: HealthChecks
    count_work: CountWork


async def supervise(
    parts: Supervised,
    start_daemon: StartDaemon,
    *,
    notifier: Notifier,
    ready_after: float = 1.0,
) -> None:
    """Serve health, migrate, then stand by or lead until stopped; see the module doc.

    Raises :class:`~scheduler.errors.FencedError` when leadership was lost
    (``drsched run`` exits 3 and systemd restarts it into standby).
    """
    stop = asyncio.Event()
    election, guard = parts.election, parts.guard
    async with serve_health(parts.listen, parts.checks):
        background = [
            asyncio.create_task(_keepalive(parts.heartbeat, notifier), name="drsched-beat"),
        ]
        try:
            with standby_signals(stop):
                notifier.status("migrating the database schema")
                await asyncio.to_thread(ensure_schema, parts.url)
                await asyncio.to_thread(guard.remember)
                background += [
                    asyncio.create_task(
                        _publish_counts(parts.count_work, election), name="drsched-counts"
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


async def _watch(guard: DatabaseGuard) -> None:
    """Check the database every beat; say once, loudly, when it is lost (``/healthz``
    fails from then on and every write is refused)."""
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


async def _publish_counts(count_work: CountWork, election: Election) -> None:
    """``drsched_events{status}`` and the late work (:mod:`scheduler.store.watch`), by the leader.

    Every instance reads the same database: if standbys published too, a
    ``sum()`` across instances would count each event twice.
    """
    failing = False
    while True:
        if election.epoch is not None:
            try:
                counts, late = await asyncio.to_thread(count_work)
                metrics.set_events_by_status(counts)
                metrics.set_lateness(late)
                failing = False
            except Exception as exc:  # /healthz reports the database; say it once here
                if not failing:
                    log.warning("metrics.event_counts_failed", error=str(exc)[:200])
                failing = True
        await asyncio.sleep(COUNTS_INTERVAL)
