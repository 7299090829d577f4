"""``drsched report``: the evidence of DR events, and ``report verify`` of a saved one.

``drsched report EVENT_ID`` or ``drsched report --from DATE --to DATE
[--program P]``, ``--format table|csv|json|html`` (``--output FILE``).
``drsched report verify FILE`` rebuilds the records of the events a saved CSV
or JSON report names from the database and says which rows differ.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler.commands._common import get_config, open_store, print_table
from scheduler.errors import DrschedError, UsageError

if TYPE_CHECKING:
    from scheduler.domain.evidence import EventEvidence


FACILITY_COLUMNS = (
    "facility",
    "outcome",
    "original → DR → restored",
    "pre-conditioned",
    "DR set at",
    "ended at",
    "reads",
    "room rise",
    "reason",
)


class ReportError(DrschedError):
    """A saved report that cannot be read or checked: problems found (exit 1)."""

    exit_code = 1


def register(subparsers: Any) -> None:
    text = "the evidence of DR events: asked, done, reads, totals (table, csv, json, html)"
    parser = subparsers.add_parser(
        "report",
        help=text,
        description=text + ". `drsched report verify FILE` checks a saved CSV or JSON "
        "report against the database.",
    )
    parser.add_argument(
        "words", nargs="*", metavar="EVENT_ID | verify FILE", help="an event id, or verify FILE"
    )
    parser.add_argument("--from", dest="first", type=_day, help="first day (UTC), YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=_day, help="last day (UTC, inclusive)")
    parser.add_argument("--program", help="only events of this DR program")
    parser.add_argument(
        "--format", choices=("table", "csv", "json", "html"), default="table", dest="fmt"
    )
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument("--output", "-o", type=Path, help="write to this file (default: stdout)")
    parser.set_defaults(handler=_report)


def _day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write a date as YYYY-MM-DD") from None


def _report(args: argparse.Namespace) -> int:
    if args.words[:1] == ["verify"]:
        if len(args.words) != 2:
            raise UsageError("usage: drsched report verify FILE")
        return _verify(args, Path(args.words[1]))
    scope = _scope(args)
    evidence = _gather(args, scope)
    fmt = "json" if args.json else args.fmt
    text = _render(evidence, scope, fmt)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"report of {len(evidence)} event(s) written to {args.output}", file=sys.stderr)
    elif fmt == "table":
        _print_tables(evidence, scope)
    else:
        sys.stdout.write(text)
    return 0


def _scope(args: argparse.Namespace) -> dict[str, Any]:
    if len(args.words) == 1 and args.first is None and args.last is None:
        return {"event_id": args.words[0]}
    if args.words or args.first is None or args.last is None:
        raise UsageError("give one EVENT_ID, or --from DATE and --to DATE")
    if args.last < args.first:
        raise UsageError(f"--to {args.last:%Y-%m-%d} is before --from {args.first:%Y-%m-%d}")
    scope: dict[str, Any] = {"from": f"{args.first:%Y-%m-%d}", "to": f"{args.last:%Y-%m-%d}"}
    if args.program:
        scope["program"] = args.program
    return scope


def _gather(args: argparse.Namespace, scope: dict[str, Any]) -> list[EventEvidence]:
    from sqlalchemy.orm import Session

    from scheduler.store.evidence import events_between, evidence_for

    engine = open_store(get_config(args))
    try:
        with Session(engine) as session:
            if "event_id" in scope:
                return evidence_for(session, [scope["event_id"]])
            first = datetime.strptime(scope["from"], "%Y-%m-%d").replace(tzinfo=UTC)
            last = datetime.strptime(scope["to"], "%Y-%m-%d").replace(tzinfo=UTC)
            ids = events_between(session, first, last + timedelta(days=1), scope.get("program"))
            return evidence_for(session, ids)
    finally:
        engine.dispose()


def _render(evidence: list[EventEvidence], scope: dict[str, Any], fmt: str) -> str:
    import json

    from scheduler.reports.render import as_csv, as_data

    if fmt == "csv":
        return as_csv(evidence)
    if fmt == "html":
        from scheduler.reports.html import render_html

        return render_html(evidence, scope)
    if fmt == "json":
        return json.dumps(as_data(evidence, scope), indent=2) + "\n"
    return ""


def _print_tables(evidence: list[EventEvidence], scope: dict[str, Any]) -> None:
    from scheduler.reports.records import describe_signal
    from scheduler.reports.render import as_data, table_rows

    data = as_data(evidence, scope)
    for item, summary in zip(evidence, data["events"], strict=True):
        event = item.event
        print(
            f"event {event.event_id} ({item.status}) {event.start:%Y-%m-%d %H:%M} – "
            f"{event.end:%Y-%m-%d %H:%M} UTC"
            + (f", program {event.dr_program}" if event.dr_program else "")
        )
        targets = ", ".join(t.ven_id for t in event.targets)
        for signal in event.signals:
            print(f"  asked: {describe_signal(signal)} of {targets}")
        print_table(
            "status timeline",
            ("at (UTC)", "change", "source", "detail"),
            (
                (
                    f"{t.at:%Y-%m-%d %H:%M:%S}",
                    f"{t.from_status} → {t.to_status}",
                    t.source,
                    t.detail,
                )
                for t in item.timeline
            ),
        )
        print_table(
            "facilities",
            FACILITY_COLUMNS,
            table_rows(item),
        )
        _print_totals(summary["totals"], f"totals of {event.event_id}")
    if len(evidence) != 1:
        _print_totals(data["totals"], "totals")
    print(f"records: {len(data['records'])}; sha256: {data['digest']}")


def _print_totals(figures: dict[str, Any], title: str) -> None:
    rise = figures["room_temp_rise_f"]
    print_table(
        title,
        ("figure", "value"),
        (
            (
                "facilities controlled",
                f"{figures['facilities_controlled']} of {figures['facilities']}",
            ),
            ("facility-hours under DR", f"{figures['facility_hours_under_dr']:g}"),
            ("opted out", f"{figures['opted_out']} ({figures['opt_out_share']:.1%})"),
            ("opted-out share of facility-hours", f"{figures['opt_out_hours_share']:.1%}"),
            ("room temperature rise median / max (°F)", f"{rise['median']} / {rise['max']}"),
            ("outcomes", ", ".join(f"{k}: {v}" for k, v in figures["outcomes"].items())),
        ),
    )


def _verify(args: argparse.Namespace, path: Path) -> int:
    from scheduler.reports.records import compare, digest, records
    from scheduler.reports.render import read_saved

    try:
        saved, stated = read_saved(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read a CSV or JSON report: {exc}") from None
    event_ids = [r["event_id"] for r in saved if r["record"] == "event"]
    if not event_ids:
        raise ReportError(f"{path}: no event records: not a drsched report")
    problems = []
    if stated != digest(saved):
        problems.append(
            f"{path}: its records do not match its own SHA-256 (changed after it was made)"
        )
    from sqlalchemy.orm import Session

    from scheduler.store.evidence import evidence_for

    engine = open_store(get_config(args))
    try:
        with Session(engine) as session:
            stored = records(evidence_for(session, event_ids))
    finally:
        engine.dispose()
    problems += [f"{path}: {line}" for line in compare(saved, stored)]
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"{path}: does NOT match the database", file=sys.stderr)
        return 1
    print(
        f"{path}: {len(saved)} records of {len(event_ids)} event(s) match the database "
        f"(sha256 {stated})"
    )
    return 0
