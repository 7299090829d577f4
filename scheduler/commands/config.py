"""``drsched config check``: validate the daemon config and print it, secrets redacted."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from scheduler.commands._common import add_json_flag, get_config, print_json
from scheduler.config import Config
from scheduler.domain.targets import target_label

if TYPE_CHECKING:
    from scheduler.commands.hvac_report import TargetCheck


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="daemon config commands")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="validate the config; print the effective values, secrets redacted"
    )
    check.add_argument(
        "--targets",
        action="store_true",
        help="also ask BECON which facilities each hvac.targets entry maps (network call); "
        "exit 1 when a target matches nothing",
    )
    add_json_flag(check)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    from scheduler.clients.becon.auth import load_signer

    config = get_config(args)
    load_signer(config.becon.signer)  # a plug-in that cannot be imported is a config error
    checks = _target_checks(config) if args.targets else None
    data = config.redacted()
    if args.json:
        report: dict[str, Any] = {"source": config.source, "valid": True, "config": data}
        if checks is not None:
            report["targets"] = [c.as_json() for c in checks]
        print_json(report)
    else:
        print(f"# {config.source}: valid", file=sys.stderr)
        yaml = YAML()
        yaml.default_flow_style = False
        yaml.dump(data, sys.stdout)
        for check in checks or ():
            verdict = "; ".join(check.problems) or f"maps {check.matched} facilities"
            print(f"# hvac.targets[{check.index}] {target_label(check.target)}: {verdict}")
    return 1 if checks and any(c.problems for c in checks) else 0


def _target_checks(config: Config) -> tuple[TargetCheck, ...]:
    """``hvac inventory``'s target checks; BECON errors end the command (exit 3)."""
    from scheduler.commands.hvac_inventory import quiet_logs, read_inventory
    from scheduler.commands.hvac_report import build_report

    quiet_logs(config)
    inventory = asyncio.run(read_inventory(config, states=False))
    errors = inventory.errors()
    if errors:
        raise errors[0]
    return build_report(inventory, config.hvac.targets).checks
