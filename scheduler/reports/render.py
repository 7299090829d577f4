"""Reports as JSON data, CSV (one row per record, for settlement tools) and text tables."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scheduler.domain.evidence import EventEvidence
from scheduler.reports.records import COLUMNS, Record, digest, records
from scheduler.reports.totals import Totals, reads_by_facility, room_rise, totals

#: The ``record`` value of the CSV's last row, whose ``detail`` is the digest.
DIGEST_ROW = "digest"


def totals_data(figures: Totals) -> dict[str, Any]:
    return {
        "events": figures.events,
        "facilities": figures.facilities,
        "facilities_controlled": figures.controlled,
        "outcomes": dict(sorted(figures.outcomes.items())),
        "facility_hours_under_dr": round(figures.facility_hours, 3),
        "opted_out": figures.opted_out,
        "opt_out_share": round(figures.opt_out_share, 4),
        "opt_out_hours_share": round(figures.opt_out_hours_share, 4),
        "room_temp_rise_f": {
            "facilities": len(figures.rises),
            "median": _round(figures.rise_median),
            "max": _round(figures.rise_max),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def as_data(evidence: Sequence[EventEvidence], scope: dict[str, Any]) -> dict[str, Any]:
    """The whole report as JSON-ready data; ``records`` and ``digest`` make it checkable."""
    found = records(evidence)
    return {
        "report": "drsched DR event evidence",
        "scope": scope,
        "totals": totals_data(totals(evidence)),
        "events": [
            {
                "event_id": item.event.event_id,
                "name": item.event.name,
                "program": item.event.dr_program,
                "status": item.status,
                "start": item.event.start.isoformat(),
                "end": item.event.end.isoformat(),
                "totals": totals_data(totals([item])),
            }
            for item in evidence
        ],
        "records": found,
        "digest": digest(found),
    }


def as_csv(evidence: Sequence[EventEvidence]) -> str:
    """Every record as a CSV row, then a ``digest`` row carrying the SHA-256."""
    found = records(evidence)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(found)
    writer.writerow({c: "" for c in COLUMNS} | {"record": DIGEST_ROW, "detail": digest(found)})
    return out.getvalue()


def read_saved(text: str) -> tuple[list[Record], str | None]:
    """The records and stated digest of a saved JSON or CSV report."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        found = [{c: str(r.get(c, "")) for c in COLUMNS} for r in data.get("records", [])]
        return found, data.get("digest")
    rows = list(csv.DictReader(io.StringIO(text)))
    stated = next((r.get("detail") for r in rows if r.get("record") == DIGEST_ROW), None)
    found = [{c: r.get(c) or "" for c in COLUMNS} for r in rows if r.get("record") != DIGEST_ROW]
    return found, stated


def table_rows(item: EventEvidence) -> list[tuple[str, ...]]:
    """Per facility: setpoints with times, reads, room temperature, outcome."""
    reads = reads_by_facility(item.reads)
    rows: list[tuple[str, ...]] = []
    for f in item.facilities:
        mine = reads.get(f.key, [])
        rise = room_rise(item, mine)
        ended = f.restored_at if f.state == "restored" else f.changed_at
        rows.append(
            (
                str(f.key),
                f.state,
                _temps(f.original, f.target, f.restored, f.unit),
                _pre(f.pre_target, f.pre_at, f.unit),
                _clock(f.applied_at),
                _clock(ended) if f.state in ("restored", "opted_out", "failed") else "",
                str(len(mine)),
                "" if rise is None else f"{rise:+.1f} °F",
                "; ".join(filter(None, (f.reason, f.detail))),
            )
        )
    return rows


def _pre(target: float | None, at: datetime | None, unit: str | None) -> str:
    """The pre-conditioning setpoint and when it was sent (issue 15); '' when none."""
    if target is None:
        return ""
    return f"{target:g}{f' {unit}' if unit else ''} from {_clock(at)}"


def _temps(
    original: float | None, target: float | None, restored: float | None, unit: str | None
) -> str:
    shown = [("" if v is None else f"{v:g}") for v in (original, target, restored)]
    return " → ".join(shown) + (f" {unit}" if unit and any(shown) else "")


def _clock(instant: datetime | None) -> str:
    return "" if instant is None else instant.strftime("%Y-%m-%d %H:%M:%S")
