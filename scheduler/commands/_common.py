"""What every command shares: loading the config, printing tables or JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from scheduler.config import Config, config_path, load_config


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def get_config(args: argparse.Namespace) -> Config:
    """The config named by ``--config`` or ``$DRSCHED_CONFIG``, else the defaults."""
    return load_config(config_path(getattr(args, "config", None), os.environ), os.environ)


def console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    console().print(table)


def not_built_yet(what: str) -> int:
    print(f"drsched {what}: not built yet in this version", file=sys.stderr)
    return 2
