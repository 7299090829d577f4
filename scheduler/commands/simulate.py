"""`drsched simulate`: both vendor APIs on one local port, until SIGINT/SIGTERM.

Prints the base URLs and the credentials to put in the daemon config (the
defaults already match the config's defaults, so ``drsched run`` with no
config talks to ``drsched simulate`` with no options).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta
from typing import Any

from scheduler.durations import parse_duration
from scheduler.simulator.options import SimOptions

DEFAULT_PORT = 8780


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: must be between 0 and 1")
    return value


def register(subparsers: Any) -> None:
    defaults = SimOptions()
    parser = subparsers.add_parser(
        "simulate",
        help="serve simulated DR Requests and BECON Connect APIs on a local port",
        description="Serve both vendor APIs (in memory) until SIGINT/SIGTERM; "
        "prints the base URLs and credentials to configure.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    add("--seed", type=int, default=defaults.seed, help="makes faults repeatable")
    add("--latency-ms", type=float, default=defaults.latency_ms)
    add("--jitter-ms", type=float, default=defaults.jitter_ms)
    add("--fail-rate", type=_rate, default=defaults.fail_rate, help="share answered HTTP 500")
    add("--timeout-rate", type=_rate, default=defaults.timeout_rate, help="share that hangs")
    add(
        "--timeout-after-rate",
        type=_rate,
        default=defaults.timeout_after_rate,
        help="share handled, then hung (the response is lost)",
    )
    add(
        "--standby-lead",
        type=_duration,
        default=defaults.standby_lead,
        help="DR status standby this long before start (default 30s)",
    )
    add("--sites", type=int, default=defaults.sites)
    add("--gateways", type=int, default=defaults.gateways, help="per site")
    add("--facilities", type=int, default=defaults.facilities, help="per gateway")
    add("--dr-service-id", default=defaults.dr_service_id)
    add("--dr-token", default=defaults.dr_token)
    add("--becon-service-id", default=defaults.becon_service_id)
    add("--becon-service-key", default=defaults.becon_service_key)
    add("--becon-secret-key", default=defaults.becon_secret_key)
    add(
        "--token-ttl",
        type=_duration,
        default=timedelta(seconds=defaults.token_ttl_s),
        help="BECON access token lifetime (default 24h)",
    )
    parser.set_defaults(handler=_handler)


def options_from(args: argparse.Namespace) -> SimOptions:
    return SimOptions(
        seed=args.seed,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        fail_rate=args.fail_rate,
        timeout_rate=args.timeout_rate,
        timeout_after_rate=args.timeout_after_rate,
        standby_lead=args.standby_lead,
        sites=args.sites,
        gateways=args.gateways,
        facilities=args.facilities,
        dr_service_id=args.dr_service_id,
        dr_token=args.dr_token,
        becon_service_id=args.becon_service_id,
        becon_service_key=args.becon_service_key,
        becon_secret_key=args.becon_secret_key,
        token_ttl_s=int(args.token_ttl.total_seconds()),
    )


def banner(url: str, options: SimOptions, becon: bool) -> str:
    """What to configure; the simulator's credentials are public test values."""
    lines = [
        f"drsched simulator listening on {url}",
        f"  DR Requests API   dr_api.base_url: {url}/dr",
        f"                    dr_api.service_id: {options.dr_service_id}",
        f"                    dr_api.service_token: {options.dr_token}",
    ]
    if becon:
        lines += [
            f"  BECON Connect     becon.base_url: {url}",
            f"                    becon.service_id: {options.becon_service_id}",
            f"                    becon.service_key: {options.becon_service_key}",
            f"                    becon.secret_key: {options.becon_secret_key}",
        ]
    else:
        lines.append("  BECON Connect     (not in this build)")
    lines.append(
        f"  admin             {url}/_sim/dr/requests, {url}/_sim/dr/log, {url}/_sim/faults"
    )
    if becon:
        lines.append(f"                    {url}/_sim/becon/facilities, {url}/_sim/becon/controls")
    lines.append("Stop with Ctrl-C (SIGINT) or SIGTERM.")
    return "\n".join(lines)


def _handler(args: argparse.Namespace) -> int:
    asyncio.run(_serve(options_from(args), args.host, args.port))
    return 0


async def _serve(options: SimOptions, host: str, port: int) -> None:
    from scheduler.simulator.server import Running, serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def ready(running: Running) -> None:
        print(banner(running.url, options, running.simulator.becon is not None), flush=True)

    await serve(options, host, port, stop=stop, on_ready=ready)
    print("drsched simulator stopped", flush=True)
