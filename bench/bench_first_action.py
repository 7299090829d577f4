"""Lateness of the first action of 200 simultaneous events: POST time minus its due time.

200 events on 200 VENs share one window, so all 200 submissions fall due at
the same instant (``start - dr_api.submit_lead``). A real ``drsched run``
(started well before, ready) and ``drsched simulate`` in their own
processes; the lateness of each event is the simulator's log time of its
POST (``/_sim/dr/calls``, recorded when the service handled it) minus that
instant. Both run on this machine's clock. Printed: p50, p99 and max over
the 200, and when the first and the last POST arrived.

Run: ``.venv/bin/python -m bench.bench_first_action [--events 200] [--url URL]
[--latency-ms 0] [--repeat 3]`` (``--url``: a PostgreSQL server; a fresh
database is created there for each run and dropped after).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._support import database, simulator

SUBMIT_LEAD_S = 10
#: From the daemon's launch to the due instant: start-up and plan apply fit well within.
DUE_AFTER_LAUNCH_S = 20

HEADER = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  signals: [{{name: SIMPLE, targets: [x-DEVICE_TV]}}]
events:
"""
EVENT = (
    '  - {{id: load-{n:03d}, start: "{start}", end: "{end}", targets: [{{ven: VEN-{n:03d}}}]}}\n'
)


def write_plan(path: Path, events: int, start: datetime) -> None:
    end = start + timedelta(minutes=30)
    body = "".join(
        EVENT.format(n=n, start=start.isoformat(), end=end.isoformat()) for n in range(events)
    )
    path.write_text(HEADER.format() + body)  # format: the header's doubled braces


def start_daemon(
    db_url: str,
    sim_url: str,
    plans: Path,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    output: Path | None = None,
) -> subprocess.Popen[str]:
    """``drsched run`` on ``plans``; ``extra_env`` adds or overrides ``DRSCHED_*`` settings,
    ``output`` keeps its log (else it goes to /dev/null)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env.update(
        {
            "DRSCHED_DATABASE__URL": db_url,
            "DRSCHED_DR_API__BASE_URL": f"{sim_url}/dr",
            "DRSCHED_DR_API__SUBMIT_LEAD": f"{SUBMIT_LEAD_S}s",
            "DRSCHED_PLANS__PATHS": f'["{plans}/*.yaml"]',
            "DRSCHED_HTTP__LISTEN": "127.0.0.1:0",
            "DRSCHED_LOGGING__FORMAT": "json",
            "DRSCHED_LOGGING__LEVEL": "warning",
        }
    )
    env.update(extra_env or {})
    command = [sys.executable, "-m", "scheduler", "run"]
    if output is None:
        return subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    with output.open("w") as sink:  # the child keeps its own descriptor
        return subprocess.Popen(
            command, env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT, text=True
        )


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)  # polling another process, bounded by the deadline
    raise RuntimeError(f"timed out waiting for {what}")


def one_run(events: int, db_url: str, sim_url: str, workdir: Path) -> list[float]:
    """Lateness (s) of each POST; the plan's events fall due after the daemon is ready."""
    plans = workdir / "plans"
    plans.mkdir()
    # The daemon applies plans.paths at start; its start-up takes a few seconds.
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=DUE_AFTER_LAUNCH_S)
    write_plan(plans / "load.yaml", events, due + timedelta(seconds=SUBMIT_LEAD_S))
    daemon = start_daemon(db_url, sim_url, plans, workdir)
    admin = httpx.Client(base_url=sim_url, timeout=10)
    try:

        def posted() -> bool:
            calls = admin.get("/_sim/dr/calls").json()
            return sum(1 for c in calls if c["method"] == "POST") >= events

        wait_for(posted, DUE_AFTER_LAUNCH_S + 120, f"{events} POSTs")
        calls = admin.get("/_sim/dr/calls").json()
    finally:
        admin.close()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    times = [datetime.fromisoformat(c["time"]) for c in calls if c["method"] == "POST"]
    return sorted((t - due).total_seconds() for t in times)


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulator latency")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kind = "postgres" if args.url else "sqlite"
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            flags = ["--latency-ms", f"{args.latency_ms:g}"]
            with simulator(flags, workdir) as sim_url, database(kind, args.url, workdir) as url:
                late = one_run(args.events, url, sim_url, workdir)
        print(
            f"run {attempt + 1}: {len(late)} POSTs, lateness p50 {percentile(late, 0.5):.3f} s, "
            f"p99 {percentile(late, 0.99):.3f} s, max {late[-1]:.3f} s "
            f"(first {late[0]:.3f} s)"
        )


if __name__ == "__main__":
    main()
