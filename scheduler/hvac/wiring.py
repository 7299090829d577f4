"""HVAC control built from the daemon config (the daemon's wiring, so it may import anything).

With ``hvac.targets`` empty, HVAC control is off (``NoHvac``) and BECON is
never called. Otherwise the controller gets its own BECON client (pooled
connection, ``becon.max_concurrency``, retries from ``becon.*``), closed when
the daemon stops, and the control records of the daemon's database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlalchemy import Engine

from scheduler.clients.becon import BeconClient
from scheduler.clock import Clock
from scheduler.config import Config
from scheduler.domain.hvac import DEFAULT_RESTORE_SPACING
from scheduler.engine.hvac import HvacControl, NoHvac
from scheduler.hvac.controller import HvacController
from scheduler.hvac.planning import Settings
from scheduler.plans.shaping import parse_ramp
from scheduler.store.control import ControlStore
from scheduler.store.fenced import Fence
from scheduler.store.reads import ReadStore
from scheduler.store_gateway import StoreGateway

#: Restore slots: at most this many over ``hvac.restore_stagger`` (30 s apart over 10 min)...
RESTORE_SLOTS = 20
#: ...and never closer than this (each slot costs a state read and a PUT per gateway).
MIN_RESTORE_SPACING = timedelta(seconds=1)


def settings_from(config: Config) -> Settings:
    """The controller's settings; restore slots scale with the stagger (1 s to 30 s apart)."""
    hvac = config.hvac
    spacing = min(
        DEFAULT_RESTORE_SPACING, max(hvac.restore_stagger / RESTORE_SLOTS, MIN_RESTORE_SPACING)
    )
    return Settings(
        verify_interval=hvac.verify_interval,
        restore_stagger=hvac.restore_stagger,
        randomize_start=hvac.randomize_start,
        ramp=parse_ramp(hvac.restore_ramp) if hvac.restore_ramp else None,
        override=hvac.override,
        auto_mode=hvac.auto_mode,
        max_concurrency=config.becon.max_concurrency,
        restore_spacing=spacing,
    )


@asynccontextmanager
async def hvac_control(
    config: Config,
    sql: Engine,
    clock: Clock,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    fence: Fence | None = None,
    gateway: StoreGateway | None = None,
) -> AsyncIterator[HvacControl]:
    """The controller (or ``NoHvac``) for the daemon's life; its BECON client closed after.

    ``gateway``: the daemon's one bridge to the store, shared with the engine.
    """
    if not config.hvac.targets:
        yield NoHvac()
        return
    async with BeconClient.from_config(config.becon, transport=transport, clock=clock) as client:
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
