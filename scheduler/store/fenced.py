"""What every store of the daemon shares: short read sessions and fenced write transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.store import transaction

#: Called first in every write transaction (the leader's fencing check); raises once this
#: instance no longer leads. The one definition: the election hands its fence to the store.
Fence = Callable[[Session], None]


class FencedStore:
    """A store whose writes are refused once this instance no longer leads."""

    def __init__(self, engine: Engine, fence: Fence | None = None) -> None:
        self.engine = engine
        self.fence = fence

    def _read(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction, fenced when this instance leads under an epoch."""
        with transaction(self.engine) as session:
            if self.fence is not None:
                self.fence(session)
            yield session
