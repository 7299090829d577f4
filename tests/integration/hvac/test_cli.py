"""``drsched hvac status`` and the facilities of ``drsched events show``, on a real database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.cli import main
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.store import open_engine
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.fakes.hvac import event

S = ControlState
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


def _record(n: int, state: ControlState, **kw: Any) -> ControlRecord:
    base = ControlRecord(
        "ev",
        FacilityKey("S001", "GW-01", "IDU", f"IDU-{n:04d}"),
        state,
        window_end=T0 + timedelta(hours=1),
        created_at=T0 - timedelta(minutes=1),
        updated_at=T0,
        reason="cool: 24 °C + offset 2 °C -> 26 °C",
        unit=TempUnit.C,
        mode=Mode.COOL,
        original=24.0,
        target=26.0,
    )
    return replace(base, **kw)


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    upgrade(sqlite_url)
    sql = open_engine(sqlite_url)
    try:
        DaemonStore(sql).apply_events([event("ev", T0)], T0 - timedelta(days=1))
        ControlStore(sql).insert(
            [
                _record(1, S.APPLIED, applied_at=T0, due_at=T0 + timedelta(minutes=5)),
                _record(2, S.OPTED_OUT, applied_at=T0, detail="occupant changed the setpoint"),
                _record(3, S.SKIPPED, reason="powered off", target=None),
                _record(
                    4,
                    S.RESTORED,
                    applied_at=T0,
                    restored=24.0,
                    restored_at=T0 + timedelta(hours=1),
                ),
            ]
        )
    finally:
        sql.dispose()
    for name in ("DRSCHED_CONFIG",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DRSCHED_DATABASE__URL", sqlite_url)
    return sqlite_url


def test_hvac_status_lists_what_is_under_control(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hvac", "status", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["count"] == 1
    (only,) = listed["facilities"]
    assert (only["facility_id"], only["original"], only["dr_setpoint"]) == ("IDU-0001", 24, 26)
    assert only["applied_at"] == T0.isoformat()
    assert main(["hvac", "status"]) == 0
    text = capsys.readouterr().out
    assert "IDU-0001" in text
    assert "26 °C" in text
    assert "read back at" in text


def test_hvac_status_with_nothing_under_control(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(sqlite_url)
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    monkeypatch.setenv("DRSCHED_DATABASE__URL", sqlite_url)
    assert main(["hvac", "status"]) == 0
    assert "no facility is under DR control" in capsys.readouterr().out


def test_events_show_lists_each_facility(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "show", "ev", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    by_id = {f["facility_id"]: f for f in shown["facilities"]}
    assert by_id["IDU-0002"]["state"] == "opted_out"
    assert by_id["IDU-0002"]["detail"] == "occupant changed the setpoint"
    assert by_id["IDU-0003"]["reason"] == "powered off"
    assert by_id["IDU-0004"]["restored"] == 24
    assert main(["events", "show", "ev"]) == 0
    text = capsys.readouterr().out
    assert "HVAC facilities" in text
    assert "powered off" in text
    assert "occupant changed the setpoint" in text
