"""Everything a BECON account sees, read in as few calls as the API allows.

One call for the sites, one per site for its gateways, one per gateway for
its facilities (and, with ``states=True``, one gateway-wide state call per
gateway), all in parallel within the client's concurrency bound. A site or
gateway that cannot be read keeps its error and the rest is still listed:
an operator checking the config wants the whole picture, with the failures
in it. Only a failure to list the sites raises.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from scheduler.clients.becon.client import BeconClient
from scheduler.clients.becon.types import Facility, FacilityReading, Gateway, Site
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.targets import KnownInventory
from scheduler.errors import ApiError


@dataclass(frozen=True)
class GatewayInventory:
    gateway: Gateway
    facilities: tuple[Facility, ...] = ()
    states: dict[FacilityKey, FacilityReading] = field(default_factory=dict, compare=False)
    error: ApiError | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SiteInventory:
    site: Site
    gateways: tuple[GatewayInventory, ...] = ()
    error: ApiError | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Inventory:
    sites: tuple[SiteInventory, ...]

    def errors(self) -> list[ApiError]:
        found = [s.error for s in self.sites if s.error is not None]
        found += [g.error for s in self.sites for g in s.gateways if g.error is not None]
        return found

    def facilities(self) -> list[Facility]:
        return [f for s in self.sites for g in s.gateways for f in g.facilities]

    def known(self) -> KnownInventory:
        """What target checks need (:mod:`scheduler.domain.targets`)."""
        gateways = [g for s in self.sites for g in s.gateways]
        unread: list[tuple[str, str | None]] = [
            (s.site.code, None) for s in self.sites if s.error is not None
        ]
        unread += [(g.gateway.site, g.gateway.gateway_id) for g in gateways if g.error is not None]
        return KnownInventory.of(
            (s.site.code for s in self.sites),
            ((g.gateway.site, g.gateway.gateway_id) for g in gateways),
            (f.key for f in self.facilities()),
            unread,
        )


async def fetch_inventory(client: BeconClient, *, states: bool = False) -> Inventory:
    """Sites, their gateways and facilities (and states); ``ApiError`` only if sites fail."""
    sites = await client.sites()
    read = await asyncio.gather(*(_site(client, site, states) for site in sites))
    return Inventory(tuple(read))


async def _site(client: BeconClient, site: Site, states: bool) -> SiteInventory:
    try:
        gateways = await client.gateways(site.code)
    except ApiError as error:
        return SiteInventory(site, error=error)
    read = await asyncio.gather(*(_gateway(client, g, states) for g in gateways))
    return SiteInventory(site, tuple(read))


async def _gateway(client: BeconClient, gateway: Gateway, states: bool) -> GatewayInventory:
    try:
        facilities = await client.facilities(gateway.site, gateway.gateway_id)
        readings = await client.gateway_states(gateway.site, gateway.gateway_id) if states else ()
    except ApiError as error:
        return GatewayInventory(gateway, error=error)
    by_key = {r.key: r for r in readings}
    return GatewayInventory(gateway, facilities, by_key)
