"""``drsched openadr vtn``: a local OpenLEADR VTN with a few events (demos and tests)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from scheduler.durations import parse_duration


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "openadr",
        help="OpenADR helpers (vtn: a local OpenLEADR VTN for demos and tests)",
        description="OpenADR helpers. The VEN itself runs inside `drsched run` (openadr: config).",
    )
    commands = parser.add_subparsers(dest="openadr_command", metavar="COMMAND", required=True)
    vtn = commands.add_parser(
        "vtn",
        help="run a local OpenLEADR VTN that sends each registered VEN a few events",
        description="A local OpenLEADR VTN (plain HTTP) for demos and tests: every VEN that "
        "registers gets --events events, --lead after it registered, --duration long.",
    )
    vtn.add_argument("--port", type=int, required=True)
    vtn.add_argument("--host", default="127.0.0.1")
    vtn.add_argument("--vtn-id", default="DEMO-VTN")
    vtn.add_argument("--market-context", default="oadr://drsched.demo/peak")
    vtn.add_argument("--events", type=int, default=2)
    vtn.add_argument("--lead", type=parse_duration, default="30s")
    vtn.add_argument("--duration", type=parse_duration, default="60s")
    vtn.add_argument("--gap", type=parse_duration, default="10s")
    vtn.add_argument("--signal", choices=["LOAD_CONTROL", "SIMPLE"], default="LOAD_CONTROL")
    vtn.add_argument("--payload", type=float, default=4.0, help="offset (LOAD_CONTROL) or level")
    vtn.add_argument(
        "--cancel-last", action="store_true", help="cancel the last event once answered"
    )
    vtn.add_argument(
        "--cancel-after",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="cancel the last event this long after its window starts (while it runs)",
    )
    vtn.add_argument("--poll-freq", type=parse_duration, default="1s")
    vtn.set_defaults(handler=_vtn)


def _vtn(args: argparse.Namespace) -> int:
    from scheduler.openadr.vtn import DemoPlan, DemoVtn

    plan = DemoPlan(
        args.market_context,
        args.events,
        args.lead,
        args.duration,
        args.gap,
        args.signal,
        args.payload,
        args.cancel_last,
        args.cancel_after,
    )

    def say(line: str) -> None:
        print(line, flush=True)

    server = DemoVtn(args.vtn_id, args.host, args.port, plan, args.poll_freq, say)
    asyncio.run(_serve(server))
    return 0


async def _serve(server: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()
        print("vtn: stopped", file=sys.stderr, flush=True)
