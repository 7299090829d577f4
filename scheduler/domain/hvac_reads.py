"""One HVAC read kept as evidence: what a facility reported, and when, during an event.

Every state read for an event's facilities — the prefetch before the window
(the baseline) and each verification while it is controlled or restored —
is stored, so that a report can show the room temperature and setpoint over
time and a participant can be given the record of their building. A read
that failed is kept too (``ok`` False), so gaps in the evidence are visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduler.domain.hvac import FacilityKey, FacilityState


class ReadPhase(StrEnum):
    PREFETCH = "prefetch"  # before the window: the baseline
    VERIFY = "verify"  # during the window, or while restoring after it


@dataclass(frozen=True)
class HvacRead:
    event_id: str
    key: FacilityKey
    at: datetime
    phase: ReadPhase
    ok: bool
    power_on: bool | None = None
    mode: str | None = None
    set_temp: float | None = None
    room_temp: float | None = None
    unit: str | None = None


def reads_of(
    wanted: Iterable[tuple[str, FacilityKey]],
    states: Mapping[FacilityKey, FacilityState | None],
    at: datetime,
    phase: ReadPhase,
) -> list[HvacRead]:
    """The reads of ``(event_id, facility)`` pairs from what a read call returned."""
    found = []
    for event_id, key in wanted:
        state = states.get(key)
        if state is None:
            found.append(HvacRead(event_id, key, at, phase, ok=False))
            continue
        found.append(
            HvacRead(
                event_id,
                key,
                at,
                phase,
                ok=True,
                power_on=state.power_on,
                mode=state.mode.value if state.mode else None,
                set_temp=state.set_temp,
                room_temp=state.room_temp,
                unit=state.unit.value if state.unit else None,
            )
        )
    return found
