"""Programs: recurring events, one per date, with ids ``<program-id>-YYYYMMDD``.

Each date's event starts at ``start_time`` local time in the plan's zone, so
a program spanning a DST change keeps its wall-clock start while its UTC
start moves by the change; ``duration`` is elapsed time. A start that falls
in a gap or fold follows the DST policy; an error names the date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from scheduler.domain.events import PlanEvent
from scheduler.durations import parse_duration
from scheduler.plans.content import LISTS, Content, merge_defaults
from scheduler.plans.context import Context, Located, check_id, label
from scheduler.plans.model import PROGRAM_ID_MAX, DstPolicy, ProgramShape
from scheduler.plans.nodes import YNode
from scheduler.plans.recurrence import (
    RuleProblem,
    holiday_calendar,
    holiday_dates,
    occurrence_dates,
    parse_rule,
)
from scheduler.plans.shape import validate
from scheduler.plans.shaping import ShapingReader
from scheduler.plans.times import TimeProblem, parse_clock, parse_date, resolve_local

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Timing:
    """A program's timing keys, each parsed and checked on its own."""

    rule: str
    first: date
    last: date
    start_time: time
    duration: timedelta
    skip_dates: dict[date, YNode]
    holidays: tuple[str, str] | tuple[()] | None
    tz: ZoneInfo
    policy: DstPolicy


def expand_program(item: YNode, context: Context) -> list[Located]:
    """The events of one program, or none after reporting its problems."""
    before = context.problems.reported
    node = merge_defaults(context.defaults, item)
    what = label("program", item)
    shape = validate(ProgramShape, node, context.problems, what, elsewhere=LISTS)
    if shape is None:
        return []
    check_id(shape.id, PROGRAM_ID_MAX, node, context.problems)
    content = context.content.build(node, shape.vtn_id)
    timing = _timing(shape, node, context, what)
    dates = _dates(timing, node, context) if timing else None
    reader = ShapingReader(node, context.problems)
    shaping = reader.read(shape.pre_condition, shape.randomize_start, shape.restore)
    if timing is not None:
        reader.check_window(shaping, timing.duration, what)
    if content is None or timing is None or dates is None:
        return []
    if context.problems.reported != before:
        return []
    content = replace(content, shaping=shaping)
    return _events(shape, content, timing, dates, item, context)


def _timing(shape: ProgramShape, node: YNode, context: Context, what: str) -> _Timing | None:
    """Every timing key parsed (each problem reported); None if any is wrong."""
    code = shape.skip_holidays
    rule = _checked(context, node, "rrule", lambda: parse_rule(shape.rrule))
    first = _checked(context, node, "from", lambda: parse_date(shape.from_))
    last = _checked(context, node, "until", lambda: parse_date(shape.until))
    clock = _checked(context, node, "start_time", lambda: parse_clock(shape.start_time))
    duration = _checked(context, node, "duration", lambda: _positive(shape.duration))
    skips = _skip_dates(shape, node, context)
    calendar = (
        _checked(context, node, "skip_holidays", lambda: holiday_calendar(code)) if code else ()
    )
    tz = context.local_zone(node.child("start_time") or node, f"{what}: start_time")
    if rule is None or first is None or last is None or clock is None or duration is None:
        return None
    if skips is None or calendar is None or tz is None:
        return None
    return _Timing(
        rule, first, last, clock, duration, skips, calendar or None, tz, context.policy(shape.dst)
    )


def _dates(timing: _Timing, node: YNode, context: Context) -> list[date] | None:
    """The rule's dates less ``skip_dates`` and, with ``skip_holidays``, public holidays."""
    first, last = timing.first, timing.last
    if last < first:
        context.problems.at(node.where("until"), f"until {last} is before from {first}")
        return None
    outside = [(d, n) for d, n in timing.skip_dates.items() if not first <= d <= last]
    for day, item in outside:
        context.problems.add(
            item.line, item.col, f"skip_dates: {day} is outside from {first} .. until {last}"
        )
    dates = _checked(context, node, "rrule", lambda: occurrence_dates(timing.rule, first, last))
    if dates is None or outside:
        return None
    skipped = set(timing.skip_dates)
    if timing.holidays:
        skipped |= holiday_dates(timing.holidays, range(first.year, last.year + 1))
    return [day for day in dates if day not in skipped]


def _skip_dates(shape: ProgramShape, node: YNode, context: Context) -> dict[date, YNode] | None:
    list_node = node.child("skip_dates")
    items = list_node.value if list_node and isinstance(list_node.value, list) else []
    found: dict[date, YNode] = {}
    for text, item in zip(shape.skip_dates, items, strict=False):
        try:
            found[parse_date(text)] = item
        except TimeProblem as exc:
            context.problems.add(item.line, item.col, f"skip_dates: {exc}")
    return found if len(found) == len(shape.skip_dates) else None


def _positive(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except (ValueError, OverflowError) as exc:
        raise TimeProblem(str(exc)) from None
    if duration <= timedelta(0):
        raise TimeProblem(f"{text!r} must be longer than zero")
    return duration


def _checked(context: Context, node: YNode, key: str, parse: Callable[[], _T]) -> _T | None:
    """``parse()``, or None after reporting its problem at ``key``'s value."""
    try:
        return parse()
    except (TimeProblem, RuleProblem) as exc:
        context.problems.at(node.where(key), f"{key}: {exc}")
        return None


def _events(
    shape: ProgramShape,
    content: Content,
    timing: _Timing,
    dates: list[date],
    item: YNode,
    context: Context,
) -> list[Located]:
    located: list[Located] = []
    for day in dates:
        window = _window(day, timing, shape.id, item, context)
        if window is not None:
            event = _event(shape, content, day, window, f"{context.file}:{item.line}")
            located.append(Located(event, item.line, item.col))
    return located


def _window(
    day: date, timing: _Timing, program_id: str, item: YNode, context: Context
) -> tuple[datetime, datetime] | None:
    """The UTC window of ``day``'s event; None after reporting a DST or range problem."""
    try:
        start = resolve_local(datetime.combine(day, timing.start_time), timing.tz, timing.policy)
        return start, start + timing.duration
    except OverflowError:
        message = f"program {program_id!r}: {day} + duration is out of range"
        context.problems.at(item.where("duration"), message)
    except TimeProblem as exc:
        context.problems.at(item.where("start_time"), f"program {program_id!r}: {exc}")
    return None


def _event(
    shape: ProgramShape, content: Content, day: date, window: tuple[datetime, datetime], source: str
) -> PlanEvent:
    return PlanEvent(
        event_id=f"{shape.id}-{day:%Y%m%d}",
        vtn_id=content.vtn_id,
        start=window[0],
        end=window[1],
        signals=content.signals,
        targets=content.targets,
        name=shape.name,
        program_id=shape.id,
        source=source,
        shaping=content.shaping,
    )
