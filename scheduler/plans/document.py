"""One plan document to events: the top level, one-off events and programs.

Every event and program is checked even when another one is broken, so a
single run reports every problem of the file.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.domain.events import PlanEvent
from scheduler.plans.content import LISTS, ContentBuilder, merge_defaults
from scheduler.plans.context import Context, Located, LocatedRules, check_id, label, text_of
from scheduler.plans.dr_rules import build_rules
from scheduler.plans.model import (
    ID_MAX,
    Defaults,
    DrProgramShape,
    DstPolicy,
    EventShape,
    PlanHead,
)
from scheduler.plans.nodes import YNode, compose
from scheduler.plans.problems import Problems
from scheduler.plans.programs import expand_program
from scheduler.plans.shape import validate
from scheduler.plans.shaping import ShapingReader
from scheduler.plans.times import TimeProblem, check_dr_range, parse_moment, resolve_local, zone

#: Limits that keep a plan cheap to check (docs/plan-format.md "Limits"): a plan
#: file's size, and the events of all files together (programs expanded).
MAX_PLAN_BYTES = 4 * 2**20
MAX_EVENTS = 50_000


def parse_document(
    text: str, file: str, *, budget: int = MAX_EVENTS
) -> tuple[list[Located], list[LocatedRules], Problems]:
    """Every event and DR program of one document, and every problem found in it.

    Past ``budget`` events (what :data:`MAX_EVENTS` leaves after earlier files)
    the rest is not expanded: one problem says so at the item that crossed it.
    """
    problems = Problems(file)
    root = compose(text, problems)
    if root is None:
        return [], [], problems
    if not root.is_map:
        problems.add(root.line, root.col, "a plan must be a mapping with events and/or programs")
        return [], [], problems
    context = _context(root, file, problems)
    located: list[Located] = []
    items = [(item, _event) for item in _items(root, "events", problems)]
    items += [(item, expand_program) for item in _items(root, "programs", problems)]
    for item, expand in items:
        located.extend(expand(item, context))
        if len(located) > budget:
            problems.over_budget = True
            problems.add(
                item.line,
                item.col,
                f"the plans hold more than {MAX_EVENTS} events (programs expanded): "
                "split them or shorten programs",
            )
            return [], [], problems
    rules = [r for item in _items(root, "dr_programs", problems) if (r := _rules(item, context))]
    return located, rules, problems


def _rules(item: YNode, context: Context) -> LocatedRules | None:
    """One ``dr_programs`` entry; None after reporting its problems."""
    what = label("DR program", item)
    shape = validate(DrProgramShape, item, context.problems, what)
    if shape is None:
        return None
    before = context.problems.reported
    check_id(shape.id, ID_MAX, item, context.problems)

    def report(key: str, message: str) -> None:
        node: YNode | None = item
        for part in key.split("."):
            node = node.child(part) if node is not None else None
        where = (node.line, node.col) if node is not None else (item.line, item.col)
        context.problems.at(where, f"{what}: {message}")

    where = f"{context.file}:{item.line}:{item.col}"
    rules = build_rules(shape, context.tz, report, where)
    if rules is None or context.problems.reported != before:
        return None
    return LocatedRules(rules, item.line, item.col)


def _context(root: YNode, file: str, problems: Problems) -> Context:
    validate(PlanHead, root, problems, "the plan")
    tz_node = root.child("timezone")
    dst_node = root.child("dst")
    dst = validate(DstPolicy, dst_node, Problems(file), "dst") if dst_node else None
    content = ContentBuilder(problems)
    defaults = root.child("defaults")
    if defaults is not None and validate(Defaults, defaults, problems, "defaults", elsewhere=LISTS):
        # Checked here too, so a broken default is reported even with no event using it.
        content.targets(defaults.child("targets"))
        content.signals(defaults.child("signals"))
    return Context(
        file=file,
        problems=problems,
        tz=_zone(tz_node, problems),
        tz_given=tz_node is not None and tz_node.value is not None,
        dst=dst or DstPolicy(),
        defaults=defaults,
        content=content,
    )


def _zone(node: YNode | None, problems: Problems) -> ZoneInfo | None:
    if node is None or not isinstance(node.value, str):
        return None
    try:
        return zone(node.value)
    except TimeProblem as exc:
        problems.add(node.line, node.col, f"timezone: {exc}")
        return None


def _items(root: YNode, key: str, problems: Problems) -> list[YNode]:
    node = root.child(key)
    if node is None or node.value is None:
        return []
    if not isinstance(node.value, list):
        problems.add(node.line, node.col, f"{key} must be a list (each item starts with '- ')")
        return []
    return node.value


def _event(item: YNode, context: Context) -> list[Located]:
    """One event; its id, times and content are each checked even when another key is
    wrong or missing, so no problem hides another."""
    before = context.problems.reported
    node = merge_defaults(context.defaults, item)
    what = label("event", item)
    shape = validate(EventShape, node, context.problems, what, elsewhere=LISTS)
    if not node.is_map:
        return []
    ident = text_of(node, "id")
    if ident is not None:
        check_id(ident, ID_MAX, node, context.problems)
    content = context.content.build(node, shape.vtn_id if shape else None)
    window = _window(node, context, what, shape.dst if shape else None)
    reader = ShapingReader(node, context.problems)
    shaping = reader.read_keys()
    if window is not None:
        reader.check_window(shaping, window[1] - window[0], what)
    if shape is None or content is None or window is None:
        return []
    if context.problems.reported != before:
        return []
    event = PlanEvent(
        event_id=shape.id,
        vtn_id=content.vtn_id,
        start=window[0],
        end=window[1],
        signals=content.signals,
        targets=content.targets,
        name=shape.name,
        source=f"{context.file}:{item.line}",
        dr_program=shape.program,
        shaping=shaping,
    )
    return [Located(event, item.line, item.col)]


def _window(
    node: YNode, context: Context, what: str, dst: DstPolicy | None
) -> tuple[datetime, datetime] | None:
    """The event's UTC window; None after reporting what is wrong with it."""
    policy = context.policy(dst)
    start_text, end_text = text_of(node, "start"), text_of(node, "end")
    start = _instant(node, "start", start_text, context, policy) if start_text else None
    end = _instant(node, "end", end_text, context, policy) if end_text else None
    if start is None or end is None:
        return None
    if end <= start:
        message = f"{what}: end {end_text} is not after start {start_text}"
        context.problems.at(node.where("end"), message)
        return None
    return start, end


def _instant(
    node: YNode, key: str, text: str, context: Context, policy: DstPolicy
) -> datetime | None:
    where = node.where(key)
    try:
        moment = parse_moment(text)
        if moment.instant is not None:
            return check_dr_range(moment.instant, text)
        assert moment.local is not None
        value = node.child(key) or node
        tz = context.local_zone(value, f"{key} {text!r}")
        return check_dr_range(resolve_local(moment.local, tz, policy), text) if tz else None
    except TimeProblem as exc:
        context.problems.at(where, f"{key}: {exc}")
        return None
