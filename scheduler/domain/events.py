"""A DR event as the rest of drsched sees it, independent of YAML, SQL and HTTP.

Plans produce :class:`PlanEvent` values; the store keeps them; the DR client
maps them to the API body. Instants are timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.domain.shaping import Shaping


class TempUnit(StrEnum):
    F = "F"
    C = "C"


LOAD_CONTROL = "LOAD_CONTROL"
SIMPLE = "SIMPLE"
AIR_CONDITIONER = "x-DEVICE_AIR_CONDITIONER"

#: The one signal type each signal name goes with (DR spec, POST /requests).
SIGNAL_TYPES: dict[str, str] = {SIMPLE: "level", LOAD_CONTROL: "x-loadControlLevelOffset"}


@dataclass(frozen=True)
class Signal:
    signal_id: str
    name: str
    type: str
    targets: tuple[str, ...]
    min_temp: float | None = None
    max_temp: float | None = None
    temp_offset: float | None = None
    unit: TempUnit | None = None

    @property
    def controls_air_conditioners(self) -> bool:
        """True for the LOAD_CONTROL signal that drives HVAC setpoints."""
        return self.name == LOAD_CONTROL and AIR_CONDITIONER in self.targets


@dataclass(frozen=True)
class EventTarget:
    ven_id: str
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanEvent:
    """One DR event: a requestID, a window and what it asks of whom.

    ``source`` ("file:line") and ``program_id`` say where it came from and are
    not part of its content: moving an event between files does not change it.
    ``dr_program`` names the DR program whose rules it obeys (``program:``).
    """

    event_id: str
    vtn_id: str
    start: datetime
    end: datetime
    signals: tuple[Signal, ...]
    targets: tuple[EventTarget, ...]
    name: str | None = None
    program_id: str | None = None
    source: str = field(default="", compare=False)
    dr_program: str | None = None
    #: Load shaping the plan asks for (issue 15); None: the config's defaults.
    shaping: Shaping | None = None

    def __post_init__(self) -> None:
        for instant in (self.start, self.end):
            if instant.tzinfo is None or instant.utcoffset() != UTC.utcoffset(None):
                raise ValueError(f"event {self.event_id}: instants must be UTC-aware")

    def content(self) -> dict[str, Any]:
        """What the event asks for, as JSON-ready data (no provenance).

        Written out rather than ``dataclasses.asdict`` (a deep copy): plan
        apply fingerprints every event of every file.
        """
        return {
            "event_id": self.event_id,
            "vtn_id": self.vtn_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "name": self.name,
            "signals": [_signal_content(s) for s in self.signals],
            "targets": [
                {"ven_id": t.ven_id, "resource_ids": list(t.resource_ids)} for t in self.targets
            ],
            **({"shaping": self.shaping.content()} if self.shaping is not None else {}),
        }

    def fingerprint(self) -> str:
        """A stable hash of the content: equal fingerprints mean nothing to re-submit."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        # Cached: plan apply asks twice per event (diff, then the row); the
        # instance is frozen. A JSON list (not ``content()``'s sorted dict) is
        # just as stable and cheaper for 20,000 events.
        canonical: list[Any] = [
            self.event_id,
            self.vtn_id,
            self.start.isoformat(),
            self.end.isoformat(),
            self.name,
            [list(_signal_content(s).values()) for s in self.signals],
            [[t.ven_id, list(t.resource_ids)] for t in self.targets],
        ]
        if self.dr_program is not None:  # only then, so older fingerprints stay valid
            canonical.append(self.dr_program)
        if self.shaping is not None:  # only when given: older fingerprints stay the same
            canonical.append(self.shaping.content())
        return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()

    @property
    def ven_ids(self) -> frozenset[str]:
        return frozenset(t.ven_id for t in self.targets)

    def load_control(self) -> Signal | None:
        """The signal that drives HVAC setpoints, if the event has one."""
        return next((s for s in self.signals if s.controls_air_conditioners), None)


def _number(value: float | None) -> float | None:
    """80 and 80.0 are the same bound (YAML gives ints, the database floats)."""
    return None if value is None else float(value)


def _signal_content(signal: Signal) -> dict[str, Any]:
    return {
        "signal_id": signal.signal_id,
        "name": signal.name,
        "type": signal.type,
        "targets": list(signal.targets),
        "min_temp": _number(signal.min_temp),
        "max_temp": _number(signal.max_temp),
        "temp_offset": _number(signal.temp_offset),
        "unit": signal.unit.value if signal.unit else None,
    }
