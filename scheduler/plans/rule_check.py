"""DR program rules checked before dispatch: pure, every violation at once.

:func:`check_rules` is the one check every event source uses (plan files,
the CLI, the OpenADR VEN): it takes the events to admit, the programs' rules
and the events already stored for those programs (``past``), and returns
every broken rule with its limit, the count found and the events making it
up. Per-event rules (season, days, hours, holidays, duration) are checked on
the new events only; limits per VEN (rest, counts, hours per period) count
past and new events together and are reported at the new event that breaks
them. Days, weeks (ISO), months and seasons are those of each event's local
start in the program's zone; durations are elapsed time, so a DST day
changes the wall-clock span but not the hours counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from scheduler.domain.dr_programs import (
    WEEKDAYS,
    CountedEvent,
    Period,
    ProgramRules,
    Violation,
)
from scheduler.durations import format_duration
from scheduler.errors import PlanError, Problem
from scheduler.plans.recurrence import holiday_dates


def check_rules(
    events: Iterable[CountedEvent],
    rules: Mapping[str, ProgramRules],
    past: Iterable[CountedEvent] = (),
) -> list[Violation]:
    """Every rule the ``events`` break, given the ``past`` events of the same programs."""
    new = list(events)
    new_ids = {e.event_id for e in new}
    old = [e for e in past if e.event_id not in new_ids]  # a re-applied event is new
    found: list[Violation] = []
    for event in new:
        program = rules.get(event.program_id)
        if program is None:
            found.append(_unknown(event, rules))
        else:
            found.extend(_event_rules(event, program))
    by_program: dict[str, list[CountedEvent]] = defaultdict(list)
    for event in [*new, *old]:
        by_program[event.program_id].append(event)
    for program_id in sorted(by_program):
        if program_id in rules:
            found.extend(_ven_rules(by_program[program_id], rules[program_id]))
    return found


def refuse_violations(
    events: Iterable[CountedEvent],
    rules: Mapping[str, ProgramRules],
    past: Iterable[CountedEvent] = (),
) -> None:
    """Raise :class:`PlanError` naming every broken rule (for sources other than plans)."""
    violations = check_rules(events, rules, past)
    if violations:
        raise PlanError(violation_problem(v) for v in violations)


def violation_problem(violation: Violation) -> Problem:
    """The violation at its event's ``file:line:col`` (or its source when it has none)."""
    where = violation.event.where
    parts = where.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return Problem(parts[0], int(parts[1]), int(parts[2]), violation.message)
    return Problem(where or f"event {violation.event.event_id}", 0, 0, violation.message)


def _unknown(event: CountedEvent, rules: Mapping[str, ProgramRules]) -> Violation:
    known = ", ".join(sorted(rules)) or "none defined"
    message = f"event {event.event_id!r}: no DR program {event.program_id!r} (known: {known})"
    return Violation(event.program_id, "program", known, "", (event.event_id,), event, message)


def _local(event: CountedEvent, rules: ProgramRules) -> tuple[datetime, datetime]:
    return event.start.astimezone(rules.tz), event.end.astimezone(rules.tz)


def _event_rules(event: CountedEvent, rules: ProgramRules) -> list[Violation]:
    start, end = _local(event, rules)
    day = start.date()
    found: list[tuple[str, str, str, str]] = []  # rule, limit, count, what
    if rules.season is not None and not rules.season.contains(day):
        season = rules.season.text()
        found.append(("season", season, str(day), f"starts on {day}, outside the season {season}"))
    if rules.days is not None and day.weekday() not in rules.days:
        allowed = ",".join(WEEKDAYS[d] for d in sorted(rules.days))
        weekday = WEEKDAYS[day.weekday()]
        found.append(
            ("days", allowed, weekday, f"starts on {weekday} {day}, allowed days {allowed}")
        )
    if rules.holidays is not None and day in holiday_dates(rules.holidays, (day.year,)):
        code = "-".join(filter(None, rules.holidays))
        found.append(("holidays", code, str(day), f"starts on {day}, a public holiday in {code}"))
    if rules.hours is not None and not _within_hours(start, end, rules):
        first, last = (f"{t:%H:%M}" for t in rules.hours)
        span = f"{start:%H:%M}–{end:%H:%M}" + ("" if end.date() == day else f" (ends {end:%F})")
        found.append(
            (
                "hours",
                f"{first}–{last}",
                span,
                f"runs {span} local on {day}, allowed {first}–{last}",
            )
        )
    if rules.max_duration is not None and event.end - event.start > rules.max_duration:
        lasts, limit = format_duration(event.end - event.start), format_duration(rules.max_duration)
        found.append(("max_duration", limit, lasts, f"lasts {lasts}, limit {limit}"))
    found.extend(_pre_condition(event, rules))
    return [
        Violation(
            rules.program_id,
            rule,
            limit,
            count,
            (event.event_id,),
            event,
            f"program {rules.program_id}: event {event.event_id!r} {what}",
        )
        for rule, limit, count, what in found
    ]


def _pre_condition(event: CountedEvent, rules: ProgramRules) -> list[tuple[str, str, str, str]]:
    """``max_pre_condition``: the longest pre-conditioning; ``0s`` forbids it (issue 15)."""
    cap, asked = rules.max_pre_condition, event.pre_condition
    if cap is None or asked is None or asked <= cap:
        return []
    limit, lasts = format_duration(cap), format_duration(asked)
    if cap <= timedelta(0):
        return [("max_pre_condition", limit, lasts, "pre-conditions, which the program forbids")]
    what = f"pre-conditions for {lasts}, limit {limit}"
    return [("max_pre_condition", limit, lasts, what)]


def _within_hours(start: datetime, end: datetime, rules: ProgramRules) -> bool:
    """The whole window lies inside the allowed wall-clock hours of its start's day."""
    assert rules.hours is not None
    day = start.date()
    first, last = (datetime.combine(day, t) for t in rules.hours)
    return first <= start.replace(tzinfo=None) and end.replace(tzinfo=None) <= last


def _ven_rules(events: list[CountedEvent], rules: ProgramRules) -> list[Violation]:
    by_ven: dict[str, list[CountedEvent]] = defaultdict(list)
    for event in events:
        for ven in event.ven_ids:
            by_ven[ven].append(event)
    found: list[Violation] = []
    for ven in sorted(by_ven):
        ordered = sorted(by_ven[ven], key=lambda e: (e.start, e.event_id))
        found.extend(_rest(ven, ordered, rules))
        found.extend(_limits(ven, ordered, rules))
    return found


def _rest(ven: str, ordered: list[CountedEvent], rules: ProgramRules) -> list[Violation]:
    if rules.min_rest is None:
        return []
    found = []
    for before, after in pairwise(ordered):
        rest = after.start - before.end
        if rest >= rules.min_rest or (before.past and after.past):
            continue
        at = after if not after.past else before
        limit = format_duration(rules.min_rest)
        shown = format_duration(rest)
        message = (
            f"program {rules.program_id}: {shown} rest between events {before.event_id!r} and "
            f"{after.event_id!r} on VEN {ven}, min rest {limit}"
        )
        ids = (before.event_id, after.event_id)
        found.append(Violation(rules.program_id, "min_rest", limit, shown, ids, at, message))
    return found


def _limits(ven: str, ordered: list[CountedEvent], rules: ProgramRules) -> list[Violation]:
    found: list[Violation] = []
    for period in Period:
        count_limit = rules.max_events.get(period)
        hours_limit = rules.max_hours.get(period)
        if count_limit is None and hours_limit is None:
            continue
        for label, group in _groups(ordered, period, rules).items():
            if count_limit is not None and len(group) > count_limit:
                found.extend(_over(ven, period, label, group, rules, count_limit))
            hours = sum(e.hours for e in group)
            if hours_limit is not None and hours > hours_limit + 1e-9:
                found.extend(_over(ven, period, label, group, rules, hours_limit, hours=True))
    return found


def _groups(
    ordered: list[CountedEvent], period: Period, rules: ProgramRules
) -> dict[str, list[CountedEvent]]:
    groups: dict[str, list[CountedEvent]] = defaultdict(list)
    for event in ordered:
        groups[rules.period_of(period, event.start.astimezone(rules.tz))].append(event)
    return groups


def _over(
    ven: str,
    period: Period,
    label: str,
    group: Sequence[CountedEvent],
    rules: ProgramRules,
    limit: float,
    *,
    hours: bool = False,
) -> list[Violation]:
    """One violation for a period over its limit, at the first new event past the limit."""
    kind = "hours" if hours else "events"
    at = _breaking(group, kind, limit)
    if at is None:
        return []  # only stored events: nothing new to refuse
    if kind == "events":
        count = f"{len(group)}"
        what = f"{count} events"
    else:
        count = f"{sum(e.hours for e in group):g}"
        what = f"{count} event hours"
    stored = [e.event_id for e in group if e.past]
    note = f" ({len(stored)} already stored: {', '.join(stored)})" if stored else ""
    ids = tuple(e.event_id for e in group)
    message = (
        f"program {rules.program_id}: {what} in {label} on VEN {ven}, limit {limit:g}: "
        f"{', '.join(ids)}{note}"
    )
    rule = f"max_event_hours.{period}" if hours else f"max_events.{period}"
    return [Violation(rules.program_id, rule, f"{limit:g}", count, ids, at, message)]


def _breaking(group: Sequence[CountedEvent], kind: str, limit: float) -> CountedEvent | None:
    """The first new event at which the running total passes ``limit`` (or after it)."""
    total = 0.0
    for index, event in enumerate(group):
        total += 1 if kind == "events" else event.hours
        if total > limit + 1e-9:
            return next((e for e in group[index:] if not e.past), None) or next(
                (e for e in reversed(group) if not e.past), None
            )
    return None
