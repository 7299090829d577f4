"""Which ``hvac.targets`` an event reaches, and which gateways to read for them (pure).

DESIGN.md "HVAC control": ``hvac.targets`` maps a VEN id, optionally one of
its resources, to BECON facilities. An event reaches a target when one of
its targets names the target's VEN and either the hvac target names no
resource, or the event target names no resources (the whole VEN), or the
event target lists that resource.

The gateway-wide state call is the inventory the controller needs: one call
per gateway gives every facility there and its state; :func:`covers`
(:mod:`scheduler.domain.targets`) then keeps the mapped ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scheduler.domain.events import EventTarget, PlanEvent
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.targets import TargetSpec, covers


def _reaches(target: TargetSpec, event_target: EventTarget) -> bool:
    if target.ven != event_target.ven_id:
        return False
    resources = event_target.resource_ids
    return target.resource is None or not resources or target.resource in resources


def targets_for(event: PlanEvent, targets: Sequence[TargetSpec]) -> list[TargetSpec]:
    """The hvac targets ``event`` reaches, in config order."""
    return [t for t in targets if any(_reaches(t, et) for et in event.targets)]


@dataclass(frozen=True)
class GatewayRead:
    """One gateway-wide state call: ``types`` None reads every type."""

    site: str
    gateway: str
    types: tuple[str, ...] | None


def gateway_reads(targets: Iterable[TargetSpec]) -> list[GatewayRead]:
    """One read per gateway, asking only for the types the targets there name.

    A target without ``types`` needs every type on its gateway. Sorted by
    (site, gateway) so the calls go out in the plan order.
    """
    wanted: dict[tuple[str, str], set[str] | None] = {}
    for target in targets:
        where = (target.site, target.gateway)
        if not target.types:
            wanted[where] = None
        elif where not in wanted:
            wanted[where] = set(target.types)
        elif (known := wanted[where]) is not None:
            known.update(target.types)
    return [
        GatewayRead(site, gateway, None if types is None else tuple(sorted(types)))
        for (site, gateway), types in sorted(wanted.items())
    ]


def mapped(keys: Iterable[FacilityKey], targets: Sequence[TargetSpec]) -> list[FacilityKey]:
    """The facilities any of ``targets`` covers, in (site, gateway, type, id) order.

    Targets are looked up by (site, gateway): hundreds of gateways, thousands of facilities.
    """
    by_gateway: dict[tuple[str, str], list[TargetSpec]] = {}
    for target in targets:
        by_gateway.setdefault((target.site, target.gateway), []).append(target)
    return sorted(
        {k for k in keys if any(covers(t, k) for t in by_gateway.get((k.site, k.gateway), ()))}
    )
