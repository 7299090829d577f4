"""``drsched config check``: validate the daemon config and print it, secrets redacted."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ruamel.yaml import YAML

from scheduler.commands._common import add_json_flag, get_config, print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="daemon config commands")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="validate the config; print the effective values, secrets redacted"
    )
    add_json_flag(check)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    from scheduler.clients.becon_auth import load_signer

    config = get_config(args)
    load_signer(config.becon.signer)  # a plug-in that cannot be imported is a config error
    data = config.redacted()
    if args.json:
        print_json({"source": config.source, "valid": True, "config": data})
        return 0
    print(f"# {config.source}: valid", file=sys.stderr)
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(data, sys.stdout)
    return 0
