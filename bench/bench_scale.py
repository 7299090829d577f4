"""The scale curve: one event over 1,000 / 5,000 / 20,000 / 50,000 facilities (issue 14).

Per scale, a real ``drsched run`` (SQLite, JSON logs at ``info``) against
``drsched simulate --latency-ms 50 --sites N/1000 --gateways 50 --facilities 20``
in its own process (2,500 gateways at 50,000 facilities), every gateway mapped
to one VEN. After READY the plan is written and the daemon told (SIGHUP); its
one event is submitted at once and starts ``prefetch + 15 s`` later. Measured:

- prepare: the daemon's ``hvac.call`` (phase prepared) to ``hvac.prepared``
  log lines: one state read per gateway, a decision and a row per facility;
- fan-out: the window start to the last PUT the simulator handled, against the
  latency-bound limit ``PUTs / becon.max_concurrency × latency`` (it includes
  the poll that sees ``active``: control starts only then);
- the daemon's peak RSS (``VmHWM``) once every PUT is answered;
- the database's growth for that one event (SQLite file and WAL), per facility.

``hvac.on_stop: hand_over`` so that each run ends at once. ``--plot PATH``
draws the four curves (matplotlib, in the ``test`` extra).

Run: ``.venv/bin/python -m bench.bench_scale [--scales 1000,5000,20000,50000]
[--plot bench/scale.png]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._support import memory_kib, simulator
from bench.bench_first_action import wait_for

PER_SITE = 1_000  # the simulator's 50 gateways × 20 facilities
GATEWAYS_PER_SITE = 50
LATENCY_S = 0.05
CONCURRENCY = 16
#: The submission comes this long before the prefetch: HVAC control prepares only an event
#: the DR service has (pending or standby), as in production (``submit_lead`` 24 h).
SUBMIT_AHEAD = timedelta(seconds=15)
WINDOW = timedelta(minutes=10)
PLAN = """\
timezone: UTC
defaults:
  vtn_id: vtn01
  targets: [{{ven: CE-01}}]
  signals:
    - {{name: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER], max_temp: 80,
       temp_offset: 4, unit: F}}
events:
  - {{id: scale, start: "{start}", end: "{end}"}}
"""


@dataclass(frozen=True)
class Point:
    facilities: int
    prepare_s: float
    puts: int
    limit_s: float
    first_put_s: float
    last_put_s: float
    rss_mib: float
    db_kib: float

    @property
    def ratio(self) -> float:
        return self.last_put_s / self.limit_s


def prefetch_for(facilities: int) -> timedelta:
    """Room for the prepare before the start: 20 s, and 1.5 s a thousand facilities."""
    return timedelta(seconds=max(20.0, 1.5 * facilities / 1_000))


def write_config(workdir: Path, sim_url: str, sites: int, lead: timedelta) -> Path:
    targets = [
        {"ven": "CE-01", "site": f"S{s:03d}", "gateway": f"GW-{g:02d}"}
        for s in range(1, sites + 1)
        for g in range(1, GATEWAYS_PER_SITE + 1)
    ]
    config = {
        "database": {"url": f"sqlite:///{workdir / 'drsched.db'}"},
        "dr_api": {"base_url": f"{sim_url}/dr", "submit_lead": _seconds(lead + SUBMIT_AHEAD)},
        "becon": {"base_url": sim_url, "max_concurrency": CONCURRENCY},
        "plans": {"paths": [str(workdir / "plans" / "*.yaml")]},
        "http": {"listen": "127.0.0.1:0"},
        "hvac": {
            "targets": targets,
            "prefetch_lead": _seconds(lead),
            "on_stop": "hand_over",
        },
        "logging": {"format": "json", "level": "info"},
    }
    path = workdir / "drsched.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


class DaemonLog:
    """The daemon's JSON log lines, read as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[dict[str, Any]] = []
        self._offset = 0

    def read(self) -> list[dict[str, Any]]:
        with self.path.open() as file:
            file.seek(self._offset)
            for line in file:
                if line.startswith("{") and line.endswith("\n"):
                    self.lines.append(json.loads(line))
                    self._offset += len(line.encode())
                else:
                    break
        return self.lines

    def first(self, event: str, **fields: str) -> dict[str, Any] | None:
        for line in self.read():
            if line.get("event") == event and all(line.get(k) == v for k, v in fields.items()):
                return line
        return None


def _seconds(span: timedelta) -> str:
    return f"{int(span.total_seconds())}s"


def _at(line: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))


def _db_bytes(workdir: Path) -> int:
    return sum(p.stat().st_size for p in workdir.glob("drsched.db*"))


def one_scale(facilities: int, workdir: Path, profile: Path | None = None) -> Point:
    sites = max(1, facilities // PER_SITE)
    flags = ["--latency-ms", f"{LATENCY_S * 1000:g}", "--sites", str(sites)]
    flags += ["--gateways", str(GATEWAYS_PER_SITE), "--facilities", "20"]
    prefetch = prefetch_for(facilities)
    with simulator(flags, workdir) as sim_url:
        config = write_config(workdir, sim_url, sites, prefetch)
        (workdir / "plans").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
        env["DRSCHED_CONFIG"] = str(config)
        log = DaemonLog(workdir / "daemon.log")
        with log.path.open("w") as sink:
            profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
            daemon = subprocess.Popen(
                [sys.executable, *profiler, "-m", "scheduler", "run"],
                env=env,
                cwd=workdir,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        admin = httpx.Client(base_url=sim_url, timeout=60)
        try:
            wait_for(lambda: log.first("daemon.ready") is not None, 300, "READY")
            before = _db_bytes(workdir)
            start = datetime.now(UTC).replace(microsecond=0) + prefetch + SUBMIT_AHEAD
            plan = PLAN.format(start=start.isoformat(), end=(start + WINDOW).isoformat())
            (workdir / "plans" / "scale.yaml").write_text(plan)
            daemon.send_signal(signal.SIGHUP)
            budget = (start - datetime.now(UTC)).total_seconds() + 600
            wait_for(lambda: log.first("hvac.started") is not None, budget, "hvac.started")
            controls = admin.get("/_sim/becon/controls").json()
            rss = memory_kib(daemon.pid)["VmHWM"] / 1024
            grown = _db_bytes(workdir) - before
        finally:
            admin.close()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=120)
    called = log.first("hvac.call", phase="prepared")
    prepared = log.first("hvac.prepared")
    if called is None or prepared is None:
        raise RuntimeError(f"the daemon's log lacks its prepare: {log.path}")
    times = sorted(datetime.fromisoformat(c["time"]) for c in controls)
    return Point(
        facilities=facilities,
        prepare_s=(_at(prepared) - _at(called)).total_seconds(),
        puts=len(times),
        limit_s=len(times) / CONCURRENCY * LATENCY_S,
        first_put_s=(times[0] - start).total_seconds(),
        last_put_s=(times[-1] - start).total_seconds(),
        rss_mib=rss,
        db_kib=grown / 1024,
    )


def table(points: list[Point]) -> str:
    rows = [
        "| facilities | prepare | PUTs | limit | first PUT | last PUT | fan-out / limit"
        " | daemon peak RSS | database per event (per facility) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        per = p.db_kib * 1024 / p.facilities
        rows.append(
            f"| {p.facilities:,} | {p.prepare_s:.2f} s | {p.puts:,} | {p.limit_s:.2f} s"
            f" | {p.first_put_s:.2f} s | {p.last_put_s:.2f} s | {p.ratio:.2f}×"
            f" | {p.rss_mib:.0f} MiB | {p.db_kib:,.0f} KiB ({per:.0f} B) |"
        )
    return "\n".join(rows)


def plot(points: list[Point], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [p.facilities for p in points]
    panels = (
        ("prepare (s)", [p.prepare_s for p in points], None),
        ("fan-out / latency-bound limit", [p.ratio for p in points], 1.3),
        ("daemon peak RSS (MiB)", [p.rss_mib for p in points], 300),
        ("database per event (KiB)", [p.db_kib for p in points], None),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(18, 4))
    for axis, (title, values, limit) in zip(axes, panels, strict=True):
        axis.plot(x, values, marker="o")
        if limit is not None:
            axis.axhline(limit, color="red", linestyle="--", label=f"goal at 50,000: {limit}")
            axis.legend()
        axis.set_title(title)
        axis.set_xlabel("facilities")
        axis.set_ylim(bottom=0, top=max(*values, limit or 0) * 1.1)  # the goal in sight
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000,5000,20000,50000")
    parser.add_argument("--plot", type=Path)
    parser.add_argument(
        "--profile", type=Path, help="run the daemon under cProfile, its stats to this file"
    )
    args = parser.parse_args()
    points = []
    for facilities in (int(s) for s in args.scales.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            began = time.monotonic()
            point = one_scale(facilities, Path(tmp), args.profile)
        points.append(point)
        load = os.getloadavg()[0]
        print(
            f"{facilities:>6,} facilities: prepare {point.prepare_s:.2f} s, "
            f"{point.puts:,} PUTs, last {point.last_put_s:.2f} s = {point.ratio:.2f}× "
            f"the {point.limit_s:.2f} s limit, first {point.first_put_s:.2f} s, "
            f"RSS {point.rss_mib:.0f} MiB, database +{point.db_kib:,.0f} KiB "
            f"(run {time.monotonic() - began:.0f} s, load {load:.1f})",
            flush=True,
        )
    print(table(points))
    if args.plot:
        plot(points, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
