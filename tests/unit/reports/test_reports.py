"""The pure report core: totals, records, their digest, and what ``verify`` says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.evidence import EventEvidence, FacilityEvidence
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.hvac_reads import HvacRead, ReadPhase
from scheduler.reports.records import compare, digest, records
from scheduler.reports.render import as_csv, as_data, read_saved
from scheduler.reports.totals import totals

START = datetime(2027, 7, 15, 18, tzinfo=UTC)
END = START + timedelta(hours=2)
EVENT = PlanEvent(
    "ev",
    "vtn01",
    START,
    END,
    (
        Signal(
            "1",
            "LOAD_CONTROL",
            "x-loadControlLevelOffset",
            ("x-DEVICE_AIR_CONDITIONER",),
            max_temp=80,
            temp_offset=4,
            unit=TempUnit.F,
        ),
    ),
    (EventTarget("CE-02"),),
    dr_program="cbp",
)


def key(n: int) -> FacilityKey:
    return FacilityKey("S001", "GW-01", "IDU", f"IDU-{n:04d}")


def facility(n: int, state: str, changed: datetime, unit: str = "F") -> FacilityEvidence:
    applied = START if state in ("restored", "opted_out") else None
    return FacilityEvidence(
        key(n), state, "", "", unit, "cool", 74.0, 78.0, 74.0, applied, None, changed, 1
    )


def read(n: int, minutes: float, room: float | None, unit: str = "F", ok: bool = True) -> HvacRead:
    phase = ReadPhase.PREFETCH if minutes < 0 else ReadPhase.VERIFY
    at = START + timedelta(minutes=minutes)
    return HvacRead("ev", key(n), at, phase, ok, True, "cool", 78.0, room, unit)


EVIDENCE = EventEvidence(
    EVENT,
    "completed",
    (),
    (
        facility(1, "restored", END),
        facility(2, "opted_out", START + timedelta(minutes=30)),
        facility(3, "restored", END, unit="C"),
        facility(4, "skipped", START),
        facility(5, "failed", END),
    ),
    (
        read(1, -1, 74.0),
        read(1, 60, 75.5),
        read(1, 120, 77.0),
        read(1, 125, 99.0),  # after the window: not counted in the rise
        read(2, -1, 73.0),
        read(2, 30, 73.5),
        read(3, -1, 23.0, "C"),
        read(3, 60, 24.0, "C"),  # +1 °C = +1.8 °F
        read(3, 90, None, "C", ok=False),
        read(4, -1, 70.0),
    ),
)


def test_totals() -> None:
    figures = totals([EVIDENCE])
    assert (figures.facilities, figures.controlled, figures.opted_out) == (5, 3, 1)
    assert figures.outcomes == {"restored": 2, "opted_out": 1, "skipped": 1, "failed": 1}
    assert figures.facility_hours == pytest.approx(2 + 0.5 + 2)
    assert figures.opted_out_hours == pytest.approx(1.5)
    assert figures.opt_out_share == pytest.approx(1 / 3)
    assert figures.rises == pytest.approx(
        {
            "ev S001/GW-01/IDU/IDU-0001": 3.0,
            "ev S001/GW-01/IDU/IDU-0002": 0.5,
            "ev S001/GW-01/IDU/IDU-0003": 1.8,
        }
    )
    assert figures.rise_median == pytest.approx(1.8)
    assert figures.rise_max == pytest.approx(3.0)


def test_a_facility_without_a_baseline_has_no_rise() -> None:
    evidence = EventEvidence(
        EVENT, "completed", (), (facility(1, "restored", END),), (read(1, 5, 80),)
    )
    assert totals([evidence]).rises == {}
    assert totals([evidence]).rise_median is None


def test_records_cover_event_facilities_and_reads_and_round_trip_through_csv_and_json() -> None:
    found = records([EVIDENCE])
    assert [r["record"] for r in found].count("facility") == 5
    assert [r["record"] for r in found].count("read") == 10
    assert found[0]["program"] == "cbp"
    assert found[0]["signals"] == "LOAD_CONTROL(max=80, offset=4 F)"
    for text in (as_csv([EVIDENCE]), json.dumps(as_data([EVIDENCE], {}))):
        saved, stated = read_saved(text)
        assert saved == found
        assert stated == digest(found)


def test_a_changed_value_changes_the_digest_and_is_named() -> None:
    found = records([EVIDENCE])
    changed = [dict(r) for r in found]
    row = next(
        i for i, r in enumerate(changed) if r["record"] == "read" and r["room_temp"] == "77.0"
    )
    changed[row]["room_temp"] = "76.0"
    assert digest(changed) != digest(found)
    assert compare(changed, found) == [
        f"row {row + 1} (read ev S001/GW-01/IDU/IDU-0001 {changed[row]['at']}): "
        "room_temp '76.0' in the file, '77.0' in the database"
    ]
    assert compare(found[:-1], found) == [
        f"row {len(found)} (read ev S001/GW-01/IDU/IDU-0004 {found[-1]['at']}): "
        "in the database, not in the file"
    ]
    assert compare(found, found) == []
