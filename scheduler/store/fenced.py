"""What every store of the daemon shares: short read sessions and fenced write transactions.

:meth:`FencedStore.together` runs many of a store's calls as one write
transaction (issue 14: 200 submissions due at once were 200 transactions one
after the other): while it runs, each call's own :meth:`FencedStore._write` (and
:meth:`FencedStore._read`) is that one fenced transaction. Should a call fail, nothing
of the batch is written and each call runs again alone, as it would have without
batching. Calls of one method next to each other may run as one call of a form
that takes them all (:meth:`FencedStore._many`: the daemon's intents, written by one
``executemany`` per statement).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.store import transaction

#: Runs calls of one store method at once: their results, in order (``FencedStore._many``).
Many = Callable[[Sequence[Callable[[], Any]]], list[Any]]

#: Called first in every write transaction (the leader's fencing check); raises once this
#: instance no longer leads. The one definition: the election hands its fence to the store.
Fence = Callable[[Session], None]


class _Joined(threading.local):
    """The transaction :meth:`FencedStore.together` runs in this thread, if any."""

    session: Session | None = None
    #: What to do once it has committed (metrics of what it wrote).
    after_commit: list[Callable[[], None]]


class FencedStore:
    """A store whose writes are refused once this instance no longer leads."""

    def __init__(self, engine: Engine, fence: Fence | None = None) -> None:
        self.engine = engine
        self.fence = fence
        self._joined = _Joined()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A short read session; inside :meth:`together`, its transaction.

        SQLite begins every transaction ``BEGIN IMMEDIATE``: a read on a
        connection of its own would wait for the write lock ``together`` holds.
        """
        joined = self._joined.session
        if joined is not None:
            yield joined
            return
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction, fenced when this instance leads under an epoch.

        Inside :meth:`together`: its transaction, committed with the others.
        """
        joined = self._joined.session
        if joined is not None:
            yield joined
            return
        with transaction(self.engine) as session:
            if self.fence is not None:
                self.fence(session)
            yield session

    def _on_commit(self, done: Callable[[], None]) -> None:
        """``done()`` once what was just written is committed (at once outside ``together``)."""
        if self._joined.session is None:
            done()
        else:
            self._joined.after_commit.append(done)

    def together(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        """Each of ``calls`` (this store's methods), in one fenced write transaction.

        Returns, in order, each call's result. Should one call raise, the
        transaction is rolled back (nothing of any call written) and each call
        then runs alone, in its own transaction, as without batching: its
        result, or the exception it raised in its place. An error of the
        transaction itself (the fence, the commit) raises, and nothing is written.
        No savepoints: a failing call is rare, and they cost two round trips a
        call on PostgreSQL.
        """
        if len(calls) > 1:
            try:
                return self._all_or_nothing(calls)
            except _CallFailed:
                pass  # rolled back: nothing of the batch is written
        return [_alone(call) for call in calls]

    def _all_or_nothing(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        results: list[Any] = []
        after: list[Callable[[], None]] = []
        with self._write() as session:
            self._joined.session, self._joined.after_commit = session, after
            try:
                for many, run in self._runs(calls):
                    try:
                        results.extend(many(run) if many is not None else [run[0]()])
                        session.flush()  # its own errors surface here, not in another's
                    except Exception as error:  # one call failed: the batch is undone
                        raise _CallFailed from error
                    # none of its rows is returned: a session that kept them all made
                    # every later call slower
                    session.expunge_all()
            finally:
                self._joined.session = None
        for done in after:
            done()
        return results

    def _runs(
        self, calls: Sequence[Callable[[], Any]]
    ) -> Iterator[tuple[Many | None, Sequence[Callable[[], Any]]]]:
        """``calls`` in order: those next to each other with the same :meth:`_many`
        form together, with it; any other alone, with None."""
        index = 0
        while index < len(calls):
            many = self._many(calls[index])
            end = index + 1
            if many is not None:
                while end < len(calls) and self._many(calls[end]) == many:
                    end += 1
            yield many, calls[index:end]
            index = end

    def _many(self, call: Callable[[], Any]) -> Many | None:
        """What runs many calls like ``call`` at once (``executemany``), if any.

        ``call`` is given by the store gateway as a :class:`functools.partial` of
        this store's method and its arguments. ``Many`` takes the calls and returns
        their results in order; it raises (and the batch is run again one call at
        a time) when any of them would.
        """
        return None


class _CallFailed(Exception):
    """A call of a batch raised: roll the batch back, then run each call alone."""


def _alone(call: Callable[[], Any]) -> Any:
    """The call's result, or the exception it raised (as its caller would have seen it)."""
    try:
        return call()
    except Exception as error:  # handed to its caller by the store gateway
        return error
