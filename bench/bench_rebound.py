"""The rebound: units changing setpoint per minute around a DR window, with and without shaping.

Issue 15. The real controller (real BECON client, SQLite store) drives the
simulator in process on a fake clock: a window of ``--window`` minutes over
``--gateways`` × 20 facilities (the simulator's inventory: some have no
setpoint, are off or in fan mode, and are skipped). Every PUT comes from the
simulator's control log with the fake instant it was made; a unit "changes
setpoint" in a minute when a PUT for it lands in that minute.

Scenarios:

- ``plain``: every unit at the start instant; restores over ``hvac.restore_stagger``;
- ``shaped``: ``randomize_start``, ``restore.stagger`` and ``restore.ramp``
  as given on the command line;
- ``pre-conditioned``: ``shaped`` plus ``pre_condition`` (``--pre-condition``,
  e.g. ``30m/2F``): the controller prepares at ``start − duration`` and sends
  the pre-conditioning setpoints then; the engine's start comes at the start.

Run: ``.venv/bin/python -m bench.bench_rebound --gateways 250 [--plot bench/rebound.png]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from scheduler.clock import FakeClock
from scheduler.config import BeconConfig, HvacTarget
from scheduler.config_values import becon_client
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.shaping import PreCondition, Ramp, Shaping
from scheduler.durations import parse_duration
from scheduler.hvac.controller import HvacController
from scheduler.hvac.planning import Settings
from scheduler.simulator.app import Simulator
from scheduler.simulator.options import SimOptions
from scheduler.store import open_engine
from scheduler.store.control import ControlStore
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade

START = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
PREFETCH = timedelta(seconds=60)
PER_GATEWAY = 20
#: How far before the start the first plot looks (the pre-conditioning's beginning).
LOOK_BEFORE = timedelta(minutes=35)
MINUTE = timedelta(minutes=1)
GATEWAYS_PER_SITE = 25


def event(window: timedelta, shaping: Shaping | None) -> PlanEvent:
    signal = Signal("s1", "LOAD_CONTROL", "x-loadControlLevelOffset", ("x-DEVICE_AIR_CONDITIONER",))
    return PlanEvent(
        event_id="bench",
        vtn_id="vtn01",
        start=START,
        end=START + window,
        signals=(replace(signal, max_temp=80, temp_offset=4, unit=TempUnit.F),),
        targets=(EventTarget("CE-01"),),
        shaping=shaping,
    )


Change = tuple[datetime, float]  # when, and by how many °F (0 for a unit's first PUT)


def prepare_at(shaping: Shaping | None) -> datetime:
    """The engine's prepare: ``start − pre_condition.duration``, else the prefetch lead."""
    pre = shaping.pre_condition if shaping is not None else None
    return START - (pre.duration if pre is not None else PREFETCH)


async def run(gateways: int, window: timedelta, shaping: Shaping | None) -> list[Change]:
    """Every setpoint change from the simulator's control log: its instant and size in °F."""
    clock = FakeClock(prepare_at(shaping))
    sites = max(1, gateways // GATEWAYS_PER_SITE)
    per_site = gateways // sites
    options = SimOptions(
        clock=clock, sites=sites, gateways=per_site, facilities=PER_GATEWAY, token_ttl_s=10**7
    )
    simulator = Simulator(options)
    transport = httpx.ASGITransport(app=simulator.app)
    targets = [
        HvacTarget(ven="CE-01", site=f"S{s:03d}", gateway=f"GW-{g:02d}")
        for s in range(1, sites + 1)
        for g in range(1, per_site + 1)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        sql = open_engine(url)
        plan = event(window, shaping)
        DaemonStore(sql).apply_events([plan], clock.now())
        becon = BeconConfig(base_url="http://sim", max_concurrency=16)
        settings = Settings(restore_stagger=timedelta(minutes=10), max_concurrency=16)
        async with becon_client(becon, transport=transport, clock=clock) as client:
            hvac = HvacController(client, ControlStore(sql), targets, settings, clock)
            await hvac.prepare(plan, clock.now())
            await _ticks(hvac, clock, plan.start - timedelta(microseconds=1))
            clock.set(plan.start)
            await hvac.start(plan, clock.now())
            await _ticks(hvac, clock, plan.end - timedelta(microseconds=1))
            clock.set(plan.end)
            await hvac.stop(plan, clock.now(), "window ended")
            await _ticks(hvac, clock, plan.end + timedelta(hours=1))
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as admin:
            log = (await admin.get("/_sim/becon/controls")).json()
        sql.dispose()
    return _changes(log)


def _changes(log: list[dict[str, Any]]) -> list[Change]:
    last: dict[tuple[str, str, str], float] = {}
    changes: list[Change] = []
    for put in log:
        at = datetime.fromisoformat(put["time"])
        for control in put["controls"]:
            key = (put["site"], put["gateway"], control["facilityId"])
            value = float(control["setTemp"])
            if control.get("unit", "F") == "C":
                value = value * 9 / 5 + 32
            moved = abs(value - last[key]) if key in last else 0.0
            last[key] = value
            changes.append((at, moved))
    return changes


async def _ticks(hvac: HvacController, clock: FakeClock, until: datetime) -> None:
    while (due := await hvac.due(clock.now())) is not None and due <= until:
        clock.set(max(due, clock.now()))
        await hvac.tick(clock.now())
    clock.set(max(until, clock.now()))


def per_minute(changes: list[Change], origin: datetime) -> Counter[int]:
    return Counter(int((at - origin) // timedelta(minutes=1)) for at, _ in changes)


def degrees_per_minute(changes: list[Change], origin: datetime) -> dict[int, float]:
    out: dict[int, float] = {}
    for at, moved in changes:
        if at >= origin:
            minute = int((at - origin) // timedelta(minutes=1))
            out[minute] = out.get(minute, 0.0) + moved
    return {m: round(v) for m, v in out.items()}


def summary(
    name: str, changes: list[Change], window: timedelta, shaping: Shaping | None
) -> dict[str, Any]:
    end_at = START + window
    start, end = per_minute(changes, START), per_minute(changes, end_at)
    before = [c for c in changes if c[0] < START]
    pre = per_minute(before, prepare_at(shaping))
    degrees = degrees_per_minute(changes, end_at)
    at_start = [start.get(m, 0) for m in range(0, 15)]
    around = per_minute(changes, START - LOOK_BEFORE)
    around_start = [around.get(m, 0) for m in range(0, int(LOOK_BEFORE / MINUTE) + 15)]
    at_end = [end.get(m, 0) for m in range(0, 40)]
    returned = [degrees.get(m, 0) for m in range(0, 40)]
    return {
        "name": name,
        "changes": len(changes),
        "pre_changes": len(before),
        "pre_peak": max(pre.values(), default=0),
        "start_peak": max(at_start),
        "end_peak": max(at_end),
        "end_degrees_peak": max(returned),
        "at_start": at_start,
        "around_start": around_start,
        "at_end": at_end,
        "returned": returned,
    }


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right, degrees) = plt.subplots(1, 3, figsize=(15, 4))
    before = -int(LOOK_BEFORE / MINUTE)
    for result in results:
        minutes = range(before, before + len(result["around_start"]))
        left.step(minutes, result["around_start"], where="post")
        right.step(range(len(result["at_end"])), result["at_end"], where="post")
        degrees.step(range(len(result["returned"])), result["returned"], where="post")
    left.set_title("around the window start: units changing setpoint / min")
    right.set_title("window end: units changing setpoint / min")
    degrees.set_title("window end: °F of setpoint returned / min")
    left.set_xlabel("minutes from the start (pre-conditioning before it)")
    left.set_yscale("symlog")
    right.set_xlabel("minutes after the end")
    degrees.set_xlabel("minutes after the end")
    degrees.legend([r["name"] for r in results])
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateways", type=int, default=250, help="× 20 facilities each")
    parser.add_argument("--window", default="30m")
    parser.add_argument("--randomize-start", default="10m")
    parser.add_argument("--stagger", default="10m")
    parser.add_argument("--ramp", default="1F/5m")
    parser.add_argument("--pre-condition", default="30m/2F", help="DURATION/OFFSET")
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    window = parse_duration(args.window)
    step, every = args.ramp.split("/")
    shaped = Shaping(
        randomize_start=parse_duration(args.randomize_start),
        restore_stagger=parse_duration(args.stagger),
        ramp=Ramp(float(step[:-1]), TempUnit(step[-1]), parse_duration(every)),
    )
    lead, offset = args.pre_condition.split("/")
    pre = PreCondition(parse_duration(lead), float(offset[:-1]), TempUnit(offset[-1]))
    results = []
    scenarios = (
        ("plain", None),
        ("shaped", shaped),
        ("pre-conditioned", replace(shaped, pre_condition=pre)),
    )
    for name, shaping in scenarios:
        began = time.monotonic()
        changes = asyncio.run(run(args.gateways, window, shaping))
        result = summary(name, changes, window, shaping)
        results.append(result)
        print(
            f"{name:15} facilities={args.gateways * PER_GATEWAY} changes={result['changes']}"
            f" before the window={result['pre_changes']} (peak {result['pre_peak']}/min)"
            f" start peak={result['start_peak']}/min end peak={result['end_peak']}/min"
            f" end peak={result['end_degrees_peak']} °F returned/min"
            f" ({time.monotonic() - began:.1f} s)"
        )
        print(f"        per minute from the start: {result['at_start']}")
        print(f"        per minute from the end:   {result['at_end'][:25]}")
        print(f"        °F returned per minute:    {result['returned'][:25]}")
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
