"""`drsched demo`: drsched's main job in ~25 seconds, with nothing to configure.

One process runs the DR simulator on a free local port, a temporary SQLite
database and the daemon's engine, on three events a few seconds ahead
(submit lead 5 s, standby 2 s before start, windows of ~5 s):

- ``demo-complete`` goes planned → submitting → pending → standby → active → completed;
- ``demo-remote`` is canceled by the DR service midway through its window
  (through the simulator's admin endpoint), which ends it locally;
- ``demo-change`` is moved while pending: its request is deleted and the new
  revision re-submitted as ``demo-change-r2``; then it completes.

The simulator serves BECON too: each event's VEN drives a gateway of ten
facilities (:mod:`scheduler.commands.demo_hvac`), whose setpoints move at the
window's start, are read back every 2 s and go back over 2 s after the end
(or the cancel).

A live table shows the statuses; a summary lists every transition and the
facilities changed and restored. Exit 0 when every event reached the status
it should and every changed facility is back at its original setpoint, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live

from scheduler.clock import Clock, SystemClock
from scheduler.commands import demo_hvac
from scheduler.commands._common import console
from scheduler.commands.demo_setup import demo_config
from scheduler.commands.progress import EventRow, events_table, timeline_table
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.lifecycle import Status
from scheduler.engine.daemon import Daemon
from scheduler.logging import configure as configure_logging
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import serve_in_background
from scheduler.store.event_reads import EventSummary
from scheduler.wiring import Wiring, wired

STANDBY_LEAD = timedelta(seconds=2)
DEADLINE = timedelta(seconds=40)
#: How soon the daemon notices the demo's plan change (2 s in `drsched run`).
REVISION_INTERVAL = timedelta(seconds=0.5)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="see drsched work in ~25 s: simulator + temporary database + daemon",
        description="Run the DR simulator, a temporary SQLite database and the daemon on "
        "three short events; show their statuses live, then every transition.",
    )
    parser.add_argument(
        "--openadr",
        action="store_true",
        help="events from a local OpenLEADR VTN instead: VTN -> drsched -> DR -> HVAC -> restored",
    )
    parser.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    # Warnings only: the live table is the demo's output (`drsched run` logs everything).
    configure_logging(level="warning")
    if args.openadr:
        from scheduler.commands.demo_openadr import run_openadr_demo

        return 0 if asyncio.run(run_openadr_demo(console())) else 1
    return 0 if asyncio.run(run_demo(console())) else 1


@dataclass(frozen=True)
class DemoEvent:
    event: PlanEvent
    expected: Status
    note: str


def demo_events(now: datetime) -> list[DemoEvent]:
    """Three events a few seconds ahead (see the module docstring)."""

    def make(event_id: str, ven: str, name: str, start_s: float, length_s: float) -> PlanEvent:
        start = now + timedelta(seconds=start_s)
        return PlanEvent(
            event_id=event_id,
            vtn_id="vtn01",
            start=start.replace(microsecond=0) + timedelta(seconds=1),
            end=start.replace(microsecond=0) + timedelta(seconds=1 + length_s),
            signals=(
                Signal(
                    "s1",
                    "LOAD_CONTROL",
                    "x-loadControlLevelOffset",
                    ("x-DEVICE_AIR_CONDITIONER",),
                    max_temp=80,
                    temp_offset=4,
                    unit=TempUnit.F,
                ),
                Signal("s2", "SIMPLE", "level", ("x-DEVICE_TV",)),
            ),
            targets=(EventTarget(ven),),
            name=name,
        )

    return [
        DemoEvent(
            make("demo-complete", "CE-01", "Demo peak", 5, 5), Status.COMPLETED, "runs its window"
        ),
        DemoEvent(
            make("demo-remote", "CE-02", "Demo peak 2", 7, 8),
            Status.CANCELED,
            "canceled by the DR service midway",
        ),
        DemoEvent(
            make("demo-change", "CE-03", "Demo peak 3", 9, 5),
            Status.COMPLETED,
            "moved while pending: re-submitted as -r2",
        ),
    ]


async def run_demo(out: Console, clock: Clock | None = None) -> bool:
    """Run the whole demo; True when every event ended as expected."""
    clock = clock or SystemClock()
    options = SimOptions(standby_lead=STANDBY_LEAD, clock=clock, gateways=demo_hvac.GATEWAYS)
    with (
        tempfile.TemporaryDirectory(prefix="drsched-demo-") as tmp,
        serve_in_background(options, "127.0.0.1", port=0) as sim,
    ):
        config = demo_config(Path(tmp), f"{sim.url}/dr", sim.url)
        out.print(
            f"[bold]drsched demo[/]: DR and BECON simulator on {sim.url}, "
            f"database {config.database.url}"
        )
        async with (
            wired(config, clock=clock) as parts,
            httpx.AsyncClient(base_url=sim.url) as admin,
        ):
            daemon = Daemon(parts.engine, revision_interval=REVISION_INTERVAL)
            return await _drive(out, parts, daemon, admin, clock)


async def _drive(
    out: Console, parts: Wiring, daemon: Daemon, admin: httpx.AsyncClient, clock: Clock
) -> bool:
    engine, store = parts.engine, parts.store
    events = demo_events(clock.now())
    expected = {d.event.event_id: d for d in events}
    await engine.gateway.call(store.apply_events, [d.event for d in events], clock.now())
    task = asyncio.create_task(daemon.run())
    script = _Script(events)
    deadline = clock.now() + DEADLINE
    ids = list(expected)
    # A live table only on a terminal: piped, the last view is printed once, whole.
    live = Live(console=out, refresh_per_second=4, transient=False) if out.is_terminal else None
    view: Any = None
    with live or contextlib.nullcontext():
        while clock.now() < deadline and not task.done():
            rows = await engine.gateway.call(store.overview)
            hvac = await engine.gateway.call(demo_hvac.demo_records, store.engine, ids)
            view = _live_view(rows, expected, clock.now(), demo_hvac.live_line(hvac))
            if live is not None:
                live.update(view)
            if all(r.status.is_terminal for r in rows) and demo_hvac.settled(hvac):
                break
            await script.step(rows, parts, admin, clock)
            await asyncio.sleep(0.25)
    if live is None and view is not None:
        out.print(view)
    daemon.request_stop()
    await task
    hvac = await engine.gateway.call(demo_hvac.demo_records, store.engine, ids)
    shown = demo_hvac.facilities_shown((await admin.get("/_sim/becon/facilities")).json())
    ok = _summary(
        out,
        await engine.gateway.call(store.overview),
        await engine.gateway.call(store.timeline),
        expected,
    )
    hvac_ok = _hvac_summary(out, hvac, shown)
    return _verdict(out, ok and hvac_ok)


class _Script:
    """What happens to the events from outside: a plan change and a remote cancel."""

    def __init__(self, events: list[DemoEvent]) -> None:
        self._events = {d.event.event_id: d.event for d in events}
        self._changed = False
        self._canceled = False

    async def step(
        self, rows: list[EventSummary], parts: Wiring, admin: httpx.AsyncClient, clock: Clock
    ) -> None:
        now = clock.now()
        status = {r.event_id: r.status for r in rows}
        if not self._changed and status.get("demo-change") == Status.PENDING:
            self._changed = True
            moved = _moved(self._events["demo-change"], timedelta(seconds=1))
            plan = [moved if e.event_id == moved.event_id else e for e in self._events.values()]
            await parts.engine.gateway.call(parts.store.apply_events, plan, now)
        remote = self._events["demo-remote"]
        if (
            not self._canceled
            and status.get("demo-remote") == Status.ACTIVE
            and now >= remote.start + timedelta(seconds=2)
        ):
            self._canceled = True
            response = await admin.post("/_sim/dr/requests/demo-remote/cancel")
            response.raise_for_status()


def _moved(event: PlanEvent, by: timedelta) -> PlanEvent:
    return replace(event, start=event.start + by, end=event.end + by)


def _live_view(
    rows: list[EventSummary], expected: dict[str, DemoEvent], now: datetime, hvac: str
) -> Group:
    decorated = [
        EventRow(
            r.event_id,
            r.request_id,
            r.status,
            r.start,
            r.end,
            expected=expected[r.event_id].expected,
            note=expected[r.event_id].note,
        )
        for r in rows
        if r.event_id in expected
    ]
    return Group(events_table(decorated, now, f"events at {now:%H:%M:%S} UTC"), hvac)


def _summary(
    out: Console, rows: list[EventSummary], timeline: list[Any], expected: dict[str, DemoEvent]
) -> bool:
    out.print(timeline_table(timeline, "every transition (what `drsched events show` prints)"))
    ok = True
    for row in rows:
        want = expected[row.event_id].expected
        mark = "[green]✔[/]" if row.status == want else "[red]✘[/]"
        ok = ok and row.status == want
        out.print(f"{mark} {row.event_id}: {row.status.value} (expected {want.value})")
    return ok


def _hvac_summary(
    out: Console,
    records: list[ControlRecord],
    shown: Mapping[FacilityKey, Mapping[str, Any]],
) -> bool:
    """Facilities changed and restored per event; the verdict of the whole demo after it."""
    out.print(demo_hvac.hvac_table(records))
    problems = demo_hvac.hvac_problems(records, shown)
    changed = sum(1 for r in records if r.applied_at is not None)
    restored = sum(1 for r in records if r.state is ControlState.RESTORED)
    if problems:
        for problem in problems:
            out.print(f"[red]✘[/] HVAC: {problem}")
    else:
        out.print(
            f"[green]✔[/] HVAC: {demo_hvac.facilities(changed)} changed, {restored} restored, "
            "none left at a DR setpoint"
        )
    return not problems


def _verdict(out: Console, ok: bool) -> bool:
    out.print("[bold green]demo passed[/]" if ok else "[bold red]demo failed[/]")
    return ok
