"""``drsched report`` of a run against the simulator, checked against the simulator's own
records (its control log and facility states), on SQLite and PostgreSQL; ``report
verify`` accepts the saved CSV and JSON and names a changed row."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduler import cli
from scheduler.domain.evidence import EventEvidence
from scheduler.domain.hvac import FacilityKey
from scheduler.reports.totals import totals
from scheduler.store.evidence import evidence_of
from tests.support.harness.hvac import World, config, peak, world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
START = T0 + timedelta(minutes=10)
END = START + timedelta(minutes=30)


async def _run(w: World) -> tuple[FacilityKey, FacilityKey]:
    """One event; an occupant takes one facility back, another goes offline."""
    w.apply(peak("ev", START, minutes=30))
    await w.run_until(START - timedelta(seconds=30))  # prefetched, nothing sent yet
    records = w.records("ev")
    planned = [r for r in records if r.state.value == "planned" and r.unit is not None]
    moved, dark = planned[0], planned[-1]
    await w.occupant(dark.key, offline=True)
    await w.run_until(START + timedelta(minutes=2))
    await w.occupant(moved.key, setTemp=moved.original)
    await w.run_until(END + timedelta(minutes=15))
    return moved.key, dark.key


@pytest.fixture
async def ran(db_url: str, tmp_path: Path) -> tuple[EventEvidence, dict[str, Any], Path]:
    async with world(db_url, T0, config("respect")) as w:
        moved, dark = await _run(w)
        facilities = await w.facilities()
        puts = await w.controls()
        with Session(w.store.engine) as session:
            evidence = evidence_of(session, "ev")
    cfg = tmp_path / "drsched.yaml"
    cfg.write_text(f"database: {{url: '{db_url}'}}\n")
    sim = {"facilities": facilities, "puts": puts, "moved": moved, "dark": dark}
    return evidence, sim, cfg


def _dr_setpoints(puts: list[dict[str, Any]]) -> dict[FacilityKey, float]:
    """Facility -> setpoint of the start's successful PUTs, from the simulator's log."""
    found: dict[FacilityKey, float] = {}
    for put in puts:
        if put["time"] != START.isoformat():
            continue
        for control, result in zip(put["controls"], put["results"], strict=True):
            if result["result"] == "success":
                key = FacilityKey(
                    put["site"], put["gateway"], put["facility_type"], control["facilityId"]
                )
                found[key] = float(control["setTemp"])
    return found


async def test_report_figures_agree_with_the_simulator(
    ran: tuple[EventEvidence, dict[str, Any], Path],
) -> None:
    evidence, sim, _ = ran
    facilities: dict[FacilityKey, dict[str, Any]] = sim["facilities"]
    applied = _dr_setpoints(sim["puts"])
    moved, dark = sim["moved"], sim["dark"]
    by_key = {f.key: f for f in evidence.facilities}
    figures = totals([evidence])

    # Controlled: every facility the simulator took a DR setpoint for (not the offline one).
    assert figures.controlled == len(applied)
    assert all(by_key[k].target == v for k, v in applied.items())
    assert figures.opted_out == 1
    assert by_key[moved].state == "opted_out"
    assert by_key[moved].changed_at == START + timedelta(minutes=5)
    assert by_key[dark].state == "failed"
    assert "offline" in by_key[dark].detail
    # Restored ones are back at their original setpoint in the simulator.
    restored = [f for f in evidence.facilities if f.state == "restored"]
    assert len(restored) == len(applied) - 1
    assert all(facilities[f.key]["setTemp"] == f.original == f.restored for f in restored)
    # Facility-hours: restored ones the whole 30 min, the moved one 5 min, the offline none.
    assert figures.facility_hours == pytest.approx((len(applied) - 1) * 0.5 + 5 / 60)
    assert figures.opted_out_hours == pytest.approx(25 / 60)
    # The simulator keeps room temperatures still: every rise is 0 and read as such.
    last_room = {r.key: r.room_temp for r in evidence.reads if r.ok}
    assert all(last_room[f.key] == facilities[f.key]["roomTemp"] for f in restored)
    assert (figures.rise_median, figures.rise_max) == (0.0, 0.0)
    assert len(figures.rises) == len(applied)


def _cli(cfg: Path, *argv: str) -> int:
    return cli.main(["--config", str(cfg), *argv])


@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_report_verify_accepts_the_saved_report_and_names_a_changed_row(
    ran: tuple[EventEvidence, dict[str, Any], Path],
    tmp_path: Path,
    fmt: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, sim, cfg = ran
    saved = tmp_path / f"ev.{fmt}"
    assert _cli(cfg, "report", "ev", "--format", fmt, "-o", str(saved)) == 0
    assert _cli(cfg, "report", "verify", str(saved)) == 0
    assert "match the database" in capsys.readouterr().out

    moved = str(sim["moved"])
    text = saved.read_text()
    if fmt == "json":
        data = json.loads(text)
        row = next(
            i
            for i, r in enumerate(data["records"])
            if r["record"] == "facility" and r["facility"] == moved
        )
        data["records"][row]["state"] = "restored"
        saved.write_text(json.dumps(data))
    else:
        lines = text.splitlines()
        row = next(i for i, line in enumerate(lines) if f"facility,ev,{moved}," in line) - 1
        lines[row + 1] = lines[row + 1].replace(",opted_out,", ",restored,")
        saved.write_text("\n".join(lines) + "\n")
    assert _cli(cfg, "report", "verify", str(saved)) == 1
    err = capsys.readouterr().err
    assert "its records do not match its own SHA-256" in err
    assert (
        f"row {row + 1} (facility ev {moved}): state 'restored' in the file, "
        "'opted_out' in the database"
    ) in err


async def test_report_formats(
    ran: tuple[EventEvidence, dict[str, Any], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence, _, cfg = ran
    assert _cli(cfg, "report", "ev") == 0
    out = capsys.readouterr().out
    assert "event ev (completed)" in out
    assert "opted_out" in out
    assert "records:" in out
    assert "sha256:" in out
    html = tmp_path / "ev.html"
    assert _cli(cfg, "report", "ev", "--format", "html", "-o", str(html)) == 0
    page = html.read_text()
    for ident in ("room-median", "room-band", "setpoint-median", "worst-1", "outcomes", "window"):
        assert f'id="{ident}"' in page, ident
    # Nothing to fetch: no script, no style sheet, no linked image or font.
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    day = f"{START:%Y-%m-%d}"
    assert _cli(cfg, "report", "--from", day, "--to", day, "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["event_id"] for e in data["events"]] == ["ev"]
    assert data["totals"]["facilities_controlled"] == totals([evidence]).controlled
