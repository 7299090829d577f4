"""The ``drsched`` command line: one sub-command family per module in ``commands/``.

Each command module has ``register(subparsers)`` that adds its parsers and sets
``handler``: a function ``(args) -> int`` returning the exit code. Exit codes:
0 success, 1 the operation found problems (bad plan, refused change), 2 usage
or configuration error, 3 runtime failure (database or vendor unreachable).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from scheduler import __version__
from scheduler.errors import ConfigError, DrschedError, PlanError

COMMAND_MODULES = (
    "run",
    "demo",
    "simulate",
    "db",
    "config",
    "plan",
    "events",
    "hvac",
    "status",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drsched",
        description="Demand-response scheduler: plans -> DR Requests API -> HVAC setpoints.",
    )
    parser.add_argument("--version", action="version", version=f"drsched {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="daemon config YAML (default: $DRSCHED_CONFIG, else built-in defaults)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"scheduler.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except PlanError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was written.", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    except DrschedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    return code
