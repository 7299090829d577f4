"""One daemon per SQLite database: an ``fcntl`` lock file next to it.

Two daemons on one SQLite file would both submit the same events. The lock
(``drsched.db.lock`` beside ``drsched.db``) is held for the daemon's whole
life and released by the kernel when the process dies, so a crash never
leaves a stale lock. PostgreSQL deployments use the store's leader lock
instead; there this is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from scheduler.errors import AlreadyRunningError, StoreError
from scheduler.store.urls import parse_url


def sqlite_lock_path(url: str) -> Path | None:
    """``<database>.lock`` for a SQLite file URL; None for PostgreSQL or in-memory SQLite."""
    parsed = parse_url(url)  # not SQLAlchemy's make_url: ``drsched status`` is not to import it
    if parsed.backend != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = Path(parsed.database)
    return database.with_name(database.name + ".lock")


class DaemonLock:
    """Held while the daemon runs; raises :class:`AlreadyRunningError` if another holds it."""

    def __init__(self, url: str) -> None:
        self.path = sqlite_lock_path(url)
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:  # one clear line and exit 3, not a traceback
            raise StoreError(
                f"cannot create the lock file {self.path}: {exc.strerror or exc} "
                "(drsched needs to write in the database's folder)"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunningError(
                f"another drsched daemon (pid {holder}) is already running on this database; "
                f"lock file {self.path}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@dataclass(frozen=True)
class LockState:
    """Whether a daemon holds a SQLite database's lock, and the pid it wrote there."""

    path: Path | None
    held: bool
    pid: int | None


def lock_state(url: str) -> LockState:
    """Look without taking over: ``drsched status`` on SQLite.

    The probe takes a *shared* lock for an instant (it conflicts only with the
    daemon's exclusive one): a daemon starting in that very instant is refused
    as "already running" and restarted by systemd. Nothing is created or written.
    """
    path = sqlite_lock_path(url)
    if path is None or not path.exists():
        return LockState(path, False, None)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return LockState(path, True, int(text) if text.isdigit() else None)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return LockState(path, False, None)
    finally:
        os.close(fd)
