"""How fast this machine is right now, measured once per session with a real ``drsched run``.

Real-time tests (marked ``realtime``: tests/crash, the e2e tests that run the
daemon, the leader, supervision and health integration tests) size their
windows, leads and deadlines with :func:`pace`, never with a constant tuned
on a quiet laptop: on a busy machine (other work beside the suite) a start-up
that takes 2 s quietly takes 5-12 s, and so does every CLI call, so fixed
windows close before a daemon is ready and the run proves nothing.

The calibration starts ``drsched run`` twice on an empty SQLite database and
times each start to its ``daemon.ready`` log line; the second start counts
(the first also pays for cold disk caches, which the tests after it do not).
:attr:`Pace.factor` is that time over :data:`REFERENCE_STARTUP_S` (at least
1), and :meth:`Pace.s` scales a duration written for a quiet machine.
``DRSCHED_TEST_STARTUP_S`` sets the start-up time instead of measuring it
(to replay a run at a given pace, or to skip the ~5 s calibration).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

#: A ``drsched run`` start-up to READY on a quiet 2-core machine (SQLite, one plan file).
REFERENCE_STARTUP_S = 2.0
STARTUP_ENV = "DRSCHED_TEST_STARTUP_S"
#: A start-up slower than this is not a slow machine but a broken daemon.
CALIBRATION_LIMIT_S = 120.0

_PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-01}]
  signals: [{name: SIMPLE, targets: [x-DEVICE_TV]}]
events:
  - {id: calibration, start: "2099-01-01T00:00:00Z", end: "2099-01-01T01:00:00Z"}
"""


@dataclass(frozen=True)
class Pace:
    """The measured start-up, and the factor real-time windows are stretched by."""

    startup_s: float
    measured: bool = True

    @property
    def factor(self) -> float:
        return max(1.0, self.startup_s / REFERENCE_STARTUP_S)

    def s(self, seconds: float) -> float:
        """``seconds`` written for a quiet machine, at this machine's pace."""
        return seconds * self.factor

    def delta(self, seconds: float) -> timedelta:
        return timedelta(seconds=self.s(seconds))

    def describe(self) -> str:
        how = "measured" if self.measured else f"from ${STARTUP_ENV}"
        return f"drsched run start-up {self.startup_s:.1f}s ({how}): windows x{self.factor:.2f}"


_pace: Pace | None = None


def pace() -> Pace:
    """This session's pace (measured at the first call)."""
    global _pace  # one measurement per session, on first use
    if _pace is None:
        given = os.environ.get(STARTUP_ENV)
        _pace = Pace(float(given), measured=False) if given else Pace(_calibrate())
    return _pace


def _calibrate() -> float:
    with tempfile.TemporaryDirectory(prefix="drsched-pace-") as tmp:
        workdir = Path(tmp)
        (workdir / "plans").mkdir()
        (workdir / "plans" / "calibration.yaml").write_text(_PLAN)
        from scheduler.store.migrate import upgrade

        db_url = f"sqlite:///{workdir / 'drsched.db'}"
        upgrade(db_url)
        _time_to_ready(workdir, db_url)
        return _time_to_ready(workdir, db_url)


def _time_to_ready(workdir: Path, db_url: str) -> float:
    """Seconds from spawning ``drsched run`` to its ``daemon.ready`` line; then SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env |= {
        "DRSCHED_DATABASE__URL": db_url,
        "DRSCHED_DR_API__BASE_URL": "http://127.0.0.1:9/dr",  # never called: no event is due
        "DRSCHED_PLANS__PATHS": f'["{workdir}/plans/*.yaml"]',
        "DRSCHED_HTTP__LISTEN": "127.0.0.1:0",
        "DRSCHED_LOGGING__FORMAT": "json",
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run"],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    ready = threading.Event()
    said: list[bytes] = []

    def read(out: IO[bytes]) -> None:
        for line in out:  # ends when the daemon exits
            said.append(line)
            if b'"daemon.ready"' in line:
                ready.set()

    assert proc.stdout is not None
    reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
    reader.start()
    try:
        if not ready.wait(CALIBRATION_LIMIT_S):
            tail = b"".join(said[-20:]).decode(errors="replace")
            raise RuntimeError(f"calibration: drsched run never said daemon.ready:\n{tail}")
        return time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=CALIBRATION_LIMIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()
