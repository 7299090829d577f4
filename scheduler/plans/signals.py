"""Signals and targets of an event: defaults, type normalisation, temperature ranges.

DR spec "POST /requests": ``signalType`` is ``level`` with SIMPLE and
``x-loadControlLevelOffset`` with LOAD_CONTROL (the reference also spells it
``x-LoadControlLevelOffset``; we accept both and send the first). Bounds are
64–86 °F and the offset 4–16 °F; with ``unit: C`` bounds convert as
temperatures and the offset as a difference (ΔF = ΔC × 9/5) before the check.
"""

from __future__ import annotations

import math
from fractions import Fraction

from scheduler.domain.events import LOAD_CONTROL, SIGNAL_TYPES, EventTarget, Signal, TempUnit
from scheduler.domain.units import c_to_f, delta_c_to_f
from scheduler.plans.model import SignalShape, Target
from scheduler.plans.nodes import YNode
from scheduler.plans.problems import Problems

BOUNDS_F = (Fraction(64), Fraction(86))
OFFSET_F = (Fraction(4), Fraction(16))
_TEMPERATURE_KEYS = ("min_temp", "max_temp", "temp_offset", "unit")


def build_signals(
    shapes: list[SignalShape], nodes: list[YNode], problems: Problems
) -> tuple[Signal, ...] | None:
    """The event's signals, or None after reporting what is wrong with them.

    A signal without ``id`` gets its 1-based position in the list ("1", "2", ...).
    """
    signals: list[Signal] = []
    seen: dict[str, int] = {}
    for index, (shape, node) in enumerate(zip(shapes, nodes, strict=True), start=1):
        signal = _signal(shape, node, str(index), problems)
        if signal is None:
            continue
        if signal.signal_id in seen:
            problems.at(
                node.where("id"),
                f"duplicate signal id {signal.signal_id!r} "
                f"(also signal {seen[signal.signal_id]} of this event)",
            )
            continue
        seen[signal.signal_id] = index
        signals.append(signal)
    return tuple(signals) if len(signals) == len(shapes) else None


def build_targets(shapes: list[Target]) -> tuple[EventTarget, ...]:
    return tuple(EventTarget(t.ven, tuple(t.resources or ())) for t in shapes)


def _signal(shape: SignalShape, node: YNode, default_id: str, problems: Problems) -> Signal | None:
    before = problems.reported
    _check_type(shape, node, problems)
    if shape.name == LOAD_CONTROL:
        _check_temperatures(shape, node, problems)
    if problems.reported != before:
        return None
    return Signal(
        signal_id=shape.id or default_id,
        name=shape.name,
        type=SIGNAL_TYPES[shape.name],
        targets=tuple(shape.targets),
        min_temp=shape.min_temp,
        max_temp=shape.max_temp,
        temp_offset=shape.temp_offset,
        unit=TempUnit(shape.unit) if shape.unit else None,
    )


def _check_type(shape: SignalShape, node: YNode, problems: Problems) -> None:
    """The type must go with the name; temperatures only go with LOAD_CONTROL."""
    expected = SIGNAL_TYPES[shape.name]
    if shape.type is not None and shape.type.lower() != expected.lower():
        message = (
            f"signal type {shape.type!r} does not go with {shape.name} "
            f"(use {expected!r}, or leave type out)"
        )
        problems.at(node.where("type"), message)
    if shape.name == LOAD_CONTROL:
        return
    for key in _TEMPERATURE_KEYS:
        if getattr(shape, key) is not None:
            message = f"{key} only applies to LOAD_CONTROL signals, not {shape.name}"
            problems.at(node.where(key), message)


def _check_temperatures(shape: SignalShape, node: YNode, problems: Problems) -> None:
    unit = shape.unit or "F"
    in_f: dict[str, Fraction] = {}
    for key, limits in (("min_temp", BOUNDS_F), ("max_temp", BOUNDS_F), ("temp_offset", OFFSET_F)):
        value = getattr(shape, key)
        if value is None:
            continue
        if not math.isfinite(value):
            problems.at(node.where(key), f"{key} must be a finite number, got {value}")
            continue
        difference = key == "temp_offset"
        converted = _to_f(value, unit, difference=difference)
        if not limits[0] <= converted <= limits[1]:
            shown = _shown(value, converted, unit, difference=difference)
            problems.at(node.where(key), f"{key} {shown} is outside {limits[0]}–{limits[1]} °F")
        in_f[key] = converted
    low, high = in_f.get("min_temp"), in_f.get("max_temp")
    if low is not None and high is not None and low > high:
        problems.at(
            node.where("min_temp"),
            f"min_temp {shape.min_temp:g} is above max_temp {shape.max_temp:g}",
        )


def _to_f(value: float, unit: str, *, difference: bool) -> Fraction:
    if unit == "F":
        return Fraction(repr(value))
    return delta_c_to_f(value) if difference else c_to_f(value)


def _shown(value: float, in_f: Fraction, unit: str, *, difference: bool) -> str:
    if unit == "F":
        return f"{value:g} °F"
    change = "a change of " if difference else ""
    return f"{value:g} °C ({change}{float(in_f):g} °F)"
