"""``drsched hvac inventory``: what the BECON account holds, checked against ``hvac.targets``.

Lists sites, gateways and facilities (a rich table, or ``--json`` for
scripts), marks each facility with the targets that map it, and names every
part of a target that matches nothing (with the nearest spelling BECON has),
so an operator sees a typo before a DR window does. ``--states`` adds each
facility's state (one gateway-wide call per gateway).

Exit codes (``scheduler.cli``): 0 all good; 1 a target has problems; 3 BECON
could not be read (every error with its code, message and x-message-id).
``drsched hvac status`` (:mod:`scheduler.commands.hvac_status`) lists what is
under DR control now.
"""

from __future__ import annotations

import argparse
from typing import Any

from scheduler.commands._common import add_json_flag


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
    status = sub.add_parser(
        "status",
        help="facilities under DR control now: event, original and DR setpoint, since",
        description="List every facility at (or being moved to or from) a DR setpoint, "
        "from the database: its event, original and DR setpoints, since when, what is next.",
    )
    add_json_flag(status)
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    from scheduler.commands.hvac_status import status_command  # the store, only when it runs

    return status_command(args)


def inventory_command(args: argparse.Namespace) -> int:
    from scheduler.commands import hvac_inventory  # the client, only when it runs

    return hvac_inventory.run(args)
