"""``drsched status``: the operator's one look — who leads, the database, what comes next.

Sections: leadership (PostgreSQL: the lease, the advisory lock and the
instances connected; SQLite: whether a daemon holds the database's lock
file), the database (URL without its password, schema revision against this
build's head), event counts by status, the next actions (submissions at
``start - dr_api.submit_lead``, window starts and ends), events in flight
(a request at the DR service, not over yet) and failures of the last 24 h
with their detail. ``--json`` prints the same as one object for scripts.

It reads only, and works on a database whose schema is behind (it then says
so and shows leadership alone): the moment an operator runs it is often the
moment something is wrong. Plain SQL on a read-only connection, the schema
head known without Alembic, no ORM unless PostgreSQL's lease or OpenADR is to
be shown, no rich: 0.3 s on a 20,000-event database (issue 14).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler.commands._common import add_json_flag, bold, get_config, print_json, print_table
from scheduler.config import Config
from scheduler.durations import format_duration
from scheduler.store.event_reads import EventSummary
from scheduler.store.schema_head import SCHEMA_HEAD
from scheduler.store.urls import parse_url, render_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scheduler.store.reader import Reader

#: How far back ``recent failures`` looks.
FAILURES_SINCE = timedelta(hours=24)
#: A lease heartbeat older than this (the server's idle_session_timeout) is late.
HEARTBEAT_LATE = timedelta(seconds=10)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="leader or standby, database, next actions, events in flight, recent failures",
        description="What the daemon is doing, read from the database: who leads, the schema, "
        "event counts, the next submissions and window starts/ends, events in flight, and "
        "failures of the last 24 h.",
    )
    parser.add_argument(
        "--limit", type=int, default=10, metavar="N", help="next actions to show (default 10)"
    )
    add_json_flag(parser)
    parser.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    report = gather(get_config(args), datetime.now(UTC), limit=max(args.limit, 1))
    if args.json:
        print_json(report)
    else:
        render(report)
    return 0


@dataclass(frozen=True)
class _Schema:
    revision: str | None
    head: str

    @property
    def current(self) -> bool:
        return self.revision == self.head


def gather(config: Config, now: datetime, *, limit: int = 10) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data (``render`` draws it)."""
    from scheduler.store.reader import open_reader, schema_revision

    url = config.database.url
    postgres = parse_url(url).backend == "postgresql"
    missing = _missing_sqlite_file(url)
    report: dict[str, Any] = {
        "generated_at": now.isoformat(),
        "database": {
            "url": render_url(url),
            "backend": "postgresql" if postgres else "sqlite",
        },
    }
    if not postgres:
        report["leadership"] = _sqlite_leadership(url)
    if missing is not None:
        return _no_schema(report, None, f"no database at {missing} (wrong database.url?)")
    busy_timeout = config.database.busy_timeout.total_seconds()
    with open_reader(url, busy_timeout=busy_timeout) as reader:
        schema = _Schema(schema_revision(reader), SCHEMA_HEAD)
        if schema.revision is not None and (postgres or config.openadr is not None):
            with _session(url, busy_timeout) as session:
                if postgres:
                    report["leadership"] = _postgres_leadership(session)
                if schema.current and config.openadr is not None:
                    from scheduler.openadr.status import ven_report

                    report["openadr"] = ven_report(session, config.openadr.vtn_url)
        if schema.revision is None:
            return _no_schema(
                report, schema, "the database has no schema: run `drsched db upgrade`"
            )
        report["database"]["schema"] = _schema_json(schema)
        if not schema.current:
            report["note"] = (
                f"the schema is at {schema.revision}, this drsched needs {schema.head}: "
                "run `drsched db upgrade`"
            )
            return report
        report |= _events(reader, now, config.dr_api.submit_lead, limit)
    if "openadr" in report:  # after the events, where it always was
        report["openadr"] = report.pop("openadr")
    return report


def _schema_json(schema: _Schema) -> dict[str, Any]:
    return {"revision": schema.revision, "head": schema.head, "current": schema.current}


def _no_schema(report: dict[str, Any], schema: _Schema | None, note: str) -> dict[str, Any]:
    report["database"]["schema"] = _schema_json(schema or _Schema(None, SCHEMA_HEAD))
    report["note"] = note
    report.setdefault("leadership", None)
    return report


@contextmanager
def _session(url: str, busy_timeout: float) -> Iterator[Session]:
    """An ORM session, read-only, for what is read through one (PostgreSQL's lease, OpenADR)."""
    from sqlalchemy.orm import Session

    from scheduler.store import open_engine

    engine = open_engine(url, busy_timeout=busy_timeout, read_only=True)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _missing_sqlite_file(url: str) -> Path | None:
    """A SQLite file that does not exist (reading it would create it: status only reads)."""
    parsed = parse_url(url)
    if parsed.backend != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "")
    return None if path.exists() else path


def _sqlite_leadership(url: str) -> dict[str, Any]:
    from scheduler.leadership.sqlite_lock import lock_state

    state = lock_state(url)
    return {
        "backend": "sqlite",
        "state": "running" if state.held else "not running",
        "pid": state.pid,
        "lock_file": str(state.path) if state.path else None,
    }


def _postgres_leadership(session: Session) -> dict[str, Any]:
    from scheduler.store.status import read_lease

    lease = read_lease(session)
    age = lease.heartbeat_age
    return {
        "backend": "postgresql",
        "state": "led" if lease.lock_pid is not None else "no leader",
        "holder": lease.holder,
        "epoch": lease.epoch,
        "acquired_at": _iso(lease.acquired_at),
        "heartbeat_at": _iso(lease.heartbeat_at),
        "heartbeat_age_s": None if age is None else round(age.total_seconds(), 1),
        "heartbeat_late": age is not None and age > HEARTBEAT_LATE,
        "lock_pid": lease.lock_pid,
        "instances": lease.instances,
        "standbys": lease.standbys,
    }


def _events(reader: Reader, now: datetime, submit_lead: timedelta, limit: int) -> dict[str, Any]:
    from scheduler.store import status as queries

    flying, total = queries.in_flight(reader)
    return {
        "counts": {status.value: n for status, n in queries.counts(reader).items()},
        "next_actions": [
            {
                "at": a.at.isoformat(),
                "in_s": round((a.at - now).total_seconds(), 1),
                "action": a.action,
                "event_id": a.event_id,
                "status": a.status.value,
                "overdue": a.overdue,
            }
            for a in queries.next_actions(reader, now, submit_lead, limit)
        ],
        "in_flight": {"total": total, "events": [_summary(row) for row in flying]},
        "recent_failures": [
            {
                "event_id": f.event_id,
                "name": f.name,
                "at": f.at.isoformat(),
                "from": f.from_status.value,
                "source": f.source,
                "detail": f.detail,
                "request_id": f.request_id,
            }
            for f in queries.recent_failures(reader, now - FAILURES_SINCE)
        ],
    }


def _summary(row: EventSummary) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "status": row.status.value,
        "start": row.start.isoformat(),
        "end": row.end.isoformat(),
        "request_id": row.request_id,
        "cancel_requested": row.cancel_requested,
        "vens": list(row.vens),
    }


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


# -- the human view -------------------------------------------------------------


def render(report: dict[str, Any]) -> None:
    print(f"{bold('drsched status')} at {_when(report['generated_at'])} UTC")
    database = report["database"]
    schema = database["schema"]
    at = "current" if schema["current"] else f"needs {schema['head']}"
    print(f"  database    {database['url']} (schema {schema['revision'] or 'none'}, {at})")
    print(f"  leadership  {describe_leadership(report['leadership'])}")
    if "note" in report:
        print(f"  {bold('note', alert=True)}        {report['note']}")
        return
    counted = [f"{name} {n}" for name, n in report["counts"].items() if n]
    print(f"  events      {' · '.join(counted) or 'none'}")
    if "openadr" in report:
        from scheduler.openadr.status import describe_ven

        print(f"  openadr     {describe_ven(report['openadr'])}")
    _render_lists(report)


def describe_leadership(lead: dict[str, Any] | None) -> str:
    """One line: who leads (and since when it last proved it), or why nobody does."""
    if lead is None:
        return "unknown (no schema yet)"
    if lead["backend"] == "sqlite":
        if lead["state"] == "running":
            return f"daemon running (pid {lead['pid'] or '?'}, lock {lead['lock_file']})"
        return "no daemon running (the SQLite lock file is free)"
    standbys = f"{lead['standbys']} standby" + ("" if lead["standbys"] == 1 else "s")
    if lead["state"] == "led":
        late = " " + bold("(late: frozen leader?)", alert=True) if lead["heartbeat_late"] else ""
        return (
            f"leader {lead['holder']}, epoch {lead['epoch']}, heartbeat "
            f"{lead['heartbeat_age_s']}s ago{late}; {standbys} connected"
        )
    last = f"; last leader {lead['holder']} (epoch {lead['epoch']})" if lead["holder"] else ""
    return f"{bold('no leader', alert=True)} ({standbys} connected){last}"


def _render_lists(report: dict[str, Any]) -> None:
    print()
    actions = report["next_actions"]
    if actions:
        print_table(
            "next actions",
            ("at (UTC)", "in", "action", "event", "status"),
            ((_when(a["at"]), _in(a), a["action"], a["event_id"], a["status"]) for a in actions),
        )
    else:
        print("no actions ahead")
    print()
    flying = report["in_flight"]
    if flying["events"]:
        shown = len(flying["events"])
        more = f" (first {shown} of {flying['total']})" if flying["total"] > shown else ""
        print_table(
            f"in flight{more}",
            ("event", "status", "request", "start (UTC)", "end (UTC)", "VENs"),
            (
                (
                    e["event_id"],
                    e["status"] + (" (cancel requested)" if e["cancel_requested"] else ""),
                    e["request_id"] or "",
                    _when(e["start"]),
                    _when(e["end"]),
                    ", ".join(e["vens"]),
                )
                for e in flying["events"]
            ),
        )
    else:
        print("nothing in flight")
    _render_failures(report["recent_failures"])


def _render_failures(failures: list[dict[str, Any]]) -> None:
    print()
    if not failures:
        print("no failures in the last 24 h")
        return
    print_table(
        "failures in the last 24 h",
        ("at (UTC)", "event", "from", "source", "detail"),
        ((_when(f["at"]), f["event_id"], f["from"], f["source"], f["detail"]) for f in failures),
    )


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _in(action: dict[str, Any]) -> str:
    if action["overdue"]:
        return "now (overdue)"
    return format_duration(timedelta(seconds=round(action["in_s"])))
