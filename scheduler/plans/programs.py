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
from scheduler.durations import format_duration, parse_duration
from scheduler.plans.content import LISTS, Content, merge_defaults
from scheduler.plans.context import Context, Located, check_id, label, text_of
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
from scheduler.plans.times import (
    DR_EARLIEST,
    DR_LATEST,
    TimeProblem,
    check_dr_range,
    parse_clock,
    parse_date,
    resolve_local,
)

_T = TypeVar("_T")

#: One event of a program lasts at most this long (docs/plan-format.md).
PROGRAM_DURATION_MAX = timedelta(days=7)


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
    if not node.is_map:
        return []
    ident = text_of(node, "id")
    if ident is not None:  # checked even when another key is wrong: no problem hides another
        check_id(ident, PROGRAM_ID_MAX, node, context.problems)
    content = context.content.build(node, shape.vtn_id if shape else None)
    timing = _timing(node, context, what, shape.dst if shape else None)
    dates = _dates(timing, node, context) if timing else None
    reader = ShapingReader(node, context.problems)
    shaping = reader.read_keys()
    if timing is not None:
        reader.check_window(shaping, timing.duration, what)
    if shape is None or content is None or timing is None or dates is None:
        return []
    if context.problems.reported != before:
        return []
    content = replace(content, shaping=shaping)
    return _events(shape, content, timing, dates, item, context)


def _timing(node: YNode, context: Context, what: str, dst: DstPolicy | None) -> _Timing | None:
    """Every timing key written parsed (each problem reported, whatever else is wrong or
    missing); None if any is wrong or missing."""

    def parsed(key: str, parse: Callable[[str], _T]) -> _T | None:
        text = text_of(node, key)
        return None if text is None else _checked(context, node, key, lambda: parse(text))

    code = text_of(node, "skip_holidays")
    rule = parsed("rrule", parse_rule)
    first = parsed("from", parse_date)
    last = parsed("until", parse_date)
    clock = parsed("start_time", parse_clock)
    duration = parsed("duration", _positive)
    skips = _skip_dates(node, context, first, last)
    calendar = parsed("skip_holidays", holiday_calendar) if code else ()
    tz = context.local_zone(node.child("start_time") or node, f"{what}: start_time")
    if rule is None or first is None or last is None or clock is None or duration is None:
        return None
    if skips is None or calendar is None or tz is None:
        return None
    return _Timing(
        rule, first, last, clock, duration, skips, calendar or None, tz, context.policy(dst)
    )


def _dates(timing: _Timing, node: YNode, context: Context) -> list[date] | None:
    """The rule's dates less ``skip_dates`` and, with ``skip_holidays``, public holidays."""
    first, last = timing.first, timing.last
    if last < first:
        context.problems.at(node.where("until"), f"until {last} is before from {first}")
        return None
    if first < DR_EARLIEST.date() or last >= DR_LATEST.date():
        message = (
            f"from {first} .. until {last} is outside what the DR service accepts "
            f"({DR_EARLIEST:%Y-%m-%d} .. {DR_LATEST:%Y-%m-%d} UTC)"
        )
        context.problems.at(node.where("from"), message)
        return None
    dates = _checked(context, node, "rrule", lambda: occurrence_dates(timing.rule, first, last))
    if dates is None:
        return None
    if not dates:
        message = f"rrule: {timing.rule!r} yields no date from {first} until {last}"
        context.problems.at(node.where("rrule"), message)
        return None
    skipped = set(timing.skip_dates)
    if timing.holidays:
        skipped |= holiday_dates(timing.holidays, range(first.year, last.year + 1))
    kept = [day for day in dates if day not in skipped]
    if not kept:
        message = f"every date of the program from {first} until {last} is skipped: no event left"
        context.problems.at(node.where("skip_dates"), message)
        return None
    return kept


def _skip_dates(
    node: YNode, context: Context, first: date | None, last: date | None
) -> dict[date, YNode] | None:
    """Each skipped date once (a repeat is harmless); None after reporting a bad one.

    A date outside ``from`` .. ``until`` is reported here, with the range
    known, so another key's problem never hides it.
    """
    list_node = node.child("skip_dates")
    items = list_node.value if list_node and isinstance(list_node.value, list) else []
    found: dict[date, YNode] = {}
    bad = False
    for item in items:
        if isinstance(item.value, bool) or not isinstance(item.value, str | int | float):
            bad = True  # not text: the shape check reported it
            continue
        text = str(item.value)
        try:
            day = parse_date(text)
        except TimeProblem as exc:
            context.problems.add(item.line, item.col, f"skip_dates: {exc}")
            bad = True
            continue
        if first is not None and last is not None and first <= last and not first <= day <= last:
            message = f"skip_dates: {day} is outside from {first} .. until {last}"
            context.problems.add(item.line, item.col, message)
            bad = True
        found.setdefault(day, item)
    return None if bad else found


def _positive(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except (ValueError, OverflowError) as exc:
        raise TimeProblem(str(exc)) from None
    if duration <= timedelta(0):
        raise TimeProblem(f"{text!r} must be longer than zero")
    if duration > PROGRAM_DURATION_MAX:
        raise TimeProblem(f"{text!r} is longer than {format_duration(PROGRAM_DURATION_MAX)}")
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
        end = start + timing.duration
        shown = f"{day} {timing.start_time:%H:%M}"
        return check_dr_range(start, shown), check_dr_range(end, f"{shown} + duration")
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
        dr_program=shape.program,
        shaping=content.shaping,
    )
