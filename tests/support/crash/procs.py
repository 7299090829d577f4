"""The real processes: ``drsched run`` (killed and restarted) and CLI calls.

The daemon is configured only through ``DRSCHED_*`` environment variables
(as systemd would); each start appends its output to one log file, with a
banner per start, so a failed check can show what the daemon said.
CLI calls run in the background (:class:`CliCall`) so the driver's loop
keeps killing and injecting faults while a command is in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

#: libpq reads it: the daemon's PostgreSQL sessions carry this application_name,
#: which is how a simulated database restart finds them (and only them).
DAEMON_APPLICATION_NAME = "drsched-crash-daemon"


def daemon_env(
    *,
    db_url: str,
    dr_url: str,
    becon_url: str,
    plans_glob: str,
    submit_lead_s: float,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DRSCHED_") and key != "PGAPPNAME"
    }
    env.update(
        {
            "DRSCHED_DATABASE__URL": db_url,
            "DRSCHED_DR_API__BASE_URL": dr_url,
            "DRSCHED_DR_API__SUBMIT_LEAD": f"{submit_lead_s:g}s",
            "DRSCHED_BECON__BASE_URL": becon_url,
            "DRSCHED_PLANS__PATHS": f'["{plans_glob}"]',
            "DRSCHED_HTTP__LISTEN": "127.0.0.1:0",  # several daemons (other tests) on one host
            "DRSCHED_LOGGING__FORMAT": "json",
            "PGAPPNAME": DAEMON_APPLICATION_NAME,
        }
    )
    env.update(extra or {})
    return env


@dataclass
class DaemonProcess:
    """``drsched run``, started, SIGKILLed and restarted by the driver."""

    env: dict[str, str]
    cwd: Path
    log_path: Path
    starts: int = 0
    kills: int = 0
    exit_codes: list[int] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _offset: int = 0
    _ready: bool = False

    def start(self) -> None:
        assert not self.running, "one daemon at a time"
        self.starts += 1
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== start {self.starts} at {time.time():.3f}\n".encode())
        self._log.flush()
        self._offset, self._ready = self._log.tell(), False
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ready(self) -> bool:
        """True once this start logged ``daemon.ready`` (plans applied, intents reconciled)."""
        if not self._ready and self.running:
            with self.log_path.open("rb") as log:
                log.seek(self._offset)
                self._ready = b'"daemon.ready"' in log.read()
        return self._ready

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def kill(self) -> None:
        """SIGKILL, and wait until the process is gone (its locks with it)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self.kills += 1
        self.exit_codes.append(self._proc.wait(timeout=10))
        self._close_log("killed")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (the graceful path); SIGKILL if it does not stop in time."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        code = self._proc.returncode
        self.exit_codes.append(code)
        self._close_log(f"stopped, exit {code}")
        return code

    def reap(self) -> int | None:
        """The exit code if the daemon died on its own (then it is restarted)."""
        if self._proc is None or self._proc.poll() is None:
            return None
        code = self._proc.returncode
        self.exit_codes.append(code)
        self._close_log(f"exited on its own, code {code}")
        return code

    def _close_log(self, how: str) -> None:
        self._proc = None
        if self._log is not None:
            self._log.write(f"=== {how} at {time.time():.3f}\n".encode())
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class CliCall:
    """One ``drsched ...`` command running in the background."""

    args: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    started_at: float = 0.0
    returncode: int | None = None
    output: str = ""
    _proc: subprocess.Popen[str] | None = None

    def start(self) -> CliCall:
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", *self.args],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def done(self) -> bool:
        """True once finished (``returncode`` and ``output`` are then set)."""
        if self._proc is None:
            return True
        if self._proc.poll() is None:
            return False
        self.output, _ = self._proc.communicate()
        self.returncode = self._proc.returncode
        self._proc = None
        return True

    def wait(self, timeout: float = 60.0) -> CliCall:
        if self._proc is not None:
            self.output, _ = self._proc.communicate(timeout=timeout)
            self.returncode = self._proc.returncode
            self._proc = None
        return self

    def abandon(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.wait()
