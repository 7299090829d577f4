"""``drsched hvac inventory``, run: read BECON, check ``hvac.targets``, print, exit code.

Imported only when the command runs (``drsched --help`` stays fast). Exit
codes (``scheduler.cli``): 0 all good; 1 a target has problems; 3 BECON could
not be read (every error on stderr with its code, message and x-message-id).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import Any

from scheduler import logging as drsched_logging
from scheduler.clients.becon.inventory import Inventory, fetch_inventory
from scheduler.clients.becon.types import FacilityReading
from scheduler.commands._common import get_config, print_json
from scheduler.commands.hvac_report import Report, build_report, print_report
from scheduler.config import BeconConfig, Config
from scheduler.config_values import becon_client
from scheduler.errors import ApiError

#: An operator waits at the terminal: fail fast rather than retry for ``becon.retry_total``.
INTERACTIVE_ATTEMPTS = 2
INTERACTIVE_RETRY_TOTAL = timedelta(seconds=10)


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
    async with becon_client(interactive(config.becon)) as client:
        return await fetch_inventory(client, states=states)


def run(args: argparse.Namespace) -> int:
    """The command: exit 0, 1 (target problems) or 3 (BECON could not be read)."""
    config = get_config(args)
    quiet_logs(config)
    inventory = asyncio.run(read_inventory(config, states=args.states))
    report = build_report(inventory, config.hvac.targets)
    if args.json:
        print_json(report_json(report, config))
    else:
        print_report(report, config.source)
    errors = inventory.errors()
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
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
