"""What every command shares: loading the config, printing tables or JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from scheduler.config import Config, config_path, load_config

if TYPE_CHECKING:
    from sqlalchemy import Engine


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def get_config(args: argparse.Namespace) -> Config:
    """The config named by ``--config`` or ``$DRSCHED_CONFIG``, else the defaults."""
    return load_config(config_path(getattr(args, "config", None), os.environ), os.environ)


def console() -> Console:
    """Rich output; wide when piped so that tables are not cut for ``grep`` and logs."""
    width = None if sys.stdout.isatty() else 240
    return Console(highlight=False, soft_wrap=False, width=width)


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


def open_store(config: Config, *, read_only: bool = True) -> Engine:
    """The configured database, refused with a clear message unless it exists and its
    schema is current. Commands that only read open it read-only; none creates one."""
    from scheduler.store import open_engine
    from scheduler.store.migrate import require_current

    require_current(config.database.url)
    return open_engine(
        config.database.url,
        busy_timeout=config.database.busy_timeout.total_seconds(),
        read_only=read_only,
    )


def utc(instant: datetime) -> str:
    """How instants are shown in tables: UTC, to the second."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
