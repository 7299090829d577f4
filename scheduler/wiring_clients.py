"""The vendor clients from their config sections: the composition root's config → values.

Beside :mod:`scheduler.wiring` so that a command needing only a client
(``drsched hvac inventory``) does not load the whole daemon.
"""

from __future__ import annotations

import httpx

from scheduler.clients.becon.auth import load_signer
from scheduler.clients.becon.client import BeconClient
from scheduler.clients.dr.client import DrApiClient
from scheduler.clients.http import Connection, RetryPolicy
from scheduler.clock import Clock
from scheduler.config import BeconConfig, DrApiConfig


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
