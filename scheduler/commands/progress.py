"""Tables of events and their timelines, for ``drsched demo`` (rich renderables).

Pure presentation: rows in, rich tables out, so the demo's live view and its
final summary read the same data the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.table import Table

from scheduler.domain.lifecycle import Status, Transition

_STYLES = {
    Status.PLANNED: "dim",
    Status.SUBMITTING: "yellow",
    Status.PENDING: "cyan",
    Status.STANDBY: "blue",
    Status.ACTIVE: "bold magenta",
    Status.COMPLETED: "green",
    Status.CANCELED: "bright_black",
    Status.FAILED: "bold red",
}


@dataclass(frozen=True)
class EventRow:
    event_id: str
    request_id: str | None
    status: Status
    start: datetime
    end: datetime
    expected: Status | None = None
    note: str = ""


#: Columns holding ids: kept whole (the other columns wrap to make room).
_IDS = ("event", "request id")


def _clock(instant: datetime) -> str:
    return instant.strftime("%H:%M:%S")


def _status(status: Status) -> str:
    return f"[{_STYLES[status]}]{status.value}[/]"


def events_table(rows: Sequence[EventRow], now: datetime, title: str) -> Table:
    """The live view: one line per event, its status and where it stands in time."""
    table = Table(title=title, header_style="bold", title_justify="left")
    for column in ("event", "request id", "window (UTC)", "status", "expected", "note"):
        table.add_column(column, no_wrap=column in _IDS)  # an id is never split or cut
    for row in rows:
        when = f"{_clock(row.start)}–{_clock(row.end)}"
        if now < row.start:
            when += f"  (in {(row.start - now).total_seconds():.0f}s)"
        expected = _status(row.expected) if row.expected else ""
        table.add_row(
            row.event_id, row.request_id or "", when, _status(row.status), expected, row.note
        )
    return table


def timeline_table(transitions: Sequence[Transition], title: str) -> Table:
    """The summary: every transition, in order, with its source and detail."""
    table = Table(title=title, header_style="bold", title_justify="left")
    for column in ("time (UTC)", "event", "from", "to", "source", "detail"):
        table.add_column(column, overflow="fold", no_wrap=column in _IDS)
    for t in transitions:
        table.add_row(
            t.at.strftime("%H:%M:%S.%f")[:-3],
            t.event_id,
            t.from_status.value,
            _status(t.to_status),
            t.source.value,
            t.detail,
        )
    return table
