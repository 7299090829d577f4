"""lock_state: whether a daemon holds a SQLite database's lock, looked at without taking it."""

from __future__ import annotations

import os
from pathlib import Path

from scheduler.leadership.sqlite_lock import DaemonLock, lock_state


def test_no_lock_file_means_no_daemon_and_nothing_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    state = lock_state(url)
    assert (state.held, state.pid) == (False, None)
    assert state.path == tmp_path / "drsched.db.lock"
    assert not state.path.exists()


def test_a_held_lock_names_the_daemons_pid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    with DaemonLock(url):
        state = lock_state(url)
        assert (state.held, state.pid) == (True, os.getpid())
        assert lock_state(url).held  # looking twice changes nothing
    assert lock_state(url).held is False


def test_looking_leaves_the_lock_free_for_a_daemon(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drsched.db'}"
    with DaemonLock(url):
        pass
    assert lock_state(url).held is False
    with DaemonLock(url):  # the probe took nothing with it
        assert lock_state(url).held


def test_postgresql_and_memory_have_no_lock_file() -> None:
    assert lock_state("postgresql+psycopg://db/drsched").path is None
    assert lock_state("sqlite://").held is False
