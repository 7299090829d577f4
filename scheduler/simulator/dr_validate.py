"""The DR simulator's checks of a POST /requests body, as the DR spec states them.

Pure: returns the problems as ``field: message`` strings (empty when valid);
the simulator answers the first with HTTP 400, code 4102. Temperature rules
(spec "POST /requests" and its Contract): bounds 64–86 °F and offset 4–16 °F;
a ``C`` unit converts bounds as temperatures and the offset as a difference
(ΔF = ΔC × 9/5) before the check; ``minTemp <= maxTemp``; when they are equal
the offset is ignored (so not checked).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from scheduler.domain.events import TempUnit
from scheduler.domain.units import convert_difference, convert_temperature, exact

#: signalName -> the signalType spellings accepted with it (the reference has two for one).
SIGNAL_TYPES: dict[str, frozenset[str]] = {
    "SIMPLE": frozenset({"level"}),
    "LOAD_CONTROL": frozenset({"x-loadControlLevelOffset", "x-LoadControlLevelOffset"}),
}
BOUNDS_F = (Fraction(64), Fraction(86))
OFFSET_F = (Fraction(4), Fraction(16))
MS_DIGITS = 13


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _string_list(value: object) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


def _epoch_ms(where: str, value: object) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{where}: must be an integer (UTC epoch milliseconds)"]
    if len(str(abs(value))) != MS_DIGITS:
        return [f"{where}: must have 13 digits (epoch milliseconds), got {value}"]
    return []


def _temperatures(where: str, signal: Mapping[str, Any]) -> list[str]:
    """Bounds and offset, converted to °F when the unit is C."""
    problems: list[str] = []
    unit_text = signal.get("unit", "F")
    if unit_text not in ("F", "C"):
        return [f"{where}.unit: must be F or C, got {unit_text!r}"]
    unit = TempUnit(unit_text)
    temps: dict[str, Fraction] = {}
    for key in ("minTemp", "maxTemp", "tempOffset"):
        if key not in signal:
            continue
        if not _is_number(signal[key]):
            problems.append(f"{where}.{key}: must be a number")
            continue
        convert = convert_difference if key == "tempOffset" else convert_temperature
        temps[key] = convert(exact(signal[key]), unit, TempUnit.F)
    for key in ("minTemp", "maxTemp"):
        if key in temps and not BOUNDS_F[0] <= temps[key] <= BOUNDS_F[1]:
            problems.append(f"{where}.{key}: {signal[key]} °{unit} is outside 64–86 °F")
    low, high = temps.get("minTemp", BOUNDS_F[0]), temps.get("maxTemp", BOUNDS_F[1])
    if low > high:
        problems.append(f"{where}: minTemp must not be above maxTemp")
    offset = temps.get("tempOffset")
    if offset is not None and low != high and not OFFSET_F[0] <= offset <= OFFSET_F[1]:
        problems.append(f"{where}.tempOffset: {signal['tempOffset']} °{unit} is outside 4–16 °F")
    return problems


def _signal(where: str, signal: object) -> list[str]:
    if not isinstance(signal, Mapping):
        return [f"{where}: must be an object"]
    problems = [f"{where}.{k}: required" for k in ("signalID",) if not _text(signal.get(k))]
    name, kind = signal.get("signalName"), signal.get("signalType")
    if name not in SIGNAL_TYPES:
        problems.append(f"{where}.signalName: must be one of {sorted(SIGNAL_TYPES)}")
    elif kind not in SIGNAL_TYPES[str(name)]:
        problems.append(f"{where}.signalType: {kind!r} does not go with {name}")
    targets = signal.get("targets")
    if not _string_list(targets) or not targets:
        problems.append(f"{where}.targets: must be a non-empty list of strings")
    return problems + _temperatures(where, signal)


def _target(where: str, target: object) -> list[str]:
    if not isinstance(target, Mapping):
        return [f"{where}: must be an object"]
    problems = [] if _text(target.get("venID")) else [f"{where}.venID: required"]
    if "resourceIDs" in target and not _string_list(target["resourceIDs"]):
        problems.append(f"{where}.resourceIDs: must be a list of strings")
    return problems


def _list(body: Mapping[str, Any], key: str) -> tuple[list[Any], list[str]]:
    value = body.get(key)
    if not isinstance(value, list) or not value:
        return [], [f"{key}: must be a non-empty list"]
    return value, []


def validate_request(body: object) -> list[str]:
    """Every problem of a create body, in field order; empty when it is valid."""
    if not isinstance(body, Mapping):
        return ["body: must be a JSON object"]
    problems = [f"{key}: required" for key in ("requestID", "vtnID") if not _text(body.get(key))]
    if "name" in body and not isinstance(body["name"], str):
        problems.append("name: must be a string")
    signals, found = _list(body, "eventSignals")
    problems += found
    for i, signal in enumerate(signals):
        problems += _signal(f"eventSignals[{i}]", signal)
    targets, found = _list(body, "eventTargets")
    problems += found
    for i, target in enumerate(targets):
        problems += _target(f"eventTargets[{i}]", target)
    window = _epoch_ms("startTs", body.get("startTs")) + _epoch_ms("endTs", body.get("endTs"))
    if not window and body["endTs"] <= body["startTs"]:
        window.append("endTs: must be after startTs")
    return problems + window
