"""A system-wide event: 200 LOAD_CONTROL events starting at the same instant (issue 14).

200 events on 200 VENs (V000–V049 mapped to 2 gateways each, V050–V199 to 1):
together all 250 gateways and 5,000 facilities of ``drsched simulate --latency-ms 50
--sites 5 --gateways 50 --facilities 20``. A real ``drsched run`` (``submit_lead`` 20 s,
``prefetch_lead`` 15 s, ``becon.max_concurrency`` 16, ``dr_api.max_concurrency`` 10)
and the simulator run in their own processes on one machine and one clock; every time
comes from the simulator's logs (``/_sim/dr/calls``, ``/_sim/becon/controls``: recorded
when the service handles the call, after its latency).

Per run:

- the latency-bound limit of the start: ``PUTs / becon.max_concurrency × latency``;
- the last PUT answered after the window start, and its ratio to that limit;
- the first PUT after the start: when it reached the simulator (its record's
  ``arrived``, taken before the latency), and, as measured until 2026-12-01, its answer
  less the latency (that also counts the time the simulator's loop took to come back to
  it after the latency, with 16 PUTs and 10 GETs arriving together);
- POST lateness p50/p99: each POST's log time minus the instant it was due
  (``start − submit_lead``), beside its floor: with ``dr_api.max_concurrency`` POSTs
  in flight and every one taking the latency, the k-th cannot be answered before
  ``(k // concurrency + 1) × latency``;
- the CPU the daemon's main thread (its event loop), the whole daemon and the simulator
  spent from the start to the last PUT (``/proc``, sampled every 0.2 s): a main thread
  busy most of that time means the start is CPU-bound, not latency-bound;
- the load average of the machine (1 min) when the start came;
- the client's floor: after the daemon stopped, the same PUTs (the simulator's record of
  them) sent again through the daemon's BECON client alone, ``becon.max_concurrency`` at
  a time, on the same simulator: what the client's and the simulator's own CPU per call
  make of the latency bound on this machine now, with no daemon around the client.

Then the median of the runs.

Run: ``.venv/bin/python -m bench.bench_system_wide [--runs 3] [--url URL]``
(``--url``: a PostgreSQL server; a fresh database is created there for each run and
dropped after; default SQLite). ``--keep-logs DIR`` keeps each run's daemon log
and the simulator's record of the calls;
``--profile DIR`` samples the daemon with py-spy (``pip install py-spy``) from a
second before the start (``--profile-at due``: the submissions) for 12 s
(``--profile-seconds``), as collapsed stacks per thread (``--profile-gil``: only the
thread holding the GIL, i.e. where the daemon's one Python core went).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._support import database, simulator_process
from bench.bench_first_action import percentile, start_daemon, wait_for
from scheduler import logging as drsched_logging
from scheduler.config import BeconConfig
from scheduler.config_values import becon_client
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import Batch, Control, FacilityKey

EVENTS = 200
SITES, GATEWAYS, FACILITIES = 5, 50, 20
#: VENs mapped to two gateways each; the others to one (250 gateways in all).
TWO_GATEWAY_VENS = 50
LATENCY_MS = 50.0
BECON_CONCURRENCY = 16
DR_CONCURRENCY = 10
SUBMIT_LEAD_S = 20
PREFETCH_LEAD_S = 15
#: From the daemon's launch to the submissions' due instant: start-up fits well within.
DUE_AFTER_LAUNCH_S = 25
#: The start is over once no PUT came for this long.
QUIET_S = 4.0
TICKS = os.sysconf("SC_CLK_TCK")

HEADER = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  signals:
    - {name: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER], max_temp: 80,
       temp_offset: 4, unit: F}
events:
"""
EVENT = '  - {{id: sw-{n:03d}, start: "{start}", end: "{end}", targets: [{{ven: V{n:03d}}}]}}\n'


def gateways() -> list[tuple[str, str]]:
    return [
        (f"S{s:03d}", f"GW-{g:02d}") for s in range(1, SITES + 1) for g in range(1, GATEWAYS + 1)
    ]


def hvac_targets() -> list[dict[str, str]]:
    """Each VEN's gateways: the first ``TWO_GATEWAY_VENS`` get two, the rest one."""
    pool = iter(gateways())
    targets = []
    for n in range(EVENTS):
        for _ in range(2 if n < TWO_GATEWAY_VENS else 1):
            site, gateway = next(pool)
            targets.append({"ven": f"V{n:03d}", "site": site, "gateway": gateway})
    return targets


def write_plan(path: Path, start: datetime) -> None:
    end = start + timedelta(minutes=30)
    body = "".join(
        EVENT.format(n=n, start=start.isoformat(), end=end.isoformat()) for n in range(EVENTS)
    )
    path.write_text(HEADER + body)


@dataclass
class Run:
    load: float
    puts: int
    limit_s: float
    first_put_s: float
    #: The first PUT's answer less the latency (the figure until 2026-12-01).
    first_answer_s: float
    last_put_s: float
    post_p50_s: float
    post_p99_s: float
    post_floor_p99_s: float
    #: CPU seconds from the start to the last PUT: main thread, daemon, simulator.
    cpu_s: tuple[float, float, float]
    #: The same PUTs through the client alone (module docstring), in seconds.
    floor_s: float

    @property
    def ratio(self) -> float:
        return self.last_put_s / self.limit_s

    def __str__(self) -> str:
        return (
            f"load {self.load:.2f}; {self.puts} PUTs, limit {self.limit_s:.2f} s; "
            f"last PUT answered {self.last_put_s:.2f} s after the start = {self.ratio:.2f}x; "
            f"first PUT {self.first_put_s * 1000:.0f} ms (answered less the latency "
            f"{self.first_answer_s * 1000:.0f} ms); POST lateness p50 "
            f"{self.post_p50_s:.3f} s, p99 {self.post_p99_s:.3f} s "
            f"(floor {self.post_floor_p99_s:.2f} s); CPU to the last PUT: daemon main thread "
            f"{self.cpu_s[0]:.2f} s, daemon {self.cpu_s[1]:.2f} s, simulator "
            f"{self.cpu_s[2]:.2f} s; the client alone: {self.floor_s:.2f} s = "
            f"{self.floor_s / self.limit_s:.2f}x"
        )


def post_floor(count: int, share: float) -> float:
    """The latency-bound lateness of the POST at ``share`` (see the module docstring)."""
    k = round(share * (count - 1))
    return (k // DR_CONCURRENCY + 1) * LATENCY_MS / 1000


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime + stime of a process (or of one of its threads), from ``/proc`` (Linux)."""
    where = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(where).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class CpuSamples:
    """(instant, main thread, daemon, simulator CPU) every time the harness looks."""

    daemon: int
    sim: int
    taken: list[tuple[datetime, tuple[float, float, float]]]

    def take(self) -> None:
        d, s = self.daemon, self.sim
        self.taken.append((datetime.now(UTC), (cpu_seconds(d, d), cpu_seconds(d), cpu_seconds(s))))

    def between(self, start: datetime, end: datetime) -> tuple[float, float, float]:
        """CPU spent from the last sample before ``start`` to the first after ``end``."""
        _, before = [t for t in self.taken if t[0] <= start][-1]
        _, after = next(t for t in self.taken if t[0] >= end)
        return (after[0] - before[0], after[1] - before[1], after[2] - before[2])


def one_run(
    db_url: str, sim_url: str, sim_pid: int, workdir: Path, args: argparse.Namespace
) -> Run:
    plans = workdir / "plans"
    plans.mkdir()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=DUE_AFTER_LAUNCH_S)
    start = due + timedelta(seconds=SUBMIT_LEAD_S)
    write_plan(plans / "system-wide.yaml", start)
    extra = {
        "DRSCHED_DR_API__SUBMIT_LEAD": f"{SUBMIT_LEAD_S}s",
        "DRSCHED_DR_API__MAX_CONCURRENCY": str(DR_CONCURRENCY),
        "DRSCHED_BECON__BASE_URL": sim_url,
        "DRSCHED_BECON__MAX_CONCURRENCY": str(BECON_CONCURRENCY),
        "DRSCHED_HVAC__TARGETS": json.dumps(hvac_targets()),
        "DRSCHED_HVAC__PREFETCH_LEAD": f"{PREFETCH_LEAD_S}s",
        "DRSCHED_LOGGING__LEVEL": "info",  # the daemon's default
    }
    log_path = workdir / "drsched.log"
    daemon = start_daemon(db_url, sim_url, plans, workdir, extra, log_path)
    admin = httpx.Client(base_url=sim_url, timeout=30)
    load = 0.0
    profiler = None
    cpu = CpuSamples(daemon.pid, sim_pid, [])
    try:
        if args.profile is not None:
            at = due if args.profile_at == "due" else start
            before = at - timedelta(seconds=1)
            wait_for(lambda: datetime.now(UTC) >= before, DUE_AFTER_LAUNCH_S + SUBMIT_LEAD_S, "it")
            profiler = _profile(daemon.pid, args.profile, at, args)
        wait_for(
            lambda: datetime.now(UTC) >= start - timedelta(seconds=0.3),
            DUE_AFTER_LAUNCH_S + SUBMIT_LEAD_S + 5,
            "start",
        )
        cpu.take()
        load = os.getloadavg()[0]

        def over() -> bool:
            cpu.take()
            return _quiet(admin, start)

        wait_for(over, 120, "the start's PUTs to end")
        dr_calls = admin.get("/_sim/dr/calls").json()
        controls = admin.get("/_sim/becon/controls").json()
        posts = [c for c in dr_calls if c["method"] == "POST"]
        puts = [c for c in controls if c["method"] == "PUT"]
    finally:
        admin.close()
        if profiler is not None:
            profiler.wait(timeout=60)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        keep = args.keep_logs
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(log_path, keep / f"drsched-{start:%H%M%S}.log")
            calls = {"start": start.isoformat(), "dr": dr_calls, "becon": controls}
            (keep / f"simulator-{start:%H%M%S}.json").write_text(json.dumps(calls))
    floor_s = asyncio.run(client_alone(sim_url, [_batch(c) for c in puts]))
    late = sorted((datetime.fromisoformat(c["time"]) - due).total_seconds() for c in posts)
    answered = sorted((datetime.fromisoformat(c["time"]) - start).total_seconds() for c in puts)
    arrived = sorted((datetime.fromisoformat(c["arrived"]) - start).total_seconds() for c in puts)
    return Run(
        load=load,
        puts=len(puts),
        limit_s=len(puts) / BECON_CONCURRENCY * LATENCY_MS / 1000,
        first_put_s=arrived[0],
        first_answer_s=answered[0] - LATENCY_MS / 1000,
        last_put_s=answered[-1],
        post_p50_s=percentile(late, 0.5),
        post_p99_s=percentile(late, 0.99),
        post_floor_p99_s=post_floor(len(late), 0.99),
        cpu_s=cpu.between(start, start + timedelta(seconds=answered[-1])),
        floor_s=floor_s,
    )


async def client_alone(sim_url: str, batches: list[Batch]) -> float:
    """Seconds ``batches`` take through the daemon's BECON client alone (module docstring)."""
    config = BeconConfig(base_url=sim_url, max_concurrency=BECON_CONCURRENCY)
    async with becon_client(config) as client:
        await client.send_batch(batches[0])  # its token, as the daemon had one
        queue = iter(batches)

        async def worker() -> None:
            for batch in queue:
                await client.send_batch(batch)

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(BECON_CONCURRENCY)))
        return time.monotonic() - began


def _batch(put: dict[str, Any]) -> Batch:
    """A PUT the simulator recorded, as the batch that sent it."""
    site, gateway, kind = put["site"], put["gateway"], put["facility_type"]
    controls = tuple(
        Control(
            FacilityKey(site, gateway, kind, c["facilityId"]), c["setTemp"], TempUnit(c["unit"])
        )
        for c in put["controls"]
    )
    return Batch(site, gateway, kind, controls)


def _profile(
    pid: int, folder: Path | None, start: datetime, args: argparse.Namespace
) -> subprocess.Popen[bytes] | None:
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    out = folder / f"profile-{start:%H%M%S}.txt"
    command = [str(spy), "record", "--pid", str(pid), "--rate", "250"]
    command += ["--duration", str(args.profile_seconds)]
    command += ["--format", "raw", "--threads", "--output", str(out)]
    if args.profile_gil:  # only the thread holding the GIL: where the daemon's one core goes
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _quiet(admin: httpx.Client, start: datetime) -> bool:
    """Some PUT came after the start, and none for ``QUIET_S``."""
    puts = admin.get("/_sim/becon/controls").json()
    if not puts:
        return False
    last = max(datetime.fromisoformat(c["time"]) for c in puts)
    now = datetime.now(UTC)
    return last > start and (now - last).total_seconds() >= QUIET_S


def summary(runs: list[Run]) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    limit = median([r.limit_s for r in runs])
    last = median([r.last_put_s for r in runs])
    print(
        f"median of {len(runs)}: limit {limit:.2f} s ({runs[0].puts} PUTs / {BECON_CONCURRENCY}"
        f" x {LATENCY_MS:g} ms); last PUT answered {last:.2f} s = "
        f"{median([r.ratio for r in runs]):.2f}x the limit (target <= 1.2x); first PUT "
        f"{median([r.first_put_s for r in runs]) * 1000:.0f} ms (max "
        f"{max(r.first_put_s for r in runs) * 1000:.0f} ms; target p99 <= 100 ms; answered less"
        f" the latency {median([r.first_answer_s for r in runs]) * 1000:.0f} ms); POST "
        f"lateness p50 {median([r.post_p50_s for r in runs]):.3f} s, p99 "
        f"{median([r.post_p99_s for r in runs]):.3f} s (floor {runs[0].post_floor_p99_s:.2f} s);"
        f" daemon main thread CPU {median([r.cpu_s[0] for r in runs]):.2f} s of "
        f"{last:.2f} s; the client alone {median([r.floor_s / r.limit_s for r in runs]):.2f}x; "
        f"load {median([r.load for r in runs]):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-logs", type=Path, help="copy each run's daemon log here")
    parser.add_argument("--profile", type=Path, help="py-spy the daemon at the start, into DIR")
    parser.add_argument(
        "--profile-at", choices=["start", "due"], default="start", help="or at the submissions"
    )
    parser.add_argument("--profile-seconds", type=int, default=12, help="how long to sample")
    parser.add_argument("--profile-gil", action="store_true", help="py-spy --gil")
    args = parser.parse_args()
    drsched_logging.configure(level="warning", format="json")  # the client alone: no call log
    kind = "postgres" if args.url else "sqlite"
    flags = ["--latency-ms", f"{LATENCY_MS:g}", "--sites", str(SITES)]
    flags += ["--gateways", str(GATEWAYS), "--facilities", str(FACILITIES)]
    runs = []
    print(
        f"{kind}: {EVENTS} events on {SITES * GATEWAYS} gateways, "
        f"{SITES * GATEWAYS * FACILITIES} facilities, latency {LATENCY_MS:g} ms"
    )
    for attempt in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            with (
                simulator_process(flags, workdir) as (sim_url, sim_pid),
                database(kind, args.url, workdir) as url,
            ):
                run = one_run(url, sim_url, sim_pid, workdir, args)
        runs.append(run)
        print(f"run {attempt + 1}: {run}", flush=True)
    summary(runs)
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
