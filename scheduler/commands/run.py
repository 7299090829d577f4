"""`drsched run`: the daemon (systemd ``Type=notify``; SIGHUP reloads, SIGTERM stops).

This module is the daemon's wiring — the one place that joins the engine to
the store, the DR client, the plans and systemd. Schema: the daemon brings
the database to the current schema at start-up (Alembic ``upgrade head``, a
no-op when it is current), exactly as ``drsched db upgrade`` would, so a
fresh SQLite database just works; run ``drsched db upgrade`` yourself first
if you prefer to migrate under supervision.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from scheduler.clock import Clock, SystemClock
from scheduler.commands._common import get_config
from scheduler.commands._supervise import supervise
from scheduler.config import Config
from scheduler.engine.daemon import Daemon
from scheduler.engine.decide import Policy
from scheduler.engine.hvac import HvacControl
from scheduler.engine.leadership import Fence
from scheduler.engine.lock import DaemonLock
from scheduler.engine.runner import Engine
from scheduler.errors import ConfigError, DrschedError, FencedError
from scheduler.store_gateway import StoreGateway
from scheduler.systemd import Notifier

log = structlog.get_logger("scheduler.run")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the daemon: submit events, follow their status, control HVAC",
        description="Run the drsched daemon in the foreground (systemd Type=notify). "
        "SIGHUP re-reads plans.paths; SIGTERM/SIGINT stop gracefully.",
    )
    parser.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    config = get_config(args)
    setup_logging(config)
    try:
        asyncio.run(serve(config, notifier=Notifier(), reload_config=lambda: get_config(args)))
    except FencedError as exc:  # systemd restarts us into standby
        log.error("leadership.lost", error=str(exc))
        return 3
    return 0


def setup_logging(config: Config) -> None:
    """``scheduler.logging`` when present (JSON lines off a TTY, console on one)."""
    try:
        drsched_logging = importlib.import_module("scheduler.logging")
    except ImportError:  # not built yet: structlog's defaults
        return
    configure: Callable[..., None] | None = getattr(drsched_logging, "configure", None)
    if configure is not None:
        configure(level=config.logging.level, format=config.logging.format)


def require(module: str) -> Any:
    """Another part of drsched, imported when the daemon is wired (not at CLI start-up).

    Keeps ``drsched --help`` fast and says clearly which part is missing in a
    partial build.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DrschedError(f"{module} is not available in this build: {exc}") from exc


def policy_from(config: Config) -> Policy:
    return Policy(submit_lead=config.dr_api.submit_lead, prefetch_lead=config.hvac.prefetch_lead)


@dataclass
class Wiring:
    """The daemon's parts, built from the config (also used by ``drsched demo``)."""

    engine: Engine
    #: ``apply(paths) -> summary``: the same function as ``drsched plan apply``.
    apply_plans: Callable[[list[str]], str]
    #: The database (SQLAlchemy engine), for parts beside the engine (the OpenADR VEN).
    sql: Any = None
    #: ``hvac.on_stop: restore``: restores every facility under control (None: hand_over).
    on_stop: Callable[[], Awaitable[str]] | None = None


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

    HVAC control is the controller of :mod:`scheduler.hvac` with its own
    BECON client when ``hvac.targets`` maps anything, else ``NoHvac``
    (``hvac`` overrides it). ``transport`` serves both vendor clients (the
    simulator answers both in tests). ``fence`` (the leader's epoch check)
    runs first in every write transaction.
    """
    store, migrate = require("scheduler.store"), require("scheduler.store.migrate")
    daemon_store = require("scheduler.store.daemon")
    dr_api = require("scheduler.clients.dr_api")
    hvac_wiring = require("scheduler.hvac.wiring")
    clock = clock or SystemClock()
    url = config.database.url
    await asyncio.to_thread(migrate.upgrade, url)
    sql = store.open_engine(url, busy_timeout=config.database.busy_timeout.total_seconds())
    gateway = StoreGateway()  # one bridge to the store, for the engine and HVAC control
    try:
        async with AsyncExitStack() as stack:
            api = await stack.enter_async_context(
                dr_api.DrApiClient.from_config(config.dr_api, transport=transport)
            )
            if hvac is None:
                hvac = await stack.enter_async_context(
                    hvac_wiring.hvac_control(
                        config, sql, clock, transport=transport, fence=fence, gateway=gateway
                    )
                )
            engine = Engine(
                daemon_store.DaemonStore(sql, fence),
                api,
                clock,
                policy_from(config),
                hvac=hvac,
                gateway=gateway,
                max_concurrency=config.dr_api.max_concurrency,
            )
            rules = config.program_rules()
            yield Wiring(
                engine,
                daemon_store.plan_applier(sql, clock, fence, rules),
                sql,
                _on_stop(config, hvac, clock),
            )
    finally:
        sql.dispose()


@asynccontextmanager
async def openadr_ven(
    config: Config, parts: Wiring, clock: Clock | None, fence: Fence
) -> AsyncIterator[None]:
    """The OpenADR VEN (``openadr:``) beside the daemon: it runs only while this instance leads."""
    if config.openadr is None:
        yield
        return
    ven_module = require("scheduler.openadr.ven")
    ven = ven_module.Ven(config.openadr, parts.sql, clock or SystemClock(), fence)
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


def _on_stop(config: Config, hvac: object, clock: Clock) -> Callable[[], Awaitable[str]] | None:
    """``hvac.on_stop: restore``: the controller's release, at the instant of the stop.

    Only the BECON controller has one (``NoHvac`` holds nothing); ``hand_over``
    leaves the facilities to the standby that takes over.
    """
    release = getattr(hvac, "release", None)
    if config.hvac.on_stop != "restore" or release is None:
        return None

    async def restore() -> str:
        summary: str = await release(clock.now())
        return summary

    return restore


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
            async with openadr_ven(config, parts, clock, fence):
                await daemon.run()

    with DaemonLock(config.database.url):
        await supervise(config, start_daemon, notifier=notifier)
