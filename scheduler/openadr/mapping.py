"""An OpenADR event as drsched reads it, and its mapping to a drsched event. Pure.

The market context (DR program) picks a :class:`~scheduler.config.MarketContextMap`:
its ``vtn_id`` and targets, and per OpenADR signal the drsched signal's targets
and bounds. The VTN gives the window and the payloads:

- ``SIMPLE`` (``level``): payload 1-3 -> a SIMPLE signal (drsched sends no level);
- ``LOAD_CONTROL`` (``x-loadControlLevelOffset``): payload -> ``temp_offset`` in the
  mapping's unit, bounds from the mapping.

Every value passes the plan rules (bounds 64-86 °F, offset 4-16 °F, min <= max);
one that does not makes the whole event a :class:`Refusal` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from scheduler.config import MarketContextMap, OpenadrSignalMap
from scheduler.domain.events import (
    LOAD_CONTROL,
    SIGNAL_TYPES,
    SIMPLE,
    EventTarget,
    PlanEvent,
    Signal,
    TempUnit,
)
from scheduler.domain.sources import openadr_source
from scheduler.domain.units import c_to_f, delta_c_to_f
from scheduler.plans.signals import BOUNDS_F, OFFSET_F

CANCELLED = "cancelled"
COMPLETED = "completed"
SIMPLE_LEVELS = (1, 2, 3)


class UnreadableEvent(ValueError):
    """The VTN sent an event drsched cannot read (missing or malformed fields)."""


@dataclass(frozen=True)
class VtnSignal:
    name: str
    type: str
    payloads: tuple[float, ...]


@dataclass(frozen=True)
class VtnEvent:
    """What drsched reads of one OpenADR event (openleadr's parsed dict)."""

    vtn_id: str
    event_id: str
    modification: int
    status: str
    market_context: str
    start: datetime
    end: datetime
    signals: tuple[VtnSignal, ...]
    response_required: bool

    @property
    def source(self) -> str:
        return openadr_source(self.vtn_id, self.event_id, self.modification)


@dataclass(frozen=True)
class Refusal:
    """Why drsched opts out of an event (stored nowhere but in the answer)."""

    reason: str


def read_event(vtn_id: str, raw: Mapping[str, Any]) -> VtnEvent:
    """openleadr's event dict -> :class:`VtnEvent`; :class:`UnreadableEvent` says what is wrong."""
    try:
        descriptor = raw["event_descriptor"]
        period = raw["active_period"]
        start = _utc(period["dtstart"])
        signals = raw["event_signals"]
        if isinstance(signals, Mapping):  # openleadr nests a single list sometimes
            signals = signals["event_signals"]
        return VtnEvent(
            vtn_id=vtn_id,
            event_id=str(descriptor["event_id"]),
            modification=int(descriptor.get("modification_number") or 0),
            status=str(descriptor.get("event_status") or ""),
            market_context=str(descriptor.get("market_context") or ""),
            start=start,
            end=start + _duration(period["duration"]),
            signals=tuple(_signal(s) for s in signals),
            response_required=raw.get("response_required", "always") == "always",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableEvent(f"unreadable OpenADR event: {exc!r}") from exc


def _utc(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"dtstart {value!r} is not an aware instant")
    return value.astimezone(UTC)


def _duration(value: object) -> timedelta:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValueError(f"duration {value!r} is not a positive duration")
    return value


def _signal(raw: Mapping[str, Any]) -> VtnSignal:
    payloads = tuple(float(i["signal_payload"]) for i in raw.get("intervals") or ())
    return VtnSignal(str(raw["signal_name"]), str(raw["signal_type"]), payloads)


def map_event(event: VtnEvent, contexts: Sequence[MarketContextMap]) -> PlanEvent | Refusal:
    """The drsched event the VTN event asks for, or the reason drsched cannot honour it."""
    program = next((c for c in contexts if c.market_context == event.market_context), None)
    if program is None:
        return Refusal(f"no mapping for market context {event.market_context!r}")
    if not event.signals:
        return Refusal("the event has no signal")
    signals: list[Signal] = []
    for position, vtn_signal in enumerate(event.signals, start=1):
        mapped = _map_signal(vtn_signal, program.signals, str(position))
        if isinstance(mapped, Refusal):
            return mapped
        signals.append(mapped)
    return PlanEvent(
        event_id=event.event_id,
        vtn_id=program.vtn_id,
        start=event.start,
        end=event.end,
        signals=tuple(signals),
        targets=tuple(EventTarget(t.ven, tuple(t.resources)) for t in program.targets),
        name=f"OpenADR {event.market_context}",
        source=event.source,
    )


def _map_signal(
    signal: VtnSignal, maps: Sequence[OpenadrSignalMap], signal_id: str
) -> Signal | Refusal:
    mapping = next((m for m in maps if m.signal == signal.name), None)
    if mapping is None:
        return Refusal(f"signal {signal.name} has no mapping for this market context")
    if signal.type.lower() != SIGNAL_TYPES[signal.name].lower():
        return Refusal(f"signal {signal.name} of type {signal.type!r} is not supported")
    payload = _one_payload(signal)
    if isinstance(payload, Refusal):
        return payload
    if signal.name == SIMPLE:
        if payload not in SIMPLE_LEVELS:
            return Refusal(f"SIMPLE level {payload:g} is not one of 1, 2, 3")
        return Signal(signal_id, SIMPLE, SIGNAL_TYPES[SIMPLE], tuple(mapping.targets))
    problem = _temperature_problem(mapping, payload)
    if problem:
        return Refusal(problem)
    return Signal(
        signal_id,
        LOAD_CONTROL,
        SIGNAL_TYPES[LOAD_CONTROL],
        tuple(mapping.targets),
        min_temp=mapping.min_temp,
        max_temp=mapping.max_temp,
        temp_offset=payload,
        unit=TempUnit(mapping.unit),
    )


def _one_payload(signal: VtnSignal) -> float | Refusal:
    """drsched holds one value per event: every interval must carry the same payload."""
    values = set(signal.payloads)
    if len(values) != 1:
        return Refusal(f"signal {signal.name} has payloads {sorted(values)}: drsched needs one")
    value = values.pop()
    if not math.isfinite(value):
        return Refusal(f"signal {signal.name} payload {value} is not a finite number")
    return value


def _temperature_problem(mapping: OpenadrSignalMap, offset: float) -> str:
    """The plan rules (:mod:`scheduler.plans.signals`) for the mapped bounds and offset."""
    unit = mapping.unit

    def in_f(value: float, *, difference: bool) -> Fraction:
        if unit == "F":
            return Fraction(repr(value))
        return delta_c_to_f(value) if difference else c_to_f(value)

    checks = [
        ("temp_offset (payload)", offset, OFFSET_F, True),
        ("min_temp", mapping.min_temp, BOUNDS_F, False),
        ("max_temp", mapping.max_temp, BOUNDS_F, False),
    ]
    for key, value, (low, high), difference in checks:
        if value is not None and not low <= in_f(value, difference=difference) <= high:
            return f"{key} {value:g} °{unit} is outside {low}–{high} °F"
    if (
        mapping.min_temp is not None
        and mapping.max_temp is not None
        and mapping.min_temp > mapping.max_temp
    ):
        return f"min_temp {mapping.min_temp:g} is above max_temp {mapping.max_temp:g}"
    return ""
