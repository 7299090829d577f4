"""``drsched hvac inventory``: what the BECON account holds, checked against ``hvac.targets``.

Lists sites, gateways and facilities (a rich table, or ``--json`` for
scripts), marks each facility with the targets that map it, and names every
part of a target that matches nothing (with the nearest spelling BECON has),
so an operator sees a typo before a DR window does. ``--states`` adds each
facility's state (one gateway-wide call per gateway).

Exit codes (``scheduler.cli``): 0 all good; 1 a target has problems; 3 BECON
could not be read (every error with its code, message and x-message-id).
``drsched hvac status`` is not built yet.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import Any

from scheduler import logging as drsched_logging
from scheduler.clients.becon import BeconClient
from scheduler.clients.becon_inventory import Inventory, fetch_inventory
from scheduler.clients.becon_types import FacilityReading
from scheduler.commands._common import add_json_flag, get_config, not_built_yet, print_json
from scheduler.commands.hvac_report import Report, build_report, print_report
from scheduler.config import BeconConfig, Config
from scheduler.errors import ApiError

#: An operator waits at the terminal: fail fast rather than retry for ``becon.retry_total``.
INTERACTIVE_ATTEMPTS = 2
INTERACTIVE_RETRY_TOTAL = timedelta(seconds=10)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("hvac", help="BECON facilities and their mapping to VENs")
    sub = parser.add_subparsers(dest="hvac_command", metavar="ACTION", required=True)
    inventory = sub.add_parser(
        "inventory",
        help="list BECON sites, gateways and facilities; check hvac.targets against them",
        description="List what the BECON account sees and which facilities hvac.targets "
        "maps; name every target part that matches nothing. Exit 1 when a target has "
        "problems, 3 when BECON could not be read.",
    )
    add_json_flag(inventory)
    inventory.add_argument(
        "--states",
        action="store_true",
        help="also read each facility's state (one call per gateway)",
    )
    inventory.set_defaults(handler=inventory_command)
    status = sub.add_parser("status", help="(not built yet)")
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    return not_built_yet("hvac status")


def interactive(config: BeconConfig) -> BeconConfig:
    """``config`` with retries short enough for a person waiting at a terminal."""
    return config.model_copy(
        update={
            "retry_attempts": min(config.retry_attempts, INTERACTIVE_ATTEMPTS),
            "retry_total": min(config.retry_total, INTERACTIVE_RETRY_TOTAL),
        }
    )


def quiet_logs(config: Config) -> None:
    """Logs to stderr, warnings only (debug if the config asks): stdout is the report."""
    level = "debug" if config.logging.level == "debug" else "warning"
    drsched_logging.configure(level=level, format=config.logging.format, stream=sys.stderr)


async def read_inventory(config: Config, *, states: bool) -> Inventory:
    async with BeconClient.from_config(interactive(config.becon)) as client:
        return await fetch_inventory(client, states=states)


def inventory_command(args: argparse.Namespace) -> int:
    config = get_config(args)
    quiet_logs(config)
    inventory = asyncio.run(read_inventory(config, states=args.states))
    report = build_report(inventory, config.hvac.targets)
    if args.json:
        print_json(report_json(report, config))
    else:
        print_report(report, config.source)
    for error in inventory.errors():
        print(f"error: {error}", file=sys.stderr)
    if inventory.errors():
        return 3
    return 1 if report.targets_with_problems else 0


def _state_json(reading: FacilityReading | None) -> dict[str, Any] | None:
    if reading is None:
        return None
    return {
        "power": reading.power,
        "mode": reading.mode,
        "set_temp": reading.set_temp,
        "unit": reading.unit.value if reading.unit else None,
        "set_temp_range": list(reading.set_temp_range) if reading.set_temp_range else None,
        "room_temp": reading.room_temp,
    }


def report_json(report: Report, config: Config) -> dict[str, Any]:
    """The report as data: sites → gateways → facilities, then the targets' checks."""
    inventory = report.inventory
    sites = []
    for site in inventory.sites:
        gateways = []
        for gw in site.gateways:
            facilities = []
            for facility in gw.facilities:
                item: dict[str, Any] = {
                    "facility_id": facility.facility_id,
                    "facility_type": facility.facility_type,
                    "name": facility.name,
                    "mapped_by": report.mapped[facility.key],
                }
                if report.with_states:
                    item["state"] = _state_json(gw.states.get(facility.key))
                facilities.append(item)
            gateways.append(
                {
                    "gateway_id": gw.gateway.gateway_id,
                    "name": gw.gateway.name,
                    "connected": gw.gateway.connected,
                    "error": _error_json(gw.error),
                    "facilities": facilities,
                }
            )
        sites.append(
            {
                "site_code": site.site.code,
                "name": site.site.name,
                "timezone": site.site.timezone,
                "error": _error_json(site.error),
                "gateways": gateways,
            }
        )
    return {
        "source": config.source,
        "base_url": config.becon.base_url,
        "sites": sites,
        "targets": [check.as_json() for check in report.checks],
        "summary": report.summary(),
    }


def _error_json(error: ApiError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {
        "message": str(error),
        "code": error.code,
        "vendor_message": error.message,
        "http_status": error.http_status,
        "message_id": error.message_id,
    }
