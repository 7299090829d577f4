"""The load-shaping knobs an event sets (``pre_condition``, ``randomize_start``, ``restore``),
as values: what a plan file says, stored with the event.

A module of their own so that reading a plan (``drsched plan validate``) does not import
the rules that act on them (:mod:`scheduler.domain.shaping`, with the setpoint and HVAC
arithmetic it uses: issue 14); :mod:`scheduler.domain.shaping` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from scheduler.domain.events import TempUnit


@dataclass(frozen=True)
class PreCondition:
    """``pre_condition: {duration: 1h, offset: 2F}``; ``offset`` is a difference."""

    duration: timedelta
    offset: float
    unit: TempUnit


@dataclass(frozen=True)
class Ramp:
    """``restore.ramp: 1F/5m``: move ``step`` toward the original every ``every``."""

    step: float
    unit: TempUnit
    every: timedelta


@dataclass(frozen=True)
class Shaping:
    """The shaping an event asks for; None means "take the default" key by key."""

    pre_condition: PreCondition | None = None
    randomize_start: timedelta | None = None
    restore_stagger: timedelta | None = None
    ramp: Ramp | None = None

    @property
    def empty(self) -> bool:
        return self == Shaping()

    def over(self, defaults: Shaping) -> Shaping:
        """This shaping with ``defaults`` filling the keys it leaves unset."""
        return Shaping(
            self.pre_condition or defaults.pre_condition,
            _first(self.randomize_start, defaults.randomize_start),
            _first(self.restore_stagger, defaults.restore_stagger),
            self.ramp or defaults.ramp,
        )

    def content(self) -> dict[str, Any]:
        """JSON-ready (stored with the event, part of its fingerprint)."""
        out: dict[str, Any] = {}
        if self.pre_condition is not None:
            pre = self.pre_condition
            out["pre_condition"] = {
                "duration_s": pre.duration.total_seconds(),
                "offset": float(pre.offset),
                "unit": pre.unit.value,
            }
        if self.randomize_start is not None:
            out["randomize_start_s"] = self.randomize_start.total_seconds()
        if self.restore_stagger is not None:
            out["restore_stagger_s"] = self.restore_stagger.total_seconds()
        if self.ramp is not None:
            ramp = self.ramp
            out["ramp"] = {
                "step": float(ramp.step),
                "unit": ramp.unit.value,
                "every_s": ramp.every.total_seconds(),
            }
        return out

    @classmethod
    def from_content(cls, data: dict[str, Any] | None) -> Shaping | None:
        """The inverse of :meth:`content` (None for a stored null or empty mapping)."""
        if not data:
            return None
        pre, ramp = data.get("pre_condition"), data.get("ramp")
        return cls(
            PreCondition(timedelta(seconds=pre["duration_s"]), pre["offset"], TempUnit(pre["unit"]))
            if pre
            else None,
            _seconds(data.get("randomize_start_s")),
            _seconds(data.get("restore_stagger_s")),
            Ramp(ramp["step"], TempUnit(ramp["unit"]), timedelta(seconds=ramp["every_s"]))
            if ramp
            else None,
        )


def _first(value: timedelta | None, default: timedelta | None) -> timedelta | None:
    return default if value is None else value


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)
