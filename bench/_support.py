"""What the benchmarks and the crash soak share: a simulator process, a fresh database,
a daemon's memory.

Imported as ``bench._support`` by the scripts in ``bench/``, each run as a module from the
repository root (``.venv/bin/python -m bench.<script>``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.databases import fresh_pg_database

SIM_START_TIMEOUT_S = 60.0


@contextlib.contextmanager
def simulator(flags: list[str], workdir: Path) -> Iterator[str]:
    """``drsched simulate --port 0 FLAGS`` in its own process; yields its root URL."""
    with simulator_process(flags, workdir) as (url, _pid):
        yield url


@contextlib.contextmanager
def simulator_process(flags: list[str], workdir: Path) -> Iterator[tuple[str, int]]:
    """:func:`simulator`, yielding its process id too (to read its CPU time)."""
    args = [sys.executable, "-m", "scheduler", "simulate", "--port", "0", *flags]
    log_path = workdir / "simulator.log"
    log = log_path.open("w")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, cwd=workdir)
    try:
        try:
            url = _banner_url(proc)
        except RuntimeError as exc:
            log.flush()
            raise RuntimeError(f"{exc}:\n{log_path.read_text()[-2000:]}") from None
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _banner_url(proc: subprocess.Popen[str]) -> str:
    """The URL of the simulator's first banner line (``listening on URL``)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + SIM_START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"drsched simulate exited with {proc.wait()}")
        if "listening on " in line:
            return line.rsplit("listening on ", 1)[1].strip()
    raise RuntimeError("drsched simulate printed no URL")


@contextlib.contextmanager
def database(kind: str, pg_url: str | None, workdir: Path) -> Iterator[str]:
    """A fresh SQLite file in ``workdir``, or a fresh PostgreSQL database dropped after.

    ``pg_url`` names the server and a database to connect to for CREATE/DROP.
    """
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'drsched.db'}"
        return
    assert pg_url is not None
    yield from fresh_pg_database(pg_url, prefix="drsched_bench_")


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of a process, in KiB (Linux)."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found
