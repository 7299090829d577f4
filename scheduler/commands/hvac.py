"""`drsched hvac` (placeholder until its issue is built)."""

from __future__ import annotations

import argparse
from typing import Any

from scheduler.commands._common import not_built_yet


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("hvac", help="(not built yet)")
    parser.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    return not_built_yet("hvac")
