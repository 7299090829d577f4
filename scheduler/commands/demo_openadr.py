"""``drsched demo --openadr``: VTN event -> drsched -> DR Requests -> HVAC -> restored.

One process runs an OpenLEADR VTN (:mod:`scheduler.openadr.vtn`), the DR and
BECON simulator, a temporary SQLite database, the daemon's engine and the VEN.
Once the VEN registers, the VTN sends two short events: the first runs (its
facilities move at the start and go back at the end), the second is cancelled
at the VTN after drsched opted in. Exit 0 when the first completed, the second
was canceled and every changed facility is back at its original setpoint.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console

from scheduler.clock import SystemClock
from scheduler.commands import demo_hvac
from scheduler.commands.demo_setup import demo_config
from scheduler.config import MarketContextMap, OpenadrConfig
from scheduler.domain.control_records import ControlRecord
from scheduler.domain.lifecycle import Status
from scheduler.engine.daemon import Daemon
from scheduler.openadr.ven import Ven
from scheduler.openadr.vtn import DemoPlan, DemoVtn
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from scheduler.store.event_reads import EventSummary
from scheduler.wiring import Wiring, wired

CONTEXT = "oadr://drsched.demo/peak"
DEADLINE = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openadr_config(url: str) -> OpenadrConfig:
    return OpenadrConfig(
        vtn_url=url,
        ven_name="drsched-demo",
        retry_initial=timedelta(seconds=0.5),
        market_contexts=[
            MarketContextMap.model_validate(
                {
                    "market_context": CONTEXT,
                    "vtn_id": "vtn01",
                    "targets": [{"ven": "CE-02"}],
                    "signals": [
                        {
                            "signal": "LOAD_CONTROL",
                            "targets": ["x-DEVICE_AIR_CONDITIONER"],
                            "max_temp": 82,
                        }
                    ],
                }
            )
        ],
    )


async def run_openadr_demo(out: Console) -> bool:
    clock = SystemClock()
    plan = DemoPlan(
        market_context=CONTEXT,
        events=2,
        lead=timedelta(seconds=8),
        duration=timedelta(seconds=6),
        gap=timedelta(seconds=2),
        cancel_last=True,
    )
    vtn = DemoVtn("DEMO-VTN", "127.0.0.1", _free_port(), plan, say=out.print)
    options = SimOptions(standby_lead=timedelta(seconds=2), gateways=demo_hvac.GATEWAYS)
    with (
        tempfile.TemporaryDirectory(prefix="drsched-demo-") as tmp,
        serve_in_background(options, "127.0.0.1", port=0) as sim,
    ):
        base = demo_config(Path(tmp), f"{sim.url}/dr", sim.url)
        openadr = openadr_config(vtn.url)
        config = base.model_copy(update={"openadr": openadr})
        out.print(f"[bold]drsched demo --openadr[/]: simulator {sim.url}, VTN {vtn.url}")
        await vtn.start()
        try:
            async with (
                wired(config, clock=clock) as parts,
                httpx.AsyncClient(base_url=sim.url) as admin,
            ):
                daemon = Daemon(parts.engine, revision_interval=timedelta(seconds=0.5))
                ven = Ven(openadr, parts.sql, clock)
                return await _drive(out, parts, daemon, ven, admin)
        finally:
            await vtn.stop()


async def _drive(
    out: Console, parts: Wiring, daemon: Daemon, ven: Ven, admin: httpx.AsyncClient
) -> bool:
    engine, store = parts.engine, parts.store
    tasks = [asyncio.create_task(daemon.run()), asyncio.create_task(ven.run())]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    seen: dict[str, Status] = {}
    rows: list[EventSummary] = []
    records: list[ControlRecord] = []
    while loop.time() < deadline:
        rows = await engine.gateway.call(store.overview)
        for row in rows:
            if seen.get(row.event_id) != row.status:
                seen[row.event_id] = row.status
                out.print(f"drsched: {row.event_id} is {row.status.value} ({row.source})")
        ids = [r.event_id for r in rows]
        records = await engine.gateway.call(demo_hvac.demo_records, store.engine, ids)
        if (
            len(rows) == 2
            and all(r.status.is_terminal for r in rows)
            and demo_hvac.settled(records)
        ):
            break
        await asyncio.sleep(0.25)
    daemon.request_stop()
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    shown = demo_hvac.facilities_shown((await admin.get("/_sim/becon/facilities")).json())
    out.print(demo_hvac.hvac_table(records))
    statuses = sorted(r.status for r in rows)
    problems = demo_hvac.hvac_problems(records, shown)
    if statuses != sorted([Status.COMPLETED, Status.CANCELED]):
        problems.append(f"expected one completed and one canceled event, got {statuses}")
    for problem in problems:
        out.print(f"[red]✘[/] {problem}")
    ok = not problems
    out.print("[bold green]demo passed[/]" if ok else "[bold red]demo failed[/]")
    return ok
