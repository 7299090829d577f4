"""Which plan files ``plans.paths`` names, without reading them.

Kept apart from :mod:`.loader` so that the daemon can tell whether the files changed
(:mod:`.digest`) without loading the plan parser.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from scheduler.errors import PlanError, Problem


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
    return each_file_once(sorted(found))


def each_file_once(paths: Sequence[Path]) -> list[Path]:
    """``paths`` less those naming a file already named (a symlink, a relative path)."""
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
