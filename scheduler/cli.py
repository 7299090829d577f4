"""The ``drsched`` command line: one sub-command family per module in ``commands/``.

Each command module has ``register(subparsers)`` that adds its parsers and sets
``handler``: a function ``(args) -> int`` returning the exit code. Exit codes
(README's table): 0 success, 1 the operation found problems (bad plan, refused
change, unknown event id), 2 usage or configuration error, 3 runtime failure
(database or vendor unreachable, missing or unwritable database).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from scheduler import __version__
from scheduler.errors import ConfigError, DrschedError, PlanError

#: Every command and its one-line summary (``drsched --help``). Only the module of
#: the command being run is imported: the daemon's imports (SQLAlchemy, httpx,
#: the engine) cost a second that ``drsched plan validate`` should not pay.
COMMANDS: dict[str, str] = {
    "run": "run the daemon: submit events, follow their status, control HVAC",
    "demo": "see drsched work in ~25 s: simulator + temporary database + daemon",
    "simulate": "serve both vendor APIs (DR Requests, BECON Connect) on one local port",
    "db": "database commands (upgrade)",
    "config": "daemon config commands (check)",
    "plan": "validate, preview and apply event plans; print their JSON Schema",
    "events": "list, show and cancel stored DR events",
    "hvac": "BECON inventory and what is under DR control now",
    "status": "leader/standby, database, next actions, events in flight, recent failures",
    "programs": "DR programs: events and hours used and left, opt-outs against budgets",
    "report": "evidence of DR events (table, csv, json, html with charts); report verify FILE",
    "openadr": "OpenADR helpers: `openadr vtn` runs a local OpenLEADR VTN for demos and tests",
}
COMMAND_MODULES = tuple(COMMANDS)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the full sub-parser of the command ``argv`` names (all when None)."""
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
    chosen = None if argv is None else _command_in(argv)
    for name, summary in COMMANDS.items():
        if argv is None or name == chosen:
            importlib.import_module(f"scheduler.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (the first word that is not an option or its value)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(arguments).parse_args(arguments)
    try:
        code: int = args.handler(args)
    except PlanError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was written.", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    except DrschedError as exc:  # README's table: each error class names its code
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ExceptionGroup as group:  # from a task group: say ours, re-raise the rest
        ours, rest = group.split(DrschedError)
        if rest is not None or ours is None:
            raise
        for leaf in _leaves(ours):
            print(f"error: {leaf}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `drsched plan schema | head`: the reader left; no traceback
        _silence_stdout()
        return BROKEN_PIPE
    return code


#: The exit code of a command whose reader went away (128 + SIGPIPE, like `yes | head`).
BROKEN_PIPE = 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
