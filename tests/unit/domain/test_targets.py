"""hvac.targets against an inventory: what each target covers, and what matches nothing."""

from __future__ import annotations

import pytest

from scheduler.config import HvacTarget
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.targets import (
    KnownInventory,
    covers,
    mapped_by,
    target_label,
    target_problems,
)

KEYS = [
    FacilityKey("S001", "GW-01", "IDU", "IDU-0101"),
    FacilityKey("S001", "GW-01", "IDU", "IDU-0102"),
    FacilityKey("S001", "GW-01", "AHU", "AHU-0103"),
    FacilityKey("S001", "GW-01", "ODU", "ODU-0104"),
    FacilityKey("S001", "GW-02", "IDU", "IDU-0201"),
]
KNOWN = KnownInventory.of(
    ["S001", "S002"], [("S001", "GW-01"), ("S001", "GW-02"), ("S002", "GW-01")], KEYS
)


def target(**fields: object) -> HvacTarget:
    return HvacTarget.model_validate({"ven": "CE-02", "site": "S001", "gateway": "GW-01", **fields})


@pytest.mark.parametrize(
    ("fields", "covered"),
    [
        ({}, {"IDU-0101", "IDU-0102", "AHU-0103", "ODU-0104"}),
        ({"types": ["IDU", "AHU"]}, {"IDU-0101", "IDU-0102", "AHU-0103"}),
        ({"facilities": ["IDU-0102"]}, {"IDU-0102"}),
        ({"types": ["IDU"], "facilities": ["IDU-0102", "AHU-0103"]}, {"IDU-0102"}),
        ({"gateway": "GW-02"}, {"IDU-0201"}),
        ({"site": "S002"}, set()),
    ],
)
def test_covers(fields: dict[str, object], covered: set[str]) -> None:
    t = target(**fields)
    assert {k.facility_id for k in KEYS if covers(t, k)} == covered


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"types": ["IDU", "AHU"]}, []),
        ({"facilities": ["IDU-0102"]}, []),
        ({"site": "S01"}, ["site 'S01' not found (did you mean 'S001'?)"]),
        ({"site": "X"}, ["site 'X' not found"]),
        ({"gateway": "GW-1"}, ["gateway 'GW-1' not found on site S001 (did you mean 'GW-01'?)"]),
        ({"types": ["IDU", "CHILLER"]}, ["no CHILLER facility on S001/GW-01"]),
        (
            {"facilities": ["IDU-O101"]},
            ["facility 'IDU-O101' not found on S001/GW-01 (did you mean 'IDU-0101'?)"],
        ),
        (
            {"types": ["IDU"], "facilities": ["AHU-0103"]},
            ["facility AHU-0103 is AHU, not in types [IDU]"],
        ),
        ({"site": "S002"}, ["matches no facility on S002/GW-01"]),
    ],
)
def test_problems_name_what_matches_nothing(fields: dict[str, object], problems: list[str]) -> None:
    assert target_problems(target(**fields), KNOWN) == problems


def test_unread_parts_are_not_called_missing() -> None:
    known = KnownInventory.of(["S001"], [], [], unread=[("S001", None)])
    assert target_problems(target(), known) == [
        "site S001 could not be read: the target was not checked"
    ]
    known = KnownInventory.of(["S001"], [("S001", "GW-01")], [], unread=[("S001", "GW-01")])
    assert target_problems(target(), known) == [
        "gateway S001/GW-01 could not be read: the target was not checked"
    ]


def test_mapped_by_lists_every_target_in_config_order() -> None:
    targets = [target(types=["IDU"]), target(ven="CE-03", resource="R1", facilities=["IDU-0101"])]
    mapping = mapped_by(targets, KEYS)
    assert mapping[KEYS[0]] == [0, 1]
    assert mapping[KEYS[1]] == [0]
    assert mapping[KEYS[3]] == []
    assert [target_label(t) for t in targets] == ["CE-02", "CE-03/R1"]
