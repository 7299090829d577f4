"""Which BECON facilities an ``hvac.targets`` entry maps, and what in it matches nothing.

DESIGN.md "HVAC control": a target maps a VEN (optionally one of its
resources) to "a site, a gateway, facility types and optionally explicit
facility ids". A facility is covered when it is on that site and gateway,
its type is among ``types`` (when given) and its id among ``facilities``
(when given). :func:`target_problems` names every part of a target the
inventory does not have, with the nearest spelling it does have: an
operator must see a typo before a DR window finds it.

Pure: targets are anything shaped like :class:`TargetSpec` (the config's
``HvacTarget``), the inventory a set of :class:`FacilityKey`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from scheduler.domain.hvac import FacilityKey


class TargetSpec(Protocol):
    @property
    def ven(self) -> str: ...

    @property
    def resource(self) -> str | None: ...

    @property
    def site(self) -> str: ...

    @property
    def gateway(self) -> str: ...

    @property
    def types(self) -> Sequence[str]: ...

    @property
    def facilities(self) -> Sequence[str]: ...


def target_label(target: TargetSpec) -> str:
    """``CE-02`` or ``CE-03/FLOOR-2`` (VEN and resource)."""
    return f"{target.ven}/{target.resource}" if target.resource else target.ven


def covers(target: TargetSpec, key: FacilityKey) -> bool:
    return (
        key.site == target.site
        and key.gateway == target.gateway
        and (not target.types or key.facility_type in target.types)
        and (not target.facilities or key.facility_id in target.facilities)
    )


@dataclass(frozen=True)
class KnownInventory:
    """What the BECON account was seen to hold; ``unread`` sites or gateways could not be listed."""

    sites: frozenset[str]
    gateways: frozenset[tuple[str, str]]
    facilities: frozenset[FacilityKey]
    unread: frozenset[tuple[str, str | None]] = frozenset()

    @classmethod
    def of(
        cls,
        sites: Iterable[str],
        gateways: Iterable[tuple[str, str]],
        facilities: Iterable[FacilityKey],
        unread: Iterable[tuple[str, str | None]] = (),
    ) -> KnownInventory:
        return cls(frozenset(sites), frozenset(gateways), frozenset(facilities), frozenset(unread))


def _near(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def target_problems(target: TargetSpec, known: KnownInventory) -> list[str]:
    """Every part of ``target`` the inventory lacks; empty when each part matches something."""
    site, gateway = target.site, target.gateway
    if (site, None) in known.unread:
        return [f"site {site} could not be read: the target was not checked"]
    if (site, gateway) in known.unread:
        return [f"gateway {site}/{gateway} could not be read: the target was not checked"]
    if site not in known.sites:
        return [f"site {site!r} not found{_near(site, known.sites)}"]
    if (site, gateway) not in known.gateways:
        on_site = [g for s, g in known.gateways if s == site]
        return [f"gateway {gateway!r} not found on site {site}{_near(gateway, on_site)}"]
    here = [k for k in known.facilities if k.site == site and k.gateway == gateway]
    problems = [
        f"no {kind} facility on {site}/{gateway}"
        for kind in target.types
        if not any(k.facility_type == kind for k in here)
    ]
    by_id = {k.facility_id: k for k in here}
    for facility_id in target.facilities:
        found = by_id.get(facility_id)
        if found is None:
            near = _near(facility_id, by_id)
            problems.append(f"facility {facility_id!r} not found on {site}/{gateway}{near}")
        elif target.types and found.facility_type not in target.types:
            listed = ", ".join(target.types)
            problems.append(
                f"facility {facility_id} is {found.facility_type}, not in types [{listed}]"
            )
    if not problems and not any(covers(target, k) for k in here):
        problems.append(f"matches no facility on {site}/{gateway}")
    return problems


def mapped_by(
    targets: Sequence[TargetSpec], keys: Collection[FacilityKey]
) -> dict[FacilityKey, list[int]]:
    """For each facility, the indexes of the targets that cover it (in config order)."""
    return {key: [i for i, t in enumerate(targets) if covers(t, key)] for key in keys}
