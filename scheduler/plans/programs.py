"""Programs: recurring events, one per date, with ids ``<program-id>-YYYYMMDD``.

Each date's event starts at ``start_time`` local time in the plan's zone, so
a program spanning a DST change keeps its wall-clock start while its UTC
start moves by the change; ``duration`` is elapsed time. A start that falls
in a gap or fold follows the DST policy; an error names the date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from scheduler.domain.events import PlanEvent
from scheduler.durations import parse_duration
from scheduler.plans.content import Content, merge_defaults
from scheduler.plans.context import Context, Located, label
from scheduler.plans.model import DstPolicy, ProgramShape
from scheduler.plans.nodes import YNode
from scheduler.plans.recurrence import RuleProblem, holiday_dates, occurrence_dates
from scheduler.plans.shape import validate
from scheduler.plans.times import TimeProblem, parse_clock, parse_date, resolve_local

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Schedule:
    """A program's checked timing: its dates, local start time and length."""

    dates: list[date]
    start_time: time
    duration: timedelta
    tz: ZoneInfo
    policy: DstPolicy


def expand_program(item: YNode, context: Context) -> list[Located]:
    """The events of one program, or none after reporting its problems."""
    node = merge_defaults(context.defaults, item)
    what = label("program", item)
    shape = validate(ProgramShape, node, context.problems, what)
    if shape is None:
        return []
    content = context.content.build(node, shape.vtn_id, shape.targets, shape.signals, what)
    schedule = _schedule(shape, node, context, what)
    if content is None or schedule is None:
        return []
    return _events(shape, content, schedule, item, context)


def _schedule(shape: ProgramShape, node: YNode, context: Context, what: str) -> _Schedule | None:
    problems = context.problems
    first = _checked(context, node, "from", lambda: parse_date(shape.from_))
    last = _checked(context, node, "until", lambda: parse_date(shape.until))
    clock = _checked(context, node, "start_time", lambda: parse_clock(shape.start_time))
    duration = _checked(context, node, "duration", lambda: _positive(shape.duration))
    tz = context.local_zone(node.child("start_time") or node, f"{what}: start_time")
    if first is not None and last is not None and last < first:
        problems.at(node.where("until"), f"until {last} is before from {first}")
        return None
    if first is None or last is None:
        return None
    dates = _dates(shape, node, context, first, last)
    if dates is None or clock is None or duration is None or tz is None:
        return None
    return _Schedule(dates, clock, duration, tz, context.policy(shape.dst))


def _dates(
    shape: ProgramShape, node: YNode, context: Context, first: date, last: date
) -> list[date] | None:
    """The rule's dates less ``skip_dates`` and, with ``skip_holidays``, public holidays."""
    dates = _checked(context, node, "rrule", lambda: occurrence_dates(shape.rrule, first, last))
    skipped = _skip_dates(shape, node, context, first, last)
    if shape.skip_holidays is not None:
        years = range(first.year, last.year + 1)
        found = _checked(
            context, node, "skip_holidays", lambda: holiday_dates(str(shape.skip_holidays), years)
        )
        skipped = None if found is None or skipped is None else skipped | found
    if dates is None or skipped is None:
        return None
    return [day for day in dates if day not in skipped]


def _skip_dates(
    shape: ProgramShape, node: YNode, context: Context, first: date, last: date
) -> frozenset[date] | None:
    list_node = node.child("skip_dates")
    items = list_node.value if list_node and isinstance(list_node.value, list) else []
    found: set[date] = set()
    ok = True
    for text, item in zip(shape.skip_dates, items, strict=False):
        try:
            day = parse_date(text)
        except TimeProblem as exc:
            context.problems.add(item.line, item.col, f"skip_dates: {exc}")
            ok = False
            continue
        if not first <= day <= last:
            context.problems.add(
                item.line, item.col, f"skip_dates: {day} is outside from {first} .. until {last}"
            )
            ok = False
        found.add(day)
    return frozenset(found) if ok else None


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
    shape: ProgramShape, content: Content, schedule: _Schedule, item: YNode, context: Context
) -> list[Located]:
    source = f"{context.file}:{item.line}"
    located: list[Located] = []
    for day in schedule.dates:
        try:
            start = resolve_local(
                datetime.combine(day, schedule.start_time), schedule.tz, schedule.policy
            )
            end = start + schedule.duration
        except OverflowError:
            context.problems.at(
                item.where("duration"), f"program {shape.id!r}: {day} + duration is out of range"
            )
            continue
        except TimeProblem as exc:
            context.problems.at(item.where("start_time"), f"program {shape.id!r}: {exc}")
            continue
        event = PlanEvent(
            event_id=f"{shape.id}-{day:%Y%m%d}",
            vtn_id=content.vtn_id,
            start=start,
            end=end,
            signals=content.signals,
            targets=content.targets,
            name=shape.name,
            program_id=shape.id,
            source=source,
        )
        located.append(Located(event, item.line, item.col))
    return located
