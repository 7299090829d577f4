"""`drsched run`: the daemon (systemd ``Type=notify``; SIGHUP reloads, SIGTERM stops).

The command only reads the config, sets up logging and runs
:func:`scheduler.wiring.serve`, which builds the daemon (the composition
root). The daemon brings the database to the current schema at start-up,
exactly as ``drsched db upgrade`` would; run that yourself first if you
prefer to migrate under supervision.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from scheduler import logging as drsched_logging
from scheduler.commands._common import get_config
from scheduler.config import Config
from scheduler.errors import FencedError
from scheduler.systemd import Notifier
from scheduler.wiring import serve

log = structlog.get_logger("scheduler.run")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the daemon: submit events, follow their status, control HVAC",
        description="Run the drsched daemon in the foreground (systemd Type=notify). "
        "SIGHUP re-reads plans.paths; SIGTERM/SIGINT stop gracefully.",
    )
    parser.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    config = get_config(args)
    setup_logging(config)
    try:
        asyncio.run(serve(config, notifier=Notifier(), reload_config=lambda: get_config(args)))
    except FencedError as exc:  # systemd restarts us into standby
        log.error("leadership.lost", error=str(exc))
        return 3
    return 0


def setup_logging(config: Config) -> None:
    """JSON lines off a TTY, console on one (:mod:`scheduler.logging`)."""
    drsched_logging.configure(level=config.logging.level, format=config.logging.format)
