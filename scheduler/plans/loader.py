"""Plan files to events: the public entry points of :mod:`scheduler.plans`.

A bad plan gives every problem of every file at once and no events
(DESIGN.md rule 5); nothing but :class:`~scheduler.errors.PlanError` escapes,
whatever the input. The only I/O is reading the files named.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from scheduler.domain.events import PlanEvent
from scheduler.errors import PlanError, Problem
from scheduler.plans.checks import Sourced, duplicate_ids, overlaps
from scheduler.plans.document import MAX_EVENTS, MAX_PLAN_BYTES, parse_document


def load_plans(paths: Sequence[Path]) -> list[PlanEvent]:
    """Every event of every file, sorted by (start, event_id); ids unique across files.

    A file named twice (``ok.yaml`` and ``$PWD/ok.yaml``, a symlink, a glob that
    matches it again) is read once: its events are not duplicates of themselves.
    """
    problems: list[Problem] = []
    sourced: list[Sourced] = []
    for path in _each_file_once(paths):
        file = str(path)
        try:
            text = _read(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(Problem(file, 1, 1, f"cannot read plan: {_reason(exc)}"))
            continue
        located, found = parse_document(text, file, budget=MAX_EVENTS - len(sourced))
        problems.extend(found)
        sourced.extend((item, file) for item in located)
        if found.over_budget:
            break  # one message: the other files would only repeat it
    return _finish(sourced, problems)


def _read(path: Path) -> str:
    """The file's text; a file over :data:`MAX_PLAN_BYTES` is refused unread."""
    with Path(path).open("rb") as handle:
        data = handle.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise ValueError(f"larger than {MAX_PLAN_BYTES // 2**20} MiB: split it into several files")
    return data.decode("utf-8")


def _each_file_once(paths: Sequence[Path]) -> list[Path]:
    seen: set[str] = set()
    unique: list[Path] = []
    for path in paths:
        try:
            key = os.path.realpath(path)
        except (OSError, ValueError):  # reported when the file is read
            key = str(path)
        if key not in seen:
            seen.add(key)
            unique.append(Path(path))
    return unique


def parse_plan(text: str, filename: str) -> list[PlanEvent]:
    """The events of one plan document (``filename`` only names it in problems)."""
    if len(text) > MAX_PLAN_BYTES:
        message = f"cannot read plan: larger than {MAX_PLAN_BYTES // 2**20} MiB: split it"
        raise PlanError([Problem(filename, 1, 1, message)])
    located, found = parse_document(text, filename, budget=MAX_EVENTS)
    return _finish([(item, filename) for item in located], list(found))


def resolve_plan_paths(patterns: Sequence[str]) -> list[Path]:
    """The files ``plans.paths`` names: globs expanded, sorted, each once.

    A pattern that matches no file is a problem naming it: a typo in the
    config must not silently drop a plan.
    """
    found: set[Path] = set()
    problems: list[Problem] = []
    for pattern in patterns:
        matches = [Path(m) for m in glob.glob(pattern, recursive=True) if Path(m).is_file()]
        if not matches and Path(pattern).is_file():
            matches = [Path(pattern)]  # a file whose name has glob characters, like [1]
        if not matches:
            problems.append(Problem(pattern, 0, 0, "no plan file matches this pattern"))
        found.update(matches)
    if problems:
        raise PlanError(problems)
    return _each_file_once(sorted(found))


def _finish(sourced: list[Sourced], problems: list[Problem]) -> list[PlanEvent]:
    problems.extend(duplicate_ids(sourced))
    problems.extend(overlaps(sourced))
    if problems:
        raise PlanError(set(problems))
    events = [located.event for located, _ in sourced]
    return sorted(events, key=lambda e: (e.start, e.event_id))


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)  # e.g. a path with a NUL byte
