"""``drsched plan validate|diff|apply|schema``: check, preview and store event plans.

With no files, the commands use ``plans.paths`` from the config. The files
given are the whole plan: ``apply`` removes stored events that are not in
them (``diff`` shows it first).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler.commands._common import (
    add_json_flag,
    get_config,
    open_store,
    print_json,
    print_table,
    utc,
)
from scheduler.domain.dr_programs import CountedEvent
from scheduler.domain.events import PlanEvent
from scheduler.domain.plan_diff import Change, PlanDiff, describe
from scheduler.errors import PlanError, Problem
from scheduler.plans import load_plans, plan_json_schema, resolve_plan_paths

if TYPE_CHECKING:
    from sqlalchemy import Engine


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("plan", help="validate, preview and apply event plans")
    sub = parser.add_subparsers(dest="plan_command", metavar="ACTION", required=True)
    for name, handler, text in (
        ("validate", _validate, "check plan files; print every problem as file:line:col"),
        ("diff", _diff, "show what `plan apply` would add, change and remove (writes nothing)"),
        ("apply", _apply, "store the plan in one transaction (idempotent)"),
    ):
        command = sub.add_parser(name, help=text, description=text)
        command.add_argument(
            "files", nargs="*", metavar="FILE", help="plan files (default: plans.paths)"
        )
        add_json_flag(command)
        command.set_defaults(handler=handler)
    schema = sub.add_parser("schema", help="print the JSON Schema of the plan format")
    schema.set_defaults(handler=_schema)


def _files(args: argparse.Namespace) -> list[Path]:
    patterns = args.files or get_config(args).plans.paths
    if not patterns:
        raise PlanError([Problem("plans.paths", 0, 0, "no plan files given and it is empty")])
    return resolve_plan_paths(patterns)


def _load(
    args: argparse.Namespace, engine: Engine | None = None
) -> tuple[list[Path], list[PlanEvent]]:
    """The plan's events, checked against the DR program rules (the config's and the
    files'), counting the events ``engine``'s database already holds."""
    config = get_config(args)
    paths = _files(args)
    try:
        past = _stored(engine) if engine is not None else []
        return paths, load_plans(paths, programs=config.program_rules(), past=past)
    except PlanError as exc:
        if args.json:
            print_json({"ok": False, "problems": [_problem(p) for p in exc.problems]})
            raise SystemExit(1) from exc
        raise


def _stored(engine: Engine) -> list[CountedEvent]:
    from sqlalchemy.orm import Session

    from scheduler.store.programs import program_events

    with Session(engine) as session:
        return program_events(session, for_plan=True)


def _problem(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "col": problem.col,
        "message": problem.message,
    }


def _validate(args: argparse.Namespace) -> int:
    """With a config file, its database's stored events count toward program limits."""
    config = get_config(args)
    engine = open_store(config) if config.source != "<defaults>" else None
    try:
        paths, events = _load(args, engine)
    finally:
        if engine is not None:
            engine.dispose()
    if args.json:
        print_json({"ok": True, "files": [str(p) for p in paths], "events": len(events)})
    else:
        print(f"{len(events)} events in {len(paths)} file(s): valid")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from scheduler.store.plan_apply import preview

    config = get_config(args)
    engine = open_store(config)
    try:
        _, events = _load(args, engine)
        diff = preview(engine, events, datetime.now(UTC))
    finally:
        engine.dispose()
    _report(args, diff, applied=False)
    return 1 if diff.refused else 0


def _apply(args: argparse.Namespace) -> int:
    from scheduler.store.plan_apply import apply_plan

    config = get_config(args)
    engine = open_store(config, read_only=False)
    try:
        _, events = _load(args, engine)
        diff = apply_plan(engine, events, datetime.now(UTC))
    except PlanError as exc:
        if args.json:
            print_json({"ok": False, "problems": [_problem(p) for p in exc.problems]})
            return 1
        raise
    finally:
        engine.dispose()
    _report(args, diff, applied=True)
    return 0


def _report(args: argparse.Namespace, diff: PlanDiff, *, applied: bool) -> None:
    if args.json:
        print_json(
            {
                "ok": not diff.refused,
                "applied": applied and not diff.is_empty,
                "counts": diff.counts(),
                "items": [
                    {
                        "change": i.change.value,
                        "event_id": i.event_id,
                        "status": i.status.value if i.status else None,
                        "start": i.event.start.isoformat() if i.event else None,
                        "end": i.event.end.isoformat() if i.event else None,
                        "note": i.note,
                    }
                    for i in diff.items
                ],
                "problems": [_problem(p) for p in diff.refused],
            }
        )
        return
    if diff.items:
        print_table(
            None,
            ("change", "event", "status", "window (UTC)", "note"),
            (
                (
                    _CHANGE_WORDS[i.change],
                    i.event_id,
                    i.status.value if i.status else "",
                    f"{utc(i.event.start)} – {utc(i.event.end)}" if i.event else "",
                    i.note,
                )
                for i in diff.items
            ),
        )
    for problem in diff.refused:
        print(f"{problem}", file=sys.stderr)
    prefix = "" if diff.is_empty else "applied: " if applied else "would apply: "
    print(prefix + describe(diff))


_CHANGE_WORDS = {
    Change.ADD: "+ add",
    Change.UPDATE: "~ change",
    Change.RESUBMIT: "~ change (re-submit)",
    Change.DELETE: "- remove",
    Change.CANCEL: "- remove (cancel)",
    Change.PAST: "  skip (over)",
    Change.IGNORED: "  ignore",
}


def _schema(args: argparse.Namespace) -> int:
    json.dump(plan_json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
