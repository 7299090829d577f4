"""Which hvac.targets an event reaches, which gateways are read, which facilities are mapped."""

from __future__ import annotations

import pytest

from scheduler.domain.events import EventTarget
from scheduler.domain.hvac import FacilityKey
from scheduler.hvac.mapping import GatewayRead, gateway_reads, mapped, targets_for
from tests.support.fakes.hvac import Target, event

PLAIN = Target("CE-02", "S1", "GW1")
FLOOR = Target("CE-03", "S1", "GW2", facilities=("IDU-0201",), resource="FLOOR-2")


@pytest.mark.parametrize(
    ("event_targets", "expected"),
    [
        ((EventTarget("CE-02"),), [PLAIN]),
        ((EventTarget("CE-02", ("CE-TV",)),), [PLAIN]),  # no resource in the mapping: whole VEN
        ((EventTarget("CE-03"),), [FLOOR]),  # the event targets the whole VEN
        ((EventTarget("CE-03", ("FLOOR-2",)),), [FLOOR]),
        ((EventTarget("CE-03", ("FLOOR-1",)),), []),  # another resource of the VEN
        ((EventTarget("CE-09"),), []),
        ((EventTarget("CE-03", ("FLOOR-2",)), EventTarget("CE-02")), [PLAIN, FLOOR]),
    ],
)
def test_targets_for(event_targets: tuple[EventTarget, ...], expected: list[Target]) -> None:
    from dataclasses import replace

    plan = replace(event(), targets=event_targets)
    assert targets_for(plan, [PLAIN, FLOOR]) == expected


def test_one_read_per_gateway_with_the_types_asked_for() -> None:
    targets = [
        Target("A", "S2", "GW1", ("AHU",)),
        Target("B", "S1", "GW1", ("IDU",)),
        Target("C", "S1", "GW1", ("AHU", "IDU")),
        Target("D", "S1", "GW2"),
        Target("E", "S1", "GW2", ("IDU",)),
    ]
    assert gateway_reads(targets) == [
        GatewayRead("S1", "GW1", ("AHU", "IDU")),
        GatewayRead("S1", "GW2", None),  # one target wants every type
        GatewayRead("S2", "GW1", ("AHU",)),
    ]


def test_mapped_keeps_covered_facilities_in_order() -> None:
    keys = [
        FacilityKey("S1", "GW2", "IDU", "IDU-0202"),
        FacilityKey("S1", "GW2", "IDU", "IDU-0201"),
        FacilityKey("S1", "GW1", "ODU", "ODU-1"),
        FacilityKey("S1", "GW1", "IDU", "IDU-1"),
    ]
    assert mapped(keys, [PLAIN, FLOOR]) == sorted([keys[1], keys[2], keys[3]]), (
        "FLOOR maps one facility id only"
    )
