"""Core statements executed past SQLAlchemy's per-row work, for executemany of thousands of rows.

At a system-wide start the HVAC controller saves each of 5,000 control
records about twice, from the store's one thread, while the event loop
needs the same interpreter lock (issue 14). SQLAlchemy builds every row's
parameters anew (``construct_params``) and runs every value through its
type's bind processor: about two thirds of the CPU of such a save on
SQLite, against a third in the driver. A :class:`DriverStatement` compiles
its statement once per dialect, looks each bind's processor up once, and
processes a value repeated across the rows of one call (an event's window
end, the instant of a batch of answers) once. The statement, the types and
the processors stay SQLAlchemy's: what reaches the database is what
``Session.execute`` would send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


class DriverStatement:
    """``statement`` compiled for ``dialect``, its rows given as tuples in ``names``' order.

    Values equal in Python share one processed form within a call, so they must
    be hashable (no JSON documents), and an instant must be a ``UtcDateTime``
    (the same instant in two zones is equal in Python; SQLite's plain DATETIME
    would write each in its own zone).
    """

    def __init__(self, statement: ClauseElement, names: Sequence[str], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        binds = compiled.binds
        if set(names) != set(binds):
            raise ValueError(f"rows name {sorted(names)}, the statement binds {sorted(binds)}")
        self.sql = compiled.string
        self._names = tuple(names)
        self._positional = bool(compiled.positional)
        order = [self._names.index(name) for name in compiled.positiontup or ()]
        #: Where each positional bind's value sits in a row; None: where the driver wants it.
        self._order = None if order == list(range(len(order))) else order
        # the dialect's own form of each type (SQLite's DATETIME writes text): the generic
        # type's processor would leave a datetime to the driver's own adapter
        self._processors = [
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self._names
        ]

    def execute(self, connection: Connection, rows: Iterable[Sequence[Any]]) -> None:
        """One ``executemany`` of ``rows``, each processed as SQLAlchemy would."""
        processed = self._processed(rows)
        if not processed:
            return
        params: list[Any] = processed
        if not self._positional:
            params = [dict(zip(self._names, row, strict=True)) for row in processed]
        elif self._order is not None:
            order = self._order
            params = [tuple([row[i] for i in order]) for row in processed]
        connection.exec_driver_sql(self.sql, params)

    def _processed(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        steps: list[tuple[int, Processor, dict[Any, Any]]] = [
            (index, processor, {})
            for index, processor in enumerate(self._processors)
            if processor is not None
        ]
        processed: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for index, processor, seen in steps:
                value = values[index]
                if value is None:
                    continue
                done = seen.get(value, seen)
                if done is seen:
                    done = seen[value] = processor(value)
                values[index] = done
            processed.append(tuple(values))
        return processed


__all__ = ["DriverStatement"]
