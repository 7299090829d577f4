"""Plan files to events: the public entry points of :mod:`scheduler.plans`.

A bad plan gives every problem of every file at once and no events
(DESIGN.md rule 5); nothing but :class:`~scheduler.errors.PlanError` escapes,
whatever the input. The only I/O is reading the files named.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scheduler.domain.dr_programs import CountedEvent, ProgramRules
from scheduler.domain.events import PlanEvent
from scheduler.errors import PlanError, Problem
from scheduler.plans.checks import Sourced, duplicate_ids, overlaps
from scheduler.plans.context import LocatedRules
from scheduler.plans.document import MAX_EVENTS, MAX_PLAN_BYTES, parse_document
from scheduler.plans.paths import each_file_once
from scheduler.plans.rule_check import check_rules, violation_problem


def load_plans(
    paths: Sequence[Path],
    *,
    programs: Sequence[ProgramRules] = (),
    past: Sequence[CountedEvent] = (),
) -> list[PlanEvent]:
    """Every event of every file, sorted by (start, event_id); ids unique across files.

    Events naming a ``program:`` must obey its rules (:mod:`.rule_check`), the
    programs being those of the files plus ``programs`` (from the config);
    ``past`` are the stored events of those programs, counted toward limits.
    A file named twice (``ok.yaml`` and ``$PWD/ok.yaml``, a symlink, a glob that
    matches it again) is read once: its events are not duplicates of themselves.
    """
    return load_plan_set(paths, programs=programs, past=past)[0]


def load_plan_set(
    paths: Sequence[Path],
    *,
    programs: Sequence[ProgramRules] = (),
    past: Sequence[CountedEvent] = (),
) -> tuple[list[PlanEvent], dict[str, ProgramRules]]:
    """:func:`load_plans` and every DR program (files and ``programs``) by id."""
    problems: list[Problem] = []
    sourced: list[Sourced] = []
    rules: list[tuple[LocatedRules, str]] = []
    for path in each_file_once(paths):
        file = str(path)
        try:
            text = _read(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(Problem(file, 1, 1, f"cannot read plan: {_reason(exc)}"))
            continue
        located, defined, found = parse_document(text, file, budget=MAX_EVENTS - len(sourced))
        problems.extend(found)
        sourced.extend((item, file) for item in located)
        rules.extend((item, file) for item in defined)
        if found.over_budget:
            break  # one message: the other files would only repeat it
    return _finish(sourced, rules, problems, programs, past)


def _read(path: Path) -> str:
    """The file's text; a file over :data:`MAX_PLAN_BYTES` is refused unread."""
    with Path(path).open("rb") as handle:
        data = handle.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise ValueError(f"larger than {MAX_PLAN_BYTES // 2**20} MiB: split it into several files")
    return data.decode("utf-8")


def parse_plan(
    text: str,
    filename: str,
    *,
    programs: Sequence[ProgramRules] = (),
    past: Sequence[CountedEvent] = (),
) -> list[PlanEvent]:
    """The events of one plan document (``filename`` only names it in problems)."""
    if len(text) > MAX_PLAN_BYTES:
        message = f"cannot read plan: larger than {MAX_PLAN_BYTES // 2**20} MiB: split it"
        raise PlanError([Problem(filename, 1, 1, message)])
    located, defined, found = parse_document(text, filename, budget=MAX_EVENTS)
    sourced = [(item, filename) for item in located]
    rules = [(item, filename) for item in defined]
    return _finish(sourced, rules, list(found), programs, past)[0]


def _finish(
    sourced: list[Sourced],
    rules: list[tuple[LocatedRules, str]],
    problems: list[Problem],
    programs: Sequence[ProgramRules],
    past: Sequence[CountedEvent],
) -> tuple[list[PlanEvent], dict[str, ProgramRules]]:
    problems.extend(duplicate_ids(sourced))
    problems.extend(overlaps(sourced))
    by_id = _programs(rules, programs, problems)
    if not problems:
        planned = [counted(located.event, located.where(file)) for located, file in sourced]
        ruled = [event for event in planned if event is not None]
        problems.extend(violation_problem(v) for v in check_rules(ruled, by_id, past))
    if problems:
        raise PlanError(set(problems))
    events = [located.event for located, _ in sourced]
    return sorted(events, key=lambda e: (e.start, e.event_id)), by_id


def counted(event: PlanEvent, where: str = "", *, past: bool = False) -> CountedEvent | None:
    """The event as the program rules see it; None when it names no program."""
    if event.dr_program is None:
        return None
    pre = event.shaping.pre_condition if event.shaping is not None else None
    return CountedEvent(
        event.event_id,
        event.dr_program,
        event.ven_ids,
        event.start,
        event.end,
        past,
        where,
        pre_condition=pre.duration if pre is not None else None,
    )


def _programs(
    rules: list[tuple[LocatedRules, str]], programs: Sequence[ProgramRules], problems: list[Problem]
) -> dict[str, ProgramRules]:
    """Every DR program by id; an id defined twice is a problem at the second one."""
    by_id = {rule.program_id: rule for rule in programs}
    for located, file in sorted(rules, key=lambda r: (r[1], r[0].line, r[0].col)):
        program_id = located.rules.program_id
        first = by_id.get(program_id)
        if first is not None:
            also = first.where or "the config"
            message = f"DR program {program_id!r} is defined twice (also at {also})"
            problems.append(Problem(file, located.line, located.col, message))
            continue
        by_id[program_id] = located.rules
    return by_id


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)  # e.g. a path with a NUL byte
