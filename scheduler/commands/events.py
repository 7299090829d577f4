"""``drsched events list|show|cancel``: what the database says about each DR event."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from scheduler.commands._common import (
    add_json_flag,
    console,
    get_config,
    open_store,
    print_json,
    print_table,
    utc,
)
from scheduler.commands.hvac_status import print_facilities, record_json
from scheduler.domain.events import TempUnit
from scheduler.domain.lifecycle import TERMINAL, Source, Status, Transition
from scheduler.domain.sources import owned_by_plan
from scheduler.store import events as repo
from scheduler.store import transaction
from scheduler.store.control import records_of
from scheduler.store.daemon import request_cancel


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("events", help="list, show and cancel stored DR events")
    sub = parser.add_subparsers(dest="events_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="one line per event, soonest first")
    listing.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in Status],
        help="only events in this status (repeatable)",
    )
    listing.add_argument(
        "--all",
        action="store_true",
        help="every event (default: events not yet over in status, and those that ended "
        "in the last 24 h)",
    )
    listing.add_argument("--limit", type=int, default=None, help="at most this many lines")
    add_json_flag(listing)
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help="one event: content, requests and its timeline")
    show.add_argument("event_id", metavar="ID")
    add_json_flag(show)
    show.set_defaults(handler=_show)

    cancel = sub.add_parser(
        "cancel",
        help="cancel an event (the daemon deletes it while pending; later, cancels locally)",
    )
    cancel.add_argument("event_id", metavar="ID")
    add_json_flag(cancel)
    cancel.set_defaults(handler=_cancel)


#: ``events list`` shows events that ended this recently (besides every unfinished one).
RECENT = timedelta(hours=24)


def _list(args: argparse.Namespace, now: datetime | None = None) -> int:
    """``now`` is injectable so the default listing can be tested at any instant."""
    statuses = [Status(s) for s in args.status or ()]
    moment = now or datetime.now(UTC)
    engine = open_store(get_config(args))
    try:
        with Session(engine) as session:
            rows = repo.list_events(
                session,
                statuses=statuses,
                unfinished_or_ended_after=None if args.all or statuses else moment - RECENT,
                limit=args.limit,
            )
    finally:
        engine.dispose()
    if args.json:
        print_json([_summary_json(r) for r in rows])
        return 0
    print_table(
        None,
        ("event", "status", "start (UTC)", "end (UTC)", "request", "rev", "VENs", "name", "source"),
        (
            (
                r.event_id,
                r.status.value + (" (cancel requested)" if r.cancel_requested else ""),
                utc(r.start),
                utc(r.end),
                r.request_id or "",
                r.revision,
                ", ".join(r.vens),
                r.name or "",
                r.source,
            )
            for r in rows
        ),
    )
    if not rows:
        print("no events" + ("" if args.all else " unfinished or ended in the last 24 h (--all)"))
    return 0


def _summary_json(row: repo.EventSummary) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "status": row.status.value,
        "start": row.start.isoformat(),
        "end": row.end.isoformat(),
        "name": row.name,
        "program_id": row.program_id,
        "request_id": row.request_id,
        "revision": row.revision,
        "cancel_requested": row.cancel_requested,
        "vens": list(row.vens),
        "source": row.source,
    }


def _show(args: argparse.Namespace) -> int:
    engine = open_store(get_config(args))
    try:
        with Session(engine) as session:
            row = repo.get_row(session, args.event_id)
            summary = repo.summary(row)
            event = repo.to_plan_event(row)
            added = Transition(
                row.event_id,
                Status.PLANNED,
                Status.PLANNED,
                row.created_at,
                Source.PLAN if owned_by_plan(row.source) else Source.VTN,
                f"added from {row.source or 'the plan'}",
            )
            timeline = [added, *repo.timeline(session, args.event_id)]
            intents = repo.intents_of(session, args.event_id)
            facilities = records_of(session, args.event_id)
    finally:
        engine.dispose()
    requests: list[dict[str, Any]] = [
        {
            "kind": i.kind,
            "request_id": i.request_id,
            "revision": i.revision,
            "begun_at": i.begun_at.isoformat(),
            "outcome": i.outcome,
            "ended_at": i.ended_at.isoformat() if i.ended_at else None,
        }
        for i in intents
    ]
    if args.json:
        print_json(
            {
                **_summary_json(summary),
                "source": event.source,
                "content": event.content(),
                "requests": requests,
                "facilities": [record_json(f) for f in facilities],
                "timeline": [
                    {
                        "at": t.at.isoformat(),
                        "from": t.from_status.value,
                        "to": t.to_status.value,
                        "source": t.source.value,
                        "detail": t.detail,
                    }
                    for t in timeline
                ],
            }
        )
        return 0
    out = console()
    out.print(f"[bold]{summary.event_id}[/] {summary.name or ''}")
    out.print(f"  status      {summary.status.value}")
    if summary.cancel_requested and summary.status not in TERMINAL:
        out.print("  cancel      requested; the daemon carries it out")
    out.print(f"  window      {utc(summary.start)} – {utc(summary.end)} UTC")
    out.print(f"  revision    {summary.revision}   request {summary.request_id or '(not yet)'}")
    out.print(f"  vtn / VENs  {event.vtn_id} / {', '.join(summary.vens)}")
    out.print(f"  from        {event.source or '(no file)'}")
    for signal in event.signals:
        bounds = _bounds(signal.min_temp, signal.max_temp, signal.temp_offset, signal.unit)
        out.print(
            f"  signal      {signal.name} ({signal.type}) -> {', '.join(signal.targets)}{bounds}"
        )
    if requests:
        print_table(
            "requests sent to the DR service",
            ("kind", "request id", "revision", "at (UTC)", "outcome"),
            (
                (
                    r["kind"],
                    r["request_id"],
                    r["revision"],
                    r["begun_at"][:19],
                    r["outcome"] or "open",
                )
                for r in requests
            ),
        )
    print_table(
        "timeline",
        ("at (UTC)", "from", "to", "source", "detail"),
        (
            (utc(t.at), t.from_status.value, t.to_status.value, t.source.value, t.detail)
            for t in timeline
        ),
    )
    print_facilities(facilities)
    return 0


def _bounds(
    low: float | None, high: float | None, offset: float | None, unit: TempUnit | None
) -> str:
    """`` min 24 max 27 offset 3 °C``: only the bounds the signal sets (never ``min None``)."""
    parts = [
        f"{name} {value:g}"
        for name, value in (("min", low), ("max", high), ("offset", offset))
        if value is not None
    ]
    if not parts:
        return ""
    return " " + " ".join(parts) + (f" °{unit.value}" if unit is not None else " °F")


def _cancel(args: argparse.Namespace) -> int:
    engine = open_store(get_config(args), read_only=False)
    try:
        with transaction(engine) as session:
            message = request_cancel(session, args.event_id, datetime.now(UTC))
    finally:
        engine.dispose()
    if args.json:
        print_json({"event_id": args.event_id, "message": message})
    else:
        print(message)
    return 0
