"""``drsched programs status``: where each DR program stands this season.

Programs are those of the config (``dr_programs``) and of the plan files
(``plans.paths``, or the files given). Counts come from the database: every
stored event of the program that is not canceled or failed.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scheduler.commands._common import (
    add_json_flag,
    get_config,
    open_store,
    print_json,
    print_table,
    utc,
)
from scheduler.domain.dr_programs import CountedEvent, Participation, ProgramRules
from scheduler.durations import parse_duration

if TYPE_CHECKING:
    from scheduler.plans.program_status import FacilityBudget, PeriodUse


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("programs", help="DR programs: what is used, what is left")
    sub = parser.add_subparsers(dest="programs_command", metavar="ACTION", required=True)
    text = (
        "per program and VEN: events and event hours used and left per period, next "
        "allowed start; per facility: opt-outs this season against the budget"
    )
    status = sub.add_parser("status", help=text, description=text)
    status.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="plan files defining programs (default: plans.paths)",
    )
    status.add_argument("--program", help="only this program")
    status.add_argument(
        "--duration",
        type=parse_duration,
        default=timedelta(hours=1),
        help="length of the event 'next allowed start' is for (default 1h)",
    )
    status.add_argument(
        "--at",
        type=_instant,
        default=None,
        help="ISO 8601 instant to report at instead of now (what-if)",
    )
    add_json_flag(status)
    status.set_defaults(handler=_status)


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give an offset, e.g. 2027-07-01T12:00Z")
    return value.astimezone(UTC)


def _programs(args: argparse.Namespace) -> dict[str, ProgramRules]:
    from scheduler.plans import load_plan_set, resolve_plan_paths

    config = get_config(args)
    patterns = args.files or config.plans.paths
    paths = resolve_plan_paths(patterns) if patterns else []
    return load_plan_set(paths, programs=config.program_rules())[1]


def _status(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from scheduler.store.programs import participations, program_events

    programs = _programs(args)
    if args.program:
        programs = {k: v for k, v in programs.items() if k == args.program}
    now = args.at or datetime.now(UTC)
    engine = open_store(get_config(args))
    try:
        with Session(engine) as session:
            events = program_events(session, list(programs))
            taking_part = participations(session, list(programs))
    finally:
        engine.dispose()
    report = []
    for program_id, rules in sorted(programs.items()):
        mine = [e for e in events if e.program_id == program_id]
        ids = {e.event_id for e in mine}
        report.append(
            _program(rules, mine, [p for p in taking_part if p.event_id in ids], now, args.duration)
        )
    if args.json:
        print_json({"at": now.isoformat(), "programs": report})
    else:
        _print(report)
    return 0


def _program(
    rules: ProgramRules,
    events: list[CountedEvent],
    taking_part: list[Participation],
    now: datetime,
    duration: timedelta,
) -> dict[str, Any]:
    from scheduler.plans.program_status import facility_budgets, next_allowed_start, period_use

    vens = sorted({ven for e in events for ven in e.ven_ids})
    return {
        "program": rules.program_id,
        "season": rules.season_of(now.astimezone(rules.tz).date()),
        "defined_at": rules.where,
        "vens": [
            {
                "ven": ven,
                "periods": [_use(u) for u in period_use(rules, events, ven, now)],
                "next_allowed_start": _iso(next_allowed_start(rules, events, ven, now, duration)),
            }
            for ven in vens
        ],
        "facilities": [_budget(b) for b in facility_budgets(rules, taking_part, now)],
    }


def _use(use: PeriodUse) -> dict[str, Any]:
    return {
        "period": use.period.value,
        "label": use.label,
        "events": use.events,
        "max_events": use.max_events,
        "events_left": use.events_left,
        "hours": round(use.hours, 3),
        "max_hours": use.max_hours,
        "hours_left": None if use.hours_left is None else round(use.hours_left, 3),
    }


def _budget(budget: FacilityBudget) -> dict[str, Any]:
    return {
        "facility": budget.facility,
        "events": budget.events,
        "opt_outs": budget.opt_outs,
        "hours": round(budget.hours, 3),
        "opted_out_hours": round(budget.opted_out_hours, 3),
        "share": round(budget.share, 4),
        "budget": {"count": budget.max_count, "share": budget.max_share},
        "over_budget": budget.over_budget,
    }


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def _print(report: list[dict[str, Any]]) -> None:
    if not report:
        print("no DR programs (dr_programs in the config or the plan files)")
    for program in report:
        title = f"program {program['program']} — season {program['season']}"
        rows = []
        for ven in program["vens"]:
            nxt = ven["next_allowed_start"]
            shown = utc(datetime.fromisoformat(nxt)) if nxt else "none within 400 days"
            for use in ven["periods"]:
                rows.append(
                    (
                        ven["ven"],
                        _period(use["period"], use["label"]),
                        _of(use["events"], use["max_events"], use["events_left"]),
                        _of(use["hours"], use["max_hours"], use["hours_left"]),
                        shown if use["period"] == "day" else "",
                    )
                )
        if not rows:
            print(f"{title}: no events stored")
        else:
            columns = ("VEN", "period", "events used/limit (left)", "hours used/limit (left)")
            print_table(title, (*columns, "next allowed start (UTC)"), rows)
        if program["facilities"]:
            print_table(
                f"program {program['program']}: opt-outs this season",
                ("facility", "events", "opt-outs", "opted-out share", "budget", ""),
                (
                    (
                        f["facility"],
                        f["events"],
                        f["opt_outs"],
                        f"{f['share']:.0%}",
                        _budget_text(f["budget"]),
                        "OVER BUDGET" if f["over_budget"] else "",
                    )
                    for f in program["facilities"]
                ),
            )


def _period(period: str, label: str) -> str:
    return label if label.startswith(period) else f"{period} {label}"


def _of(used: float, limit: float | None, left: float | None) -> str:
    return f"{used:g}" if limit is None else f"{used:g}/{limit:g} ({left:g})"


def _budget_text(budget: dict[str, Any]) -> str:
    parts = []
    if budget["count"] is not None:
        parts.append(f"{budget['count']} opt-outs")
    if budget["share"] is not None:
        parts.append(f"{budget['share']:.0%} of hours")
    return ", ".join(parts) or "none"
