"""The evidence of pre-conditioning (issue 15): which facilities, from when, to what."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from scheduler.domain.events import EventTarget, PlanEvent
from scheduler.domain.evidence import EventEvidence, FacilityEvidence
from scheduler.domain.hvac import FacilityKey
from scheduler.reports.records import COLUMNS, digest, records
from scheduler.reports.render import as_csv, read_saved, table_rows

START = datetime(2027, 7, 15, 18, tzinfo=UTC)
PRE_AT = START - timedelta(hours=1)
EVENT = PlanEvent("ev", "vtn01", START, START + timedelta(hours=2), (), (EventTarget("CE-02"),))
PLAIN = FacilityEvidence(
    FacilityKey("S001", "GW-01", "IDU", "IDU-0001"),
    "restored",
    "",
    "",
    "F",
    "cool",
    74.0,
    78.0,
    74.0,
    START,
    START + timedelta(hours=2),
    START + timedelta(hours=2),
    1,
)
PRE = replace(PLAIN, key=replace(PLAIN.key, facility_id="IDU-0002"), pre_target=72.0, pre_at=PRE_AT)
EVIDENCE = EventEvidence(EVENT, "completed", (), (PLAIN, PRE), ())


def test_the_records_say_which_facility_was_pre_conditioned_from_when_to_what() -> None:
    found = [r for r in records([EVIDENCE]) if r["record"] == "facility"]
    assert [(r["pre_target"], r["pre_at"]) for r in found] == [
        ("", ""),
        ("72.0", PRE_AT.isoformat()),
    ]


def test_the_table_shows_it() -> None:
    plain, pre = table_rows(EVIDENCE)
    assert plain[3] == ""
    assert pre[3] == f"72 F from {PRE_AT:%Y-%m-%d %H:%M:%S}"


def test_a_report_saved_before_the_columns_existed_still_verifies() -> None:
    """A record without pre-conditioning digests as it did before (the old columns only)."""
    old_columns = [c for c in COLUMNS if c not in ("pre_target", "pre_at")]
    found = records([replace(EVIDENCE, facilities=(PLAIN,))])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=old_columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(found)
    sha = hashlib.sha256()
    for record in found:
        sha.update(json.dumps([record[c] for c in old_columns], separators=(",", ":")).encode())
        sha.update(b"\n")
    saved, _ = read_saved(out.getvalue())
    assert digest(saved) == sha.hexdigest() == digest(found)


def test_pre_conditioning_is_part_of_the_digest() -> None:
    found = records([EVIDENCE])
    changed = [dict(r) for r in found]
    changed[-1]["pre_target"] = "71.0"
    assert digest(changed) != digest(found)
    saved, stated = read_saved(as_csv([EVIDENCE]))
    assert saved == found
    assert stated == digest(found)
