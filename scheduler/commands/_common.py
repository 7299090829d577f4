"""What every command shares: loading the config, printing tables or JSON.

Tables are plain aligned text (a header, a rule, one line per row), the same
on a terminal and in a pipe, and rich is imported only by the commands that
draw with it (``demo``'s live view): a rich ``Table`` measures every cell
(27 s for ``drsched events list`` of 20,884 events) and importing rich costs
0.1 s of the 0.3 s a read-only command has (issue 14). Plain text is also
what ``grep``/``awk`` and logs want, and never wraps or truncates a cell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scheduler.config import Config, config_path, load_config

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from scheduler.store.reader import Reader


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def get_config(args: argparse.Namespace) -> Config:
    """The config named by ``--config`` or ``$DRSCHED_CONFIG``, else the defaults."""
    return load_config(config_path(getattr(args, "config", None), os.environ), os.environ)


def console() -> Console:
    """Rich output; wide when piped so that tables are not cut for ``grep`` and logs."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else 240
    return Console(highlight=False, soft_wrap=False, width=width)


def styled() -> bool:
    """Bold and red on a terminal (not when piped, nor with ``NO_COLOR`` or ``TERM=dumb``)."""
    return (
        sys.stdout.isatty()
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM", "") != "dumb"
    )


def bold(text: str, *, alert: bool = False) -> str:
    """``text`` in bold (bold red for ``alert``) when :func:`styled`, else as it is."""
    if not styled():
        return text
    return f"\033[1;31m{text}\033[0m" if alert else f"\033[1m{text}\033[0m"


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def print_json_list(items: Sequence[Any]) -> None:
    """A JSON array with one element per line: the same document as :func:`print_json`
    gives, laid out so that each element is one C-encoded ``json.dumps`` (``indent``
    sends the encoder down its pure-Python path: 2.5 s for 20,000 events against
    0.1 s) and a line for ``grep``."""
    if not items:
        sys.stdout.write("[]\n")
        return
    encode = json.JSONEncoder(default=str).encode
    sys.stdout.write("[\n  " + ",\n  ".join(map(encode, items)) + "\n]\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` under ``columns``, aligned; None prints as an empty cell."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    sys.stdout.write(render_table(title, columns, cells, bold_header=styled()))


def render_table(
    title: str | None,
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    *,
    bold_header: bool = False,
) -> str:
    """The text of a table: the title, a header, a rule under it, one line per row.

    Each column is as wide as its widest cell, two spaces apart; the last one is
    not padded (no trailing blanks); a cell of several lines makes its row that
    many lines. One pass over the cells per column, then one join: 20,000 rows
    take a few tenths of a second.
    """
    rows = cells
    if any("\n" in "".join(row) for row in cells):
        rows = [line for row in cells for line in _physical(row)]
    widths = [len(name) for name in columns]
    for index, column in enumerate(zip(*rows, strict=False)):
        widths[index] = max(widths[index], *map(len, column))
    last = len(columns) - 1

    def line(row: Sequence[str]) -> str:
        padded = [cell.ljust(widths[i]) if i < last else cell for i, cell in enumerate(row)]
        return "  ".join(padded).rstrip()

    header = line(columns)
    lines = [title] if title else []
    lines.append(f"\033[1m{header}\033[0m" if bold_header else header)
    lines.append(line(["-" * width for width in widths]))
    lines.extend(map(line, rows))
    return "\n".join(lines) + "\n"


def _physical(row: Sequence[str]) -> list[Sequence[str]]:
    """A row as the lines it takes: as many as its tallest cell has."""
    parts = [cell.split("\n") for cell in row]
    height = max(map(len, parts))
    return [[p[i] if i < len(p) else "" for p in parts] for i in range(height)]


def not_built_yet(what: str) -> int:
    print(f"drsched {what}: not built yet in this version", file=sys.stderr)
    return 2


def open_store(config: Config, *, read_only: bool = True) -> Engine:
    """The configured database, refused with a clear message unless it exists and its
    schema is current. Commands that only read open it read-only; none creates one."""
    from scheduler.store import open_engine

    with read_store(config):  # the schema check, on its own read-only connection
        pass
    return open_engine(
        config.database.url,
        busy_timeout=config.database.busy_timeout.total_seconds(),
        read_only=read_only,
    )


@contextmanager
def read_store(config: Config) -> Iterator[Reader]:
    """A read-only :class:`Reader` on the configured database, refused unless it exists
    and its schema is current (checked against the head this build knows, without
    Alembic: ``scheduler.store.schema_head``)."""
    from scheduler.store.reader import open_reader, require_current

    busy_timeout = config.database.busy_timeout.total_seconds()
    with open_reader(config.database.url, busy_timeout=busy_timeout) as reader:
        require_current(reader)
        yield reader


def utc(instant: datetime) -> str:
    """How instants are shown in tables: UTC, to the second."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
