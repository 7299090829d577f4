"""The load-shaping keys of an event or program: parsed, bounded, reported at file:line.

``pre_condition: {duration, offset}``, ``randomize_start: D`` and
``restore: {stagger, ramp}`` (issue 15; the rules are in
:mod:`scheduler.domain.shaping`). Durations use the one duration parser;
temperatures are written with their unit (``2F``, ``1C``) because they are
differences and the plan's signals may be in either unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from scheduler.domain.events import TempUnit
from scheduler.domain.shaping_knobs import PreCondition, Ramp, Shaping
from scheduler.domain.units import convert_difference, exact
from scheduler.durations import format_duration, parse_duration
from scheduler.plans.model import PreConditionShape, RestoreShape
from scheduler.plans.nodes import YNode
from scheduler.plans.problems import Problems

_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)

#: Bounds of each knob (an absurd value is a typo, not a wish).
PRE_CONDITION_DURATION = (timedelta(minutes=15), timedelta(hours=6))
MAX_RANDOMIZE_START = timedelta(hours=1)
MAX_RESTORE_STAGGER = timedelta(hours=2)
RAMP_EVERY = (timedelta(seconds=30), timedelta(hours=1))
#: The largest offset or ramp step, as a °F difference (5.5 °C).
MAX_DIFFERENCE_F = Fraction(10)

_DIFFERENCE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*°?\s*([FC])\s*", re.IGNORECASE)


class ShapingProblem(ValueError):
    """A shaping value that cannot be used; the message is the plan's own words."""


def parse_difference(text: str) -> tuple[float, TempUnit]:
    """``2F`` or ``0.5 °C``: a positive temperature difference, at most 10 °F (5.5 °C)."""
    match = _DIFFERENCE.fullmatch(text)
    if match is None:
        raise ShapingProblem(f"{text!r} is not a temperature difference: write it like 2F or 1C")
    value, unit = float(match.group(1)), TempUnit(match.group(2).upper())
    if value <= 0:
        raise ShapingProblem(f"{text!r} must be more than zero")
    if convert_difference(exact(value), unit, TempUnit.F) > MAX_DIFFERENCE_F:
        raise ShapingProblem(f"{text!r} is more than 10F (5.5C)")
    return value, unit


def bounded_duration(text: str, low: timedelta, high: timedelta) -> timedelta:
    """A duration within ``[low, high]``, or a problem that says the range."""
    try:
        value = parse_duration(text)
    except (ValueError, OverflowError) as exc:
        raise ShapingProblem(str(exc)) from None
    if not low <= value <= high:
        span = f"{format_duration(low)} to {format_duration(high)}"
        raise ShapingProblem(f"{text!r} is out of range: {span}")
    return value


def parse_ramp(text: str) -> Ramp:
    """``1F/5m``: a step (a difference) and how often to take it."""
    step, sep, every = text.partition("/")
    if not sep:
        raise ShapingProblem(f"{text!r} is not a ramp: write STEP/EVERY, e.g. 1F/5m")
    value, unit = parse_difference(step)
    return Ramp(value, unit, bounded_duration(every, *RAMP_EVERY))


class ShapingReader:
    """Reads the shaping keys of one merged event or program node, reporting each problem."""

    def __init__(self, node: YNode, problems: Problems) -> None:
        self.node = node
        self.problems = problems
        self.ok = True

    def read(
        self,
        pre: PreConditionShape | None,
        randomize: str | None,
        restore: RestoreShape | None,
    ) -> Shaping | None:
        """The shaping asked for (None if none is); ``ok`` is False after a problem."""
        shaping = Shaping(
            self._pre_condition(pre) if pre else None,
            self._at(
                ("randomize_start",),
                lambda: bounded_duration(randomize or "", timedelta(0), MAX_RANDOMIZE_START),
            )
            if randomize is not None
            else None,
            self._at(
                ("restore", "stagger"),
                lambda: bounded_duration(restore.stagger or "", timedelta(0), MAX_RESTORE_STAGGER),
            )
            if restore and restore.stagger is not None
            else None,
            self._at(("restore", "ramp"), lambda: parse_ramp(restore.ramp or ""))
            if restore and restore.ramp is not None
            else None,
        )
        return None if shaping.empty else shaping

    def read_keys(self) -> Shaping | None:
        """:meth:`read` of the keys as the node writes them, not as the event's shape
        holds them: a problem elsewhere (even a missing ``id``) hides none of theirs."""
        randomize = self.node.child("randomize_start")
        text = randomize.value if randomize is not None else None
        return self.read(
            _part(PreConditionShape, self.node.child("pre_condition")),
            str(text)
            if isinstance(text, str | int | float) and not isinstance(text, bool)
            else None,
            _part(RestoreShape, self.node.child("restore")),
        )

    def check_window(self, shaping: Shaping | None, length: timedelta, what: str) -> None:
        """``randomize_start`` shorter than the window (every facility starts inside it)."""
        spread = shaping.randomize_start if shaping else None
        if spread is not None and spread >= length:
            self._report(
                ("randomize_start",),
                f"randomize_start {format_duration(spread)} is not shorter than "
                f"the window of {what} ({format_duration(length)})",
            )

    def _pre_condition(self, shape: PreConditionShape) -> PreCondition | None:
        duration = self._at(
            ("pre_condition", "duration"),
            lambda: bounded_duration(shape.duration, *PRE_CONDITION_DURATION),
        )
        offset = self._at(("pre_condition", "offset"), lambda: parse_difference(shape.offset))
        if duration is None or offset is None:
            return None
        return PreCondition(duration, offset[0], offset[1])

    def _at(self, path: tuple[str, ...], parse: Callable[[], _T]) -> _T | None:
        try:
            return parse()
        except ShapingProblem as exc:
            self._report(path, f"{'.'.join(path)}: {exc}")
            return None

    def _report(self, path: tuple[str, ...], message: str) -> None:
        node = self.node
        for part in path:
            node = node.child(part) or node
        self.problems.add(node.line, node.col, message)
        self.ok = False


def _part(model: type[_M], node: YNode | None) -> _M | None:
    """One shaping mapping; None when absent or misshapen (the shape check reported it)."""
    if node is None:
        return None
    try:
        return model.model_validate(node.plain())
    except ValidationError:
        return None
