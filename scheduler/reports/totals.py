"""The figures of a report: facilities controlled, facility-hours under DR, opt-out
share, and the room temperature rise over the window (median and max).

A facility *took part* when it was (or was being) held at a DR setpoint. Its
time under DR runs from its DR setpoint (or the window's start) to the
window's end, or to its opt-out. Its rise is the highest room temperature read
during the window less the last one read before it (the prefetch baseline);
rises are in °F (a °C facility's difference × 9/5) so facilities compare.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from scheduler.domain.dr_programs import TOOK_PART
from scheduler.domain.evidence import EventEvidence, FacilityEvidence
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.hvac_reads import HvacRead


@dataclass(frozen=True)
class Totals:
    events: int
    facilities: int
    controlled: int
    outcomes: dict[str, int]
    facility_hours: float
    opted_out: int
    opted_out_hours: float
    rises: dict[str, float]  # facility -> rise in °F (facilities with a baseline and a read)

    @property
    def opt_out_share(self) -> float:
        return self.opted_out / self.controlled if self.controlled else 0.0

    @property
    def opt_out_hours_share(self) -> float:
        return self.opted_out_hours / self.facility_hours if self.facility_hours else 0.0

    @property
    def rise_median(self) -> float | None:
        return statistics.median(self.rises.values()) if self.rises else None

    @property
    def rise_max(self) -> float | None:
        return max(self.rises.values()) if self.rises else None


def to_f(value: float, unit: str | None) -> float:
    """A temperature in °F (°C converted); °F or unknown units are kept as read."""
    return value * 9 / 5 + 32 if unit == "C" else value


def totals(evidence: Sequence[EventEvidence]) -> Totals:
    outcomes: Counter[str] = Counter()
    hours = opted_hours = 0.0
    controlled = opted = facilities = 0
    rises: dict[str, float] = {}
    for item in evidence:
        reads = reads_by_facility(item.reads)
        for facility in item.facilities:
            facilities += 1
            outcomes[facility.state] += 1
            if facility.state not in TOOK_PART:
                continue
            controlled += 1
            start, end, out = under_dr(item, facility)
            hours += (end - start).total_seconds() / 3600
            if facility.state == "opted_out":
                opted += 1
                opted_hours += (item.event.end - out).total_seconds() / 3600
            rise = room_rise(item, reads.get(facility.key, []))
            if rise is not None:
                rises[f"{item.event.event_id} {facility.key}"] = rise
    return Totals(
        len(evidence), facilities, controlled, dict(outcomes), hours, opted, opted_hours, rises
    )


def under_dr(
    item: EventEvidence, facility: FacilityEvidence
) -> tuple[datetime, datetime, datetime]:
    """(start, end, opt-out time) of a facility's time under DR, inside the window."""
    window_start, window_end = item.event.start, item.event.end
    start = min(max(facility.applied_at or window_start, window_start), window_end)
    out = min(max(facility.changed_at, start), window_end)
    end = out if facility.state == "opted_out" else window_end
    return start, end, out


def reads_by_facility(reads: Sequence[HvacRead]) -> dict[FacilityKey, list[HvacRead]]:
    found: dict[FacilityKey, list[HvacRead]] = {}
    for read in reads:
        found.setdefault(read.key, []).append(read)
    return found


def room_rise(item: EventEvidence, reads: Sequence[HvacRead]) -> float | None:
    """Highest room temperature in the window less the last before it, in °F."""
    start, end = item.event.start, item.event.end
    good = [r for r in reads if r.ok and r.room_temp is not None]
    before = [r for r in good if r.at <= start]
    during = [r for r in good if start < r.at <= end]
    if not before or not during:
        return None
    base = before[-1]
    assert base.room_temp is not None
    peak = max(to_f(r.room_temp or 0.0, r.unit) for r in during)
    return peak - to_f(base.room_temp, base.unit)
