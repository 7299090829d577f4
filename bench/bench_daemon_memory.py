"""Memory of a real ``drsched run`` after start-up, with 20,000 planned events.

The daemon is started three times on one database, each time until it logs
``daemon.ready`` (plans applied, intents reconciled, first tick due), then
its resident memory is read from ``/proc`` (``VmRSS``; ``VmHWM`` is the
peak) right away and after ``--settle`` seconds, and it is stopped with
SIGTERM:

1. with an empty plan (the baseline: interpreter, libraries, engine);
2. with the 20,000-event plan of ``bench_plan_load.py`` (80 weekday
   programs over 2027), first start: the daemon stores it;
3. the same plan again: an unchanged re-apply, as at every restart.

No event is within the engine's horizon (24 h + submit lead), so no call
goes out; DESIGN rule 1 says memory should not grow with the plan. Linux
only (``/proc``).

Run: ``.venv/bin/python -m bench.bench_daemon_memory [--programs 80] [--url URL]``
(``--url``: a PostgreSQL server, as in ``bench_plan_apply.py``; a fresh
database is created there and dropped after).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._support import database, memory_kib
from bench.bench_plan_load import write_plan

READY_TIMEOUT_S = 180.0


def start(db_url: str, plans: Path, workdir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env.update(
        {
            "DRSCHED_DATABASE__URL": db_url,
            "DRSCHED_PLANS__PATHS": f'["{plans}/*.yaml"]',
            "DRSCHED_HTTP__LISTEN": "127.0.0.1:0",
            "DRSCHED_LOGGING__FORMAT": "json",
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run"],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(proc: subprocess.Popen[str]) -> tuple[float, list[str]]:
    """Seconds until ``daemon.ready``, and the lines read until then."""
    assert proc.stdout is not None
    began, lines = time.monotonic(), list[str]()
    while time.monotonic() - began < READY_TIMEOUT_S:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("drsched run exited:\n" + "".join(lines[-20:]))
        lines.append(line)
        if '"daemon.ready"' in line:
            return time.monotonic() - began, lines
    raise RuntimeError("drsched run did not get ready in time")


def measure(label: str, db_url: str, plans: Path, workdir: Path, settle: float) -> None:
    proc = start(db_url, plans, workdir)
    try:
        seconds, lines = wait_ready(proc)
        at_ready = memory_kib(proc.pid)
        time.sleep(settle)  # the daemon idles: what it keeps, not what it used while starting
        settled = memory_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    applied = next((ln for ln in lines if '"plans.applied"' in ln), "").strip()
    print(
        f"{label:34} ready in {seconds:5.1f} s  RSS {at_ready['VmRSS'] / 1024:6.1f} MiB, "
        f"after {settle:g} s {settled['VmRSS'] / 1024:6.1f} MiB, "
        f"peak {settled['VmHWM'] / 1024:6.1f} MiB"
    )
    if applied:
        print(f"{'':34} {applied[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=80)
    parser.add_argument("--url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        empty, big = workdir / "empty", workdir / "big"
        empty.mkdir()
        big.mkdir()
        write_plan(big, args.programs)
        kind = "postgres" if args.url else "sqlite"
        with database(kind, args.url, workdir) as url:
            measure("empty plan", url, empty, workdir, args.settle)
        with database(kind, args.url, workdir / "big") as url:
            measure(f"{args.programs} programs, first start", url, big, workdir, args.settle)
            measure(f"{args.programs} programs, restart", url, big, workdir, args.settle)


if __name__ == "__main__":
    main()
