"""`drsched simulate`: both vendor APIs on one local port, until SIGINT/SIGTERM.

Prints the base URLs and the credentials to put in the daemon config (the
defaults already match the config's defaults, so ``drsched run`` with no
config talks to ``drsched simulate`` with no options).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import timedelta
from typing import Any

from scheduler.durations import format_duration, parse_duration
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


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text}: must be a TCP port, 0-65535")
    return value


def register(subparsers: Any) -> None:
    defaults = SimOptions()
    parser = subparsers.add_parser(
        "simulate",
        help="serve simulated DR Requests and BECON Connect APIs on a local port",
        description="Serve both vendor APIs (in memory) until SIGINT/SIGTERM. On start it "
        "prints the base URLs and credentials to put in the daemon config (the defaults "
        "already match the config's defaults). Faults apply to the vendor routes only; "
        "change them at run time with POST /_sim/faults.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on, e.g. ::1 for IPv6")
    add("--port", type=_port, default=DEFAULT_PORT, help="TCP port; 0 picks a free one")
    faults = parser.add_argument_group("faults (deterministic for a given seed and calls)")
    faults.add_argument("--seed", type=int, default=defaults.seed, help="seed of the fault dice")
    faults.add_argument(
        "--latency-ms",
        metavar="MS",
        type=float,
        default=defaults.latency_ms,
        help="delay added to every vendor call",
    )
    faults.add_argument(
        "--jitter-ms",
        metavar="MS",
        type=float,
        default=defaults.jitter_ms,
        help="the delay varies by up to plus or minus this",
    )
    faults.add_argument(
        "--fail-rate",
        metavar="RATE",
        type=_rate,
        default=defaults.fail_rate,
        help="share of calls (0-1) answered HTTP 500 with code 5000",
    )
    faults.add_argument(
        "--timeout-rate",
        metavar="RATE",
        type=_rate,
        default=defaults.timeout_rate,
        help="share of calls that hang before the service sees them (a client timeout)",
    )
    faults.add_argument(
        "--timeout-after-rate",
        metavar="RATE",
        type=_rate,
        default=defaults.timeout_after_rate,
        help="share of calls the service handles, then hangs (the answer is lost)",
    )
    dr = parser.add_argument_group("DR Requests API (base URL http://HOST:PORT/dr)")
    dr.add_argument(
        "--standby-lead",
        metavar="DURATION",
        type=_duration,
        default=format_duration(defaults.standby_lead),
        help="a request turns standby (1) this long before its start; written 90s, 5m, 1h",
    )
    dr.add_argument(
        "--dr-service-id",
        metavar="ID",
        default=defaults.dr_service_id,
        help="the x-service-id accepted",
    )
    dr.add_argument(
        "--dr-token",
        metavar="TOKEN",
        default=defaults.dr_token,
        help="the x-service-token accepted",
    )
    becon = parser.add_argument_group("BECON Connect API (base URL http://HOST:PORT)")
    becon.add_argument(
        "--sites", metavar="N", type=_count, default=defaults.sites, help="sites in the inventory"
    )
    becon.add_argument(
        "--gateways", metavar="N", type=_count, default=defaults.gateways, help="gateways per site"
    )
    becon.add_argument(
        "--facilities",
        metavar="N",
        type=_count,
        default=defaults.facilities,
        help="facilities per gateway",
    )
    becon.add_argument(
        "--becon-service-id",
        metavar="ID",
        default=defaults.becon_service_id,
        help="the x-lgtms-service-id accepted",
    )
    becon.add_argument(
        "--becon-service-key",
        metavar="KEY",
        default=defaults.becon_service_key,
        help="the x-lgtms-service-key accepted",
    )
    becon.add_argument(
        "--becon-secret-key",
        metavar="KEY",
        default=defaults.becon_secret_key,
        help="the key token requests must be signed with",
    )
    becon.add_argument(
        "--token-ttl",
        metavar="DURATION",
        type=_duration,
        default=format_duration(timedelta(seconds=defaults.token_ttl_s)),
        help="lifetime of the access tokens issued",
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
    try:
        asyncio.run(_serve(options_from(args), args.host, args.port))
    except OSError as exc:  # the port is taken, or the address is not this machine's
        reason = exc.strerror or str(exc)
        print(
            f"drsched simulate: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr
        )
        return 3
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
