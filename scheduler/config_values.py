"""The config turned into the plain values the parts take: the composition root's half.

The vendor clients from their config sections, the engine's policy and HVAC
control's settings. Beside :mod:`scheduler.wiring` so that a command needing
only a client (``drsched hvac inventory``) does not load the whole daemon.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from scheduler.clients.becon.auth import load_signer
from scheduler.clients.becon.client import BeconClient
from scheduler.clients.dr.client import DrApiClient
from scheduler.clients.http import Connection, RetryPolicy
from scheduler.clock import Clock
from scheduler.config import BeconConfig, Config, DrApiConfig
from scheduler.domain.hvac import DEFAULT_RESTORE_SPACING
from scheduler.engine.decide import Policy
from scheduler.hvac.planning import Settings
from scheduler.plans.shaping import parse_ramp

#: Restore slots: at most this many over ``hvac.restore_stagger`` (30 s apart over 10 min)...
RESTORE_SLOTS = 20
#: ...and never closer than this (each slot costs a state read and a PUT per gateway).
MIN_RESTORE_SPACING = timedelta(seconds=1)


def connection_from(section: DrApiConfig | BeconConfig) -> Connection:
    """Where and how to reach a vendor API (timeouts, pool size, retries)."""
    return Connection(
        base_url=section.base_url,
        timeout=section.timeout,
        max_connections=section.max_concurrency,
        retry=RetryPolicy.from_settings(section),
    )


def dr_client(
    section: DrApiConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> DrApiClient:
    """The DR Requests client with its own pooled connection (use it as ``async with``)."""
    return DrApiClient.connect(
        connection_from(section),
        service_id=section.service_id,
        service_token=section.service_token,
        country_code=section.country_code,
        transport=transport,
    )


def becon_client(
    section: BeconConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> BeconClient:
    """The BECON client with its own pooled connection (use it as ``async with``).

    The signer is imported first: a bad ``becon.signer`` is a ``ConfigError``
    before any connection is made.
    """
    signer = load_signer(section.signer)
    return BeconClient.connect(
        connection_from(section),
        service_id=section.service_id,
        service_key=section.service_key,
        secret_key=section.secret_key,
        signer=signer,
        clock=clock,
        max_concurrency=section.max_concurrency,
        transport=transport,
    )


def policy_from(config: Config) -> Policy:
    return Policy(submit_lead=config.dr_api.submit_lead, prefetch_lead=config.hvac.prefetch_lead)


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
