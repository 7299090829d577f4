"""HVAC control fan-out at the window start: 5,000 facilities on 250 gateways, 50 ms per call.

The BECON simulator runs on a real socket with ``latency_ms`` on every
vendor call: by default in its own process (``drsched simulate``), as a
real BECON is another machine; ``--sim thread`` runs it in a thread of this
process (``serve_in_background``), where it competes with the controller for
the GIL. The controller runs as in the daemon (real BECON client, SQLite
store, intent written before the PUTs, logs at ``info`` as JSON lines to
/dev/null).
Per run: a fresh event and controller, ``prepare`` (one gateway-wide state
call per gateway), then ``start`` timed:

- first PUT: from the ``start`` call to the first PUT request handed to the
  transport (what the issue asks to stay under 100 ms);
- all acknowledged: from the ``start`` call to the last PUT answer, and to
  ``start`` returning (every outcome written to the database);
- the latency-bound limit: ``PUT calls / becon.max_concurrency × latency``.

The one-facility-at-a-time baseline sends one control per PUT, one PUT
after the other, for ``--baseline`` facilities and extrapolates to all.

Run: ``.venv/bin/python -m bench.bench_control_fanout [--runs 20] [--concurrency 16]
[--transport aiohttp|httpcore]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.orm import Session

from scheduler import logging as drsched_logging
from scheduler.clients.becon.client import BeconClient
from scheduler.clients.transport import VendorTransport
from scheduler.clock import SystemClock
from scheduler.config import BeconConfig, HvacTarget
from scheduler.config_values import becon_client
from scheduler.domain.control_records import ControlState
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.hvac import Batch, Control
from scheduler.hvac.controller import HvacController
from scheduler.hvac.planning import Settings
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from scheduler.store import open_engine
from scheduler.store.control import ControlStore, records_of
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade

SITES, GATEWAYS, UNITS = 5, 50, 20


class TimingTransport(httpx.AsyncBaseTransport):
    """The real transport, noting when PUTs leave and when their answers come back."""

    def __init__(self, max_connections: int, kind: str = "aiohttp") -> None:
        # the pool the daemon's client has (``make_client``: becon.max_concurrency connections),
        # through the daemon's transport (aiohttp underneath since issue 14) or httpx's own
        limits = httpx.Limits(max_connections=max_connections)
        self.inner: httpx.AsyncBaseTransport = VendorTransport(limits)
        if kind == "httpcore":
            self.inner = httpx.AsyncHTTPTransport(limits=limits)
        self.first_put: float | None = None
        self.last_answer: float | None = None
        self.puts = 0

    def reset(self) -> None:
        self.first_put = self.last_answer = None
        self.puts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        is_put = request.method == "PUT"
        if is_put:
            self.puts += 1
            if self.first_put is None:
                self.first_put = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        if is_put:
            await response.aread()
            self.last_answer = time.perf_counter()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Run:
    first_put_ms: float
    answered_s: float
    returned_s: float
    puts: int
    applied: int

    def __str__(self) -> str:
        return (
            f"first PUT {self.first_put_ms:.1f} ms; all answered {self.answered_s:.2f} s, "
            f"written {self.returned_s:.2f} s ({self.puts} PUTs, {self.applied} applied)"
        )


@dataclass
class Results:
    runs: list[Run] = field(default_factory=list)
    prepare_s: list[float] = field(default_factory=list)


def peak(event_id: str, start: datetime) -> PlanEvent:
    signal = Signal(
        "s1",
        "LOAD_CONTROL",
        "x-loadControlLevelOffset",
        ("x-DEVICE_AIR_CONDITIONER",),
        max_temp=80,
        temp_offset=4,
        unit=TempUnit.F,
    )
    return PlanEvent(
        event_id, "vtn01", start, start + timedelta(hours=1), (signal,), (EventTarget("CE-01"),)
    )


def targets() -> list[HvacTarget]:
    return [
        HvacTarget(ven="CE-01", site=f"S{s:03d}", gateway=f"GW-{g:02d}")
        for s in range(1, SITES + 1)
        for g in range(1, GATEWAYS + 1)
    ]


async def one_run(
    client: BeconClient,
    transport: TimingTransport,
    store: DaemonStore,
    concurrency: int,
    event_id: str,
) -> tuple[float, Run]:
    clock = SystemClock()
    event = peak(event_id, clock.now() + timedelta(seconds=5))
    store.apply_events([event], clock.now())
    settings = Settings(max_concurrency=concurrency)
    controller = HvacController(client, ControlStore(store.engine), targets(), settings, clock)
    began = time.perf_counter()
    await controller.prepare(event, clock.now())
    prepared = time.perf_counter() - began
    transport.reset()
    began = time.perf_counter()
    await controller.start(event, clock.now())
    returned = time.perf_counter() - began
    assert transport.first_put is not None
    assert transport.last_answer is not None
    measured = Run(
        first_put_ms=(transport.first_put - began) * 1000,
        answered_s=transport.last_answer - began,
        returned_s=returned,
        puts=transport.puts,
        applied=await asyncio.to_thread(_applied, store, event_id),
    )
    return prepared, measured  # the simulator is reset before the next run


def _applied(store: DaemonStore, event_id: str) -> int:
    with Session(store.engine) as session:
        return sum(1 for r in records_of(session, event_id) if r.state is ControlState.APPLIED)


async def baseline(client: BeconClient, count: int) -> tuple[float, int]:
    """One control per PUT, one PUT after the other, for ``count`` facilities."""
    states = []
    for s in range(1, SITES + 1):
        for g in range(1, GATEWAYS + 1):
            readings = await client.gateway_states(f"S{s:03d}", f"GW-{g:02d}", ["IDU"])
            states.extend(r for r in readings if r.set_temp is not None and r.unit is not None)
            if len(states) >= count:
                break
        if len(states) >= count:
            break
    chosen = states[:count]
    began = time.perf_counter()
    for reading in chosen:
        assert reading.set_temp is not None
        assert reading.unit is not None
        control = Control(reading.key, reading.set_temp, reading.unit)  # same value: harmless
        key = reading.key
        await client.send_batch(Batch(key.site, key.gateway, key.facility_type, (control,)))
    return time.perf_counter() - began, len(chosen)


@contextlib.contextmanager
def simulator(args: argparse.Namespace) -> Iterator[str]:
    """The simulator's base URL, in a thread of this process or in its own process."""
    if args.sim == "thread":
        options = SimOptions(
            latency_ms=args.latency_ms, sites=SITES, gateways=GATEWAYS, facilities=UNITS
        )
        with serve_in_background(options, "127.0.0.1") as running:
            yield running.url
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "scheduler", "simulate", "--port", str(port)]
    command += ["--latency-ms", str(args.latency_ms), "--sites", str(SITES)]
    command += ["--gateways", str(GATEWAYS), "--facilities", str(UNITS)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(f"{url}/_sim/health").raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"the simulator did not come up on {url}")


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, simulator(args) as sim_url:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        sql = open_engine(url)
        store = DaemonStore(sql)
        transport = TimingTransport(args.concurrency, args.transport)
        config = BeconConfig(base_url=sim_url, max_concurrency=args.concurrency)
        results = Results()
        async with becon_client(config, transport=transport) as client:
            async with httpx.AsyncClient(base_url=sim_url) as admin:
                for run in range(args.runs):
                    (await admin.post("/_sim/becon/reset")).raise_for_status()
                    prepared, measured = await one_run(
                        client, transport, store, args.concurrency, f"bench-{run}"
                    )
                    results.prepare_s.append(prepared)
                    results.runs.append(measured)
                    print(f"run {run + 1}: prepare {prepared:.2f} s; {measured}")
            base_s, base_n = (0.0, 0)
            if args.baseline:
                base_s, base_n = await baseline(client, args.baseline)
        sql.dispose()
    report(results, args, base_s, base_n)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def report(results: Results, args: argparse.Namespace, base_s: float, base_n: int) -> None:
    runs = results.runs
    puts = runs[0].puts
    limit = puts / args.concurrency * args.latency_ms / 1000
    answered = [r.answered_s for r in runs]
    returned = [r.returned_s for r in runs]
    first = [r.first_put_ms for r in runs]
    print()
    sniffio = importlib.util.find_spec("sniffio") is not None
    print(
        f"simulator: {args.sim}; becon.max_concurrency {args.concurrency}; sniffio: {sniffio}; "
        f"transport: {args.transport}"
    )
    print(f"facilities: {SITES * GATEWAYS * UNITS} on {SITES * GATEWAYS} gateways")
    print(f"controlled: {runs[0].applied}; PUT calls per start: {puts}")
    print(
        f"latency-bound limit: {puts} / {args.concurrency} x {args.latency_ms:g} ms = {limit:.2f} s"
    )
    print(
        f"all answered: median {statistics.median(answered):.2f} s "
        f"(max {max(answered):.2f} s) = {statistics.median(answered) / limit:.2f}x the limit"
    )
    print(
        f"start returned (outcomes written): median {statistics.median(returned):.2f} s "
        f"(max {max(returned):.2f} s) = {statistics.median(returned) / limit:.2f}x the limit"
    )
    print(
        f"first PUT after start: median {statistics.median(first):.1f} ms, "
        f"p99 {_p99(first):.1f} ms, max {max(first):.1f} ms over {len(first)} runs"
    )
    print(f"prepare: median {statistics.median(results.prepare_s):.2f} s")
    if base_n:
        per = base_s / base_n
        print(
            f"one facility at a time: {base_n} PUTs in {base_s:.2f} s ({per * 1000:.1f} ms each); "
            f"{runs[0].applied} facilities would take {per * runs[0].applied:.0f} s"
        )
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16, help="becon.max_concurrency")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--baseline", type=int, default=100, help="facilities for the one-at-a-time baseline"
    )
    parser.add_argument("--sim", choices=["process", "thread"], default="process")
    parser.add_argument(
        "--transport",
        choices=["aiohttp", "httpcore"],
        default="aiohttp",
        help="the daemon's (aiohttp, since issue 14) or httpx's own (httpcore)",
    )
    with open(os.devnull, "w") as sink:
        drsched_logging.configure(level="info", format="json", stream=sink)
        asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
