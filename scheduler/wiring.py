"""The composition root: the daemon built from its config, with plain typed imports.

The one place that joins the engine to the store, the vendor clients, HVAC
control, the plans, the OpenADR VEN, leadership and systemd, so it may import
anything and nothing imports it but the commands. It also translates the
config into the plain values the parts take (URLs, credentials, timeouts),
with :mod:`scheduler.config_values` beside it: no client or controller
reads the config itself.

Schema: the daemon brings the database to the current schema at start-up
(Alembic ``upgrade head``, a no-op when it is current), exactly as
``drsched db upgrade`` would, so a fresh SQLite database just works.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from scheduler import metrics
from scheduler.clients.http import OwnedClient
from scheduler.clients.transport import preload
from scheduler.clock import Clock, SystemClock
from scheduler.config import Config
from scheduler.config_values import becon_client, dr_client, policy_from, settings_from
from scheduler.domain.dr_programs import ProgramRules
from scheduler.domain.events import PlanEvent
from scheduler.domain.lateness import Lateness
from scheduler.domain.plan_diff import describe
from scheduler.engine.daemon import Daemon, OnStop
from scheduler.engine.hvac import HvacControl, NoHvac
from scheduler.engine.runner import Engine
from scheduler.errors import ConfigError
from scheduler.health import HealthChecks, Heartbeat, ping_database
from scheduler.hvac.controller import HvacController
from scheduler.hvac.mapping import targets_for
from scheduler.leadership.postgres import elector_for
from scheduler.leadership.run import Election, StartDaemon
from scheduler.leadership.sqlite_lock import DaemonLock
from scheduler.leadership.supervision import CountWork, Supervised, supervise
from scheduler.plans.digest import plan_digest
from scheduler.plans.paths import resolve_plan_paths
from scheduler.store import events as repo
from scheduler.store import open_engine, watch
from scheduler.store.advisory import is_postgres
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from scheduler.store.fenced import Fence
from scheduler.store.identity import DatabaseGuard
from scheduler.store.plan_apply import applied_unchanged, apply_plan
from scheduler.store.programs import program_events
from scheduler.store.reads import ReadStore
from scheduler.store.schema import ensure_schema
from scheduler.store.status import read_lease
from scheduler.store_gateway import StoreGateway
from scheduler.systemd import Notifier

log = structlog.get_logger("scheduler.run")

# -- the parts -------------------------------------------------------------------


@dataclass
class VendorClients:
    """The engine's :class:`~scheduler.engine.ports.VendorPools`: the daemon's two clients."""

    dr: OwnedClient
    #: None while HVAC control is off.
    becon: OwnedClient | None = None

    async def open_ahead(self, *, window: bool, within: float) -> None:
        clients = [self.dr, *([self.becon] if window and self.becon is not None else [])]
        opened = await asyncio.gather(*(c.preconnect(within) for c in clients))
        log.debug("engine.pools_opened", window=window, connections=sum(opened))


@asynccontextmanager
async def hvac_control(
    config: Config,
    sql: SqlEngine,
    clock: Clock,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    fence: Fence | None = None,
    gateway: StoreGateway | None = None,
    pools: VendorClients | None = None,
) -> AsyncIterator[HvacControl]:
    """The controller (or ``NoHvac``) for the daemon's life; its BECON client closed after.

    With ``hvac.targets`` empty, HVAC control is off and BECON is never called.
    Otherwise the controller gets its own BECON client (pooled connection,
    ``becon.max_concurrency``, retries from ``becon.*``) and the control
    records of the daemon's database, through ``gateway`` (the daemon's one
    bridge to the store, shared with the engine). Its BECON client joins ``pools``.
    """
    if not config.hvac.targets:
        yield NoHvac()
        return
    async with becon_client(config.becon, transport=transport, clock=clock) as client:
        if pools is not None:
            pools.becon = client
        reads = ReadStore(sql, config.hvac.reads_retention, fence)
        store = ControlStore(sql, fence)
        yield HvacController(
            client,
            store,
            config.hvac.targets,
            settings_from(config),
            clock,
            reads=reads,
            gateway=gateway,
        )


def plan_applier(
    engine: SqlEngine,
    clock: Clock,
    fence: Fence | None = None,
    programs: Sequence[ProgramRules] = (),
) -> Callable[[list[str]], str]:
    """``apply(patterns) -> summary``: what the daemon runs at start-up and on SIGHUP.

    The plan's events are checked against the DR program rules (``programs``
    from the config plus the files'), counting the stored events of each program.
    Files whose digest (:mod:`scheduler.plans.digest`) is the one the last apply
    recorded, at the plan revision it left, are not read again: that apply would
    decide the same and write nothing (issue 14: a second of a start-up with 20,000
    events). The parser is imported only when the files are read.
    """

    def apply(patterns: list[str]) -> str:
        paths = resolve_plan_paths(patterns)
        digest = plan_digest(paths, programs)
        if applied_unchanged(engine, digest):
            return "no changes (the plan files are as last applied)"
        from scheduler.plans.loader import load_plans

        with Session(engine) as session:
            past = program_events(session, for_plan=True)
        events = load_plans(paths, programs=programs, past=past)
        diff = apply_plan(engine, events, clock.now(), fence, digest=digest)
        return describe(diff)

    return apply


@dataclass
class Wiring:
    """The daemon's parts, built from the config (also used by ``drsched demo``)."""

    engine: Engine
    #: ``apply(paths) -> summary``: the same function as ``drsched plan apply``.
    apply_plans: Callable[[list[str]], str]
    #: The database (SQLAlchemy engine), for parts beside the engine (the OpenADR VEN).
    sql: SqlEngine
    #: The engine's store, for the demos' views and plan changes (through ``engine.gateway``).
    store: DaemonStore
    #: ``hvac.on_stop``: restores every facility under control, or hands them over to a
    #: connected standby (``auto``); None: ``hand_over``, or nothing to restore.
    on_stop: OnStop | None = None


@asynccontextmanager
async def wired(
    config: Config,
    *,
    clock: Clock | None = None,
    hvac: HvacControl | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    fence: Fence | None = None,
) -> AsyncIterator[Wiring]:
    """Open the database (upgrading its schema), the DR client and HVAC control; close after.

    HVAC control is :func:`hvac_control` (``hvac`` overrides it).
    ``transport`` serves both vendor clients (the simulator answers both in
    tests). ``fence`` (the leader's epoch check) runs first in every write
    transaction.
    """
    clock = clock or SystemClock()
    url = config.database.url
    await asyncio.to_thread(ensure_schema, url)
    sql = open_engine(url, busy_timeout=config.database.busy_timeout.total_seconds())
    gateway = StoreGateway()  # one bridge to the store, for the engine and HVAC control
    try:
        async with AsyncExitStack() as stack:
            api = await stack.enter_async_context(dr_client(config.dr_api, transport=transport))
            pools = VendorClients(api)
            if hvac is None:
                hvac = await stack.enter_async_context(
                    hvac_control(
                        config,
                        sql,
                        clock,
                        transport=transport,
                        fence=fence,
                        gateway=gateway,
                        pools=pools,
                    )
                )
            store = DaemonStore(sql, fence, metrics.record_transition)
            engine = Engine(
                store,
                api,
                clock,
                policy_from(config),
                hvac=hvac,
                gateway=gateway,
                max_concurrency=config.dr_api.max_concurrency,
                pools=pools,
            )
            rules = config.program_rules()
            yield Wiring(
                engine,
                plan_applier(sql, clock, fence, rules),
                sql,
                store,
                _on_stop(config, hvac, clock, sql),
            )
    finally:
        sql.dispose()


def _on_stop(config: Config, hvac: HvacControl, clock: Clock, sql: SqlEngine) -> OnStop | None:
    """``hvac.on_stop``, decided at the instant of the stop (:func:`on_stop_handler`).

    Only the BECON controller has facilities to restore (``NoHvac`` holds
    nothing). On SQLite no standby can share the database, so ``auto`` restores.
    """
    if not isinstance(hvac, HvacController):
        return None
    controller = hvac

    async def release() -> str:
        return await controller.release(clock.now())

    def standbys() -> int:
        return standbys_connected(sql) if is_postgres(config.database.url) else 0

    return on_stop_handler(config.hvac.on_stop, release, standbys)


def on_stop_handler(
    setting: str, release: Callable[[], Awaitable[str]], standbys: Callable[[], int]
) -> OnStop | None:
    """``restore``, ``hand_over`` (None: nothing to do) or ``auto``: hand over when a
    standby is connected at the instant of the stop, else restore. A standby count that
    cannot be read restores: a building left at its DR setpoint is the worse mistake."""
    if setting == "hand_over":
        return None

    async def on_stop() -> tuple[str, str]:
        if setting == "auto":
            connected = await asyncio.to_thread(standbys)
            if connected:
                said = f"{connected} standby connected: facilities left to it (hvac.on_stop: auto)"
                return "hand_over", said
        return "restore", await release()

    return on_stop


def standbys_connected(sql: SqlEngine) -> int:
    """Standby drsched instances on this PostgreSQL database now; 0 when it cannot be read."""
    try:
        with Session(sql) as session:
            return read_lease(session).standbys
    except Exception as exc:  # the database is what failed: restoring is the safe side
        log.warning("daemon.standbys_unknown", error=f"{type(exc).__name__}: {exc}"[:200])
        return 0


@asynccontextmanager
async def openadr_ven(
    config: Config, parts: Wiring, clock: Clock | None, fence: Fence
) -> AsyncIterator[None]:
    """The OpenADR VEN (``openadr:``) beside the daemon: it runs only while this instance leads."""
    if config.openadr is None:
        yield
        return
    from scheduler.openadr.ven import Ven  # openleadr, aiohttp, lxml: only with ``openadr:``

    ven = Ven(config.openadr, parts.sql, clock or SystemClock(), fence)
    task = asyncio.create_task(ven.run(), name="drsched-openadr")
    task.add_done_callback(_ven_ended)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _ven_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("openadr.ven_stopped", error=repr(task.exception()))


def freeze_start_up() -> None:
    """Collect once, then leave every object alive now out of later collections.

    Start-up leaves ~150,000 objects (modules, SQLAlchemy's mappings, the config)
    that live as long as the process. Each full collection walked them all: 80–100
    ms, at whatever moment allocations crossed the threshold, typically a burst of
    work such as 200 submissions (issue 14). :func:`gc.freeze` keeps them out.
    """
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def after_ready(
    ready: asyncio.Event,
    load: Callable[[], None] = preload,
    settle: Callable[[], None] = freeze_start_up,
) -> AsyncIterator[None]:
    """Once the daemon is READY, in a thread: the vendor transport loaded (:func:`preload`),
    then what start-up made set aside from the garbage collector (:func:`freeze_start_up`).

    Not before: start-up to READY is kept short (issue 14). Not when first needed: the
    first of 200 submissions due at once waited for aiohttp's import, and their intents
    for a full collection of every object start-up had made (~100 ms).
    """

    async def when_ready() -> None:
        await ready.wait()
        for step in (load, settle):
            try:
                await asyncio.to_thread(step)
            except Exception as exc:  # the first vendor call imports it, and reports it
                log.warning("daemon.after_ready_failed", error=f"{type(exc).__name__}: {exc}")

    task = asyncio.create_task(when_ready(), name="drsched-after-ready")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- the process -----------------------------------------------------------------


class PlanFiles:
    """The plan files to apply: ``plans.paths``, re-read from the config on each reload.

    SIGHUP re-reads the config file so a changed ``plans.paths`` takes effect;
    an invalid config is logged and the previous paths stay.
    """

    def __init__(self, config: Config, reload_config: Callable[[], Config] | None) -> None:
        self._paths = config.plans.paths
        self._reload_config = reload_config
        self._first = True

    def current(self) -> list[str]:
        if self._reload_config is not None and not self._first:
            try:
                self._paths = self._reload_config().plans.paths
            except ConfigError as exc:
                log.error("config.reload_failed", error=str(exc), kept="previous plans.paths")
        self._first = False
        return list(self._paths)


async def serve(
    config: Config,
    *,
    notifier: Notifier,
    clock: Clock | None = None,
    reload_config: Callable[[], Config] | None = None,
) -> None:
    """The process's whole life: health server, schema, election, then the daemon.

    SQLite: one daemon per database file (a lock file) and it leads at once.
    PostgreSQL: stand by until elected; every write is fenced by the epoch.
    """
    files = PlanFiles(config, reload_config)

    async def start_daemon(fence: Fence) -> None:
        async with wired(config, clock=clock, fence=fence) as parts:
            log.info("daemon.starting", pid=os.getpid(), config=config.source)

            def apply_plans() -> str:
                paths = files.current()
                return parts.apply_plans(paths) if paths else "no plans.paths configured"

            daemon = Daemon(
                parts.engine,
                apply_plans=apply_plans,
                notifier=notifier,
                on_stop=parts.on_stop,
                on_stop_timeout=config.hvac.on_stop_timeout,
            )
            async with openadr_ven(config, parts, clock, fence), after_ready(daemon.ready):
                await daemon.run()

    with DaemonLock(config.database.url):
        await supervise_daemon(config, start_daemon, notifier=notifier)


async def supervise_daemon(
    config: Config,
    start_daemon: StartDaemon,
    *,
    notifier: Notifier,
    elector: Election | None = None,
    ready_after: float = 1.0,
) -> None:
    """The daemon under :func:`~scheduler.leadership.supervision.supervise`, from the config.

    Raises :class:`~scheduler.errors.FencedError` when leadership was lost.
    """
    async with supervised(config, elector) as parts:
        await supervise(parts, start_daemon, notifier=notifier, ready_after=ready_after)


@asynccontextmanager
async def supervised(config: Config, elector: Election | None = None) -> AsyncIterator[Supervised]:
    """The supervisor's parts: the election (PostgreSQL) and the database, closed after."""
    url = config.database.url
    election = elector or elector_for(url)
    sql = open_engine(url, busy_timeout=config.database.busy_timeout.total_seconds())
    try:
        heartbeat = Heartbeat()
        guard = DatabaseGuard(sql, url)

        def leading() -> bool:
            return election.epoch is not None

        extra = {}
        if config.openadr is not None:
            from scheduler.openadr.health import ven_check  # see :func:`openadr_ven`

            extra["openadr"] = ven_check(sql, config.openadr.vtn_url, leading)
        checks = HealthChecks(
            heartbeat,
            ping_database(sql, lambda: guard.check(prove_write=False)),
            leader=leading,
            extra=extra,
        )
        work = _count_work(config, sql)
        yield Supervised(url, config.http.listen, election, guard, heartbeat, checks, work)
    finally:
        await election.close()  # idempotent; covers a failed upgrade
        sql.dispose()


def _count_work(config: Config, sql: SqlEngine) -> CountWork:
    """Events per status and the late work (:mod:`scheduler.store.watch`), for the metrics."""

    def controls_hvac(event: PlanEvent) -> bool:
        return event.load_control() is not None and bool(targets_for(event, config.hvac.targets))

    def count() -> tuple[dict[str, int], Lateness]:
        with Session(sql) as session:
            counts = {status.value: n for status, n in repo.counts_by_status(session).items()}
            now = datetime.now(UTC)
            lead = config.dr_api.submit_lead
            return counts, watch.lateness(session, now, lead, controls_hvac)

    return count
