"""Collecting plan problems, so one run reports every one of them at once."""

from __future__ import annotations

from collections.abc import Iterator

from scheduler.errors import PlanError, Problem


class Problems:
    """The problems found in one file, each once (defaults merged into many events
    would otherwise repeat the same problem at the same position)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._found: set[Problem] = set()
        #: Problems reported so far, repeats included: compare before and after
        #: a check to learn whether it found anything.
        self.reported = 0
        #: Set when the plans' event limit was reached here (nothing more is loaded).
        self.over_budget = False

    def add(self, line: int, col: int, message: str) -> None:
        self.reported += 1
        self._found.add(Problem(self.file, line, col, message))

    def at(self, where: tuple[int, int], message: str) -> None:
        """Report ``message`` at a ``(line, col)`` position."""
        self.add(where[0], where[1], message)

    def __iter__(self) -> Iterator[Problem]:
        return iter(sorted(self._found))

    def __len__(self) -> int:
        return len(self._found)

    def raise_if_any(self) -> None:
        if self._found:
            raise PlanError(self._found)
