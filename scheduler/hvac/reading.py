"""Reading facility states: one call per gateway, in parallel, failures as values.

BECON Contract: the gateway-wide state call returns every facility of a
gateway (of the types asked for) in one call; use it to read many states.
A gateway alone with one facility to look at is read with the one-facility
call instead (a smaller answer). A call that fails leaves its facilities
unread (None): the caller decides what that means (try again shortly, or
restore blind).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

import structlog

from scheduler.domain.control_records import ControlRecord
from scheduler.domain.hvac import FacilityKey, FacilityState
from scheduler.errors import ApiError
from scheduler.hvac.mapping import GatewayRead
from scheduler.hvac.ports import BeconPort

log = structlog.get_logger("scheduler.hvac")

States = dict[FacilityKey, FacilityState]


async def _read_one(
    port: BeconPort, read: GatewayRead, slots: asyncio.Semaphore
) -> States | GatewayRead:
    """A gateway's states, or the read itself when it failed."""
    try:
        async with slots:
            readings = await port.gateway_states(read.site, read.gateway, read.types)
    except ApiError as error:
        log.warning(
            "hvac.read_failed",
            site=read.site,
            gateway=read.gateway,
            error=str(error),
            message_id=error.message_id,
        )
        return read
    return {r.key: r.to_domain() for r in readings}


async def read_gateways(
    port: BeconPort, reads: Sequence[GatewayRead], slots: asyncio.Semaphore
) -> tuple[States, list[GatewayRead]]:
    """Every gateway's states, and the reads that failed."""
    answers = await asyncio.gather(*(_read_one(port, r, slots) for r in reads))
    states: States = {}
    failed: list[GatewayRead] = []
    for answer in answers:
        if isinstance(answer, GatewayRead):
            failed.append(answer)
        else:
            states.update(answer)
    return states, failed


async def _read_facility(
    port: BeconPort, key: FacilityKey, slots: asyncio.Semaphore
) -> States | GatewayRead:
    try:
        async with slots:
            reading = await port.state(key)
    except ApiError as error:
        log.warning(
            "hvac.read_failed", facility=str(key), error=str(error), message_id=error.message_id
        )
        return GatewayRead(key.site, key.gateway, (key.facility_type,))
    return {reading.key: reading.to_domain()}


async def read_records(
    port: BeconPort, records: Sequence[ControlRecord], slots: asyncio.Semaphore
) -> dict[FacilityKey, FacilityState | None]:
    """The current state of each record's facility (None when it could not be read)."""
    by_gateway: dict[tuple[str, str], list[FacilityKey]] = defaultdict(list)
    for record in records:
        by_gateway[(record.key.site, record.key.gateway)].append(record.key)
    calls = []
    for (site, gateway), keys in sorted(by_gateway.items()):
        if len(keys) == 1:
            calls.append(_read_facility(port, keys[0], slots))
        else:
            types = tuple(sorted({k.facility_type for k in keys}))
            calls.append(_read_one(port, GatewayRead(site, gateway, types), slots))
    found: States = {}
    for answer in await asyncio.gather(*calls):
        if not isinstance(answer, GatewayRead):
            found.update(answer)
    return {r.key: found.get(r.key) for r in records}
