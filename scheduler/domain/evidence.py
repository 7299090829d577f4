"""What drsched did for one event, as stored: the evidence a report is made of.

The store gathers it (:mod:`scheduler.store.evidence`); :mod:`scheduler.reports`
turns it into totals, records with a digest, and tables, CSV, JSON or HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.domain.events import PlanEvent
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.hvac_reads import HvacRead
from scheduler.domain.lifecycle import Transition


@dataclass(frozen=True)
class FacilityEvidence:
    """One facility's control record: its setpoints, their times, and how it ended."""

    key: FacilityKey
    state: str
    reason: str
    detail: str
    unit: str | None
    mode: str | None
    original: float | None
    target: float | None
    restored: float | None
    applied_at: datetime | None
    restored_at: datetime | None
    changed_at: datetime  # when it reached ``state`` (the opt-out time for ``opted_out``)
    attempts: int
    #: The pre-conditioning setpoint sent before the window, and when (issue 15).
    pre_target: float | None = None
    pre_at: datetime | None = None


@dataclass(frozen=True)
class EventEvidence:
    event: PlanEvent
    status: str
    timeline: tuple[Transition, ...]
    facilities: tuple[FacilityEvidence, ...]
    reads: tuple[HvacRead, ...]
