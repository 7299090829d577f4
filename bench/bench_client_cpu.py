"""Client CPU per vendor call, per HTTP transport, against the simulator in its own process.

The daemon's vendor clients are httpx clients whose transport is injected
(``scheduler/clients/http.py``: ``make_client(transport=...)``). This bench makes
``--calls`` real calls of each kind through the real clients, over a real socket, to
``drsched simulate`` in another process, ``--concurrency`` at a time (16 is
``becon.max_concurrency``, the control fan-out):

- ``BECON PUT control``: :meth:`BeconClient.send_batch` of one facility's setpoint
  (the value it already has, so the simulated unit does not change);
- ``DR GET status``: :meth:`DrApiClient.get` of one request created first;
- ``BECON PUT, new path``: one PUT to each gateway and facility type of the simulator
  (250 gateways, 750 paths, as at a system-wide start), each the first call to its path
  on that client: what a start pays before any URL is kept
  (``ApiCaller``'s joined URLs, issue 14). ``--calls`` does not apply: every path once.

For each transport it prints the CPU time of this process per call
(``time.process_time``: only the client runs here) beside the 1 ms limit, and the
simulator's CPU per call over the same calls (``/proc/PID/stat``), the other end of the
same socket. Transports:

- ``httpx + httpcore``: httpx's own transport, what the daemon used until issue 14;
- ``httpx + aiohttp``: the daemon's transport since then,
  :class:`scheduler.clients.transport.VendorTransport` around ``httpx-aiohttp``'s
  ``AiohttpTransport``: the httpx API, aiohttp's pool and HTTP parser underneath; since
  2026-12-02 a call without a query skips httpx's request and response streaming
  (:meth:`VendorTransport.exchange`).

Then, with no socket and no simulator, ``ApiCaller.send`` of ``--calls`` PUTs on an
``httpx.MockTransport``, each the first call to its path and then the same paths again
(the median of at least 5 runs): the caller's own CPU, steadier than the socket figures
on a busy machine.

Each figure is the median of ``--repeat`` runs (each on fresh clients, after a warm-up
of 50 calls that makes the connections and the BECON token).

Run: ``.venv/bin/python -m bench.bench_client_cpu [--calls 2000] [--concurrency 1,16]
[--repeat 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._support import simulator_process
from scheduler import logging as drsched_logging
from scheduler.clients.becon.client import BeconClient
from scheduler.clients.dr.client import DrApiClient
from scheduler.clients.http import ApiCaller, Call, make_client
from scheduler.config import BeconConfig, DrApiConfig
from scheduler.config_values import becon_client, dr_client
from scheduler.domain.hvac import Batch, Control
from tests.support.stored_events import event

LIMIT_MS = 1.0
WARM_UP = 50
TICKS = os.sysconf("SC_CLK_TCK")

Transport = Callable[[int], httpx.AsyncBaseTransport | None]


def _limits(connections: int) -> httpx.Limits:
    """The pool ``make_client`` gives a client (``scheduler/clients/http.py``)."""
    return httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=30
    )


def httpcore_transport(connections: int) -> httpx.AsyncBaseTransport | None:
    return httpx.AsyncHTTPTransport(limits=_limits(connections))


def daemon_transport(_connections: int) -> httpx.AsyncBaseTransport | None:
    return None  # make_client's default: VendorTransport, httpx-aiohttp's transport


TRANSPORTS: dict[str, Transport] = {
    "httpx + httpcore": httpcore_transport,
    "httpx + aiohttp": daemon_transport,
}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from ``/proc`` (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def measured(
    calls: int,
    concurrency: int,
    one: Callable[[int], Awaitable[object]],
    sim_pid: int,
    warm_up: Callable[[int], Awaitable[object]] | None = None,
) -> tuple[float, float]:
    """(client CPU ms per call, simulator CPU ms per call) over ``calls`` calls.

    ``warm_up`` (``one`` unless given) is called first, to make the connections and token.
    """
    await asyncio.gather(*((warm_up or one)(n) for n in range(WARM_UP)))
    slots = asyncio.Semaphore(concurrency)

    async def bounded(n: int) -> None:
        async with slots:
            await one(n)

    sim_before, before = cpu_seconds(sim_pid), time.process_time()
    await asyncio.gather(*(bounded(n) for n in range(calls)))
    client_s, sim_s = time.process_time() - before, cpu_seconds(sim_pid) - sim_before
    return client_s * 1000 / calls, sim_s * 1000 / calls


async def becon_puts(
    sim_url: str, transport: httpx.AsyncBaseTransport | None, calls: int, concurrency: int, pid: int
) -> tuple[float, float]:
    config = BeconConfig(base_url=sim_url, max_concurrency=concurrency)
    client: BeconClient
    async with becon_client(config, transport=transport) as client:
        readings = await client.gateway_states("S001", "GW-01", ["IDU"])
        settable = [r for r in readings if r.set_temp is not None and r.unit is not None]
        batches = [
            Batch(
                r.key.site,
                r.key.gateway,
                r.key.facility_type,
                (Control(r.key, r.set_temp, r.unit),),
            )
            for r in settable
            if r.set_temp is not None and r.unit is not None
        ]

        async def put(n: int) -> object:
            return await client.send_batch(batches[n % len(batches)])

        return await measured(calls, concurrency, put, pid)


async def becon_first_puts(
    sim_url: str,
    transport: httpx.AsyncBaseTransport | None,
    _calls: int,
    concurrency: int,
    pid: int,
) -> tuple[float, float]:
    config = BeconConfig(base_url=sim_url, max_concurrency=concurrency)
    client: BeconClient
    async with becon_client(config, transport=transport) as client:
        gateways = [
            (g.site, g.gateway_id)
            for site in await client.sites()
            for g in await client.gateways(site.code)
        ]
        readings = [r for gw in gateways for r in await client.gateway_states(*gw)]
        first: dict[tuple[str, str, str], Batch] = {}
        for r in readings:
            if r.set_temp is not None and r.unit is not None:
                path = (r.key.site, r.key.gateway, r.key.facility_type)
                first.setdefault(path, Batch(*path, (Control(r.key, r.set_temp, r.unit),)))
        batches = list(first.values())

        async def put(n: int) -> object:
            return await client.send_batch(batches[n])

        async def state(n: int) -> object:  # the warm-up reads: no control path used yet
            return await client.gateway_states(*gateways[n % len(gateways)])

        return await measured(len(batches), concurrency, put, pid, warm_up=state)


async def dr_gets(
    sim_url: str, transport: httpx.AsyncBaseTransport | None, calls: int, concurrency: int, pid: int
) -> tuple[float, float]:
    config = DrApiConfig(base_url=f"{sim_url}/dr", max_concurrency=concurrency)
    client: DrApiClient
    async with dr_client(config, transport=transport) as client:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
        request_id = f"bench-cpu-{time.monotonic_ns()}"
        planned = replace(event(request_id), start=start, end=start + timedelta(hours=1))
        await client.create(planned, request_id)

        async def get(_n: int) -> object:
            return await client.get(request_id)

        return await measured(calls, concurrency, get, pid)


KINDS = {
    "BECON PUT control": becon_puts,
    "DR GET status": dr_gets,
    "BECON PUT, new path": becon_first_puts,
}


async def bench(sim_url: str, pid: int, calls: int, levels: list[int], repeat: int) -> None:
    for concurrency in levels:
        print(f"{calls} calls of each kind, {concurrency} at a time, median of {repeat} runs:")
        for name, make in TRANSPORTS.items():
            for kind, run in KINDS.items():
                runs = [
                    await run(sim_url, make(concurrency), calls, concurrency, pid)
                    for _ in range(repeat)
                ]
                client_ms = statistics.median(c for c, _ in runs)
                sim_ms = statistics.median(s for _, s in runs)
                spread = f"{min(c for c, _ in runs):.2f}–{max(c for c, _ in runs):.2f}"
                print(
                    f"  {name:18} {kind:19} client {client_ms:5.2f} ms CPU a call ({spread}) = "
                    f"{client_ms / LIMIT_MS:4.2f}× the {LIMIT_MS:g} ms limit; "
                    f"simulator {sim_ms:5.2f} ms a call"
                )


async def without_socket(calls: int, repeat: int) -> None:
    """``ApiCaller.send`` of PUTs on ``httpx.MockTransport``: the caller's own CPU, no socket.

    Each run on a fresh caller: ``calls`` PUTs to as many paths (each the first call to
    its path), then the same again (each path's URL kept).
    """
    runs = []
    for _ in range(repeat):
        client = make_client(
            base_url="http://127.0.0.1:8080/tms/v1.0/connect",
            timeout=5,
            transport=httpx.MockTransport(lambda _request: httpx.Response(200, json={})),
        )
        caller = ApiCaller(client, api="becon", title="BECON")
        puts = [
            Call("PUT /gw", "PUT", f"/site/S001/gw/GW-{n}/facility/IDU", "put", json={"v": 1})
            for n in range(calls)
        ]
        times = []
        for _ in ("first", "again"):
            before = time.process_time()
            for call in puts:
                await caller.send(call, lambda _response: None)
            times.append((time.process_time() - before) * 1000 / calls)
        runs.append(times)
        await client.aclose()
    first, again = (statistics.median(run[k] for run in runs) for k in (0, 1))
    print(
        f"without a socket ({calls} PUTs through ApiCaller on httpx.MockTransport, median of "
        f"{repeat}): {first:.3f} ms CPU a call, each the first to its path; "
        f"{again:.3f} ms the same paths again"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16", help="comma-separated levels")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    drsched_logging.configure(level="warning", format="json")  # as the daemon: no per-call log
    levels = [int(level) for level in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        # the system-wide start's simulator (bench_system_wide): 250 gateways, 750 paths
        flags = ["--sites", "5", "--gateways", "50", "--facilities", "20"]
        with simulator_process(flags, Path(tmp)) as (sim_url, pid):
            asyncio.run(bench(sim_url, pid, args.calls, levels, args.repeat))
    asyncio.run(without_socket(args.calls, max(args.repeat, 5)))


if __name__ == "__main__":
    main()
