"""One plan document to events: the top level, one-off events and programs.

Every event and program is checked even when another one is broken, so a
single run reports every problem of the file.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.domain.events import PlanEvent
from scheduler.plans.content import LISTS, ContentBuilder, merge_defaults
from scheduler.plans.context import Context, Located, check_id, label
from scheduler.plans.model import ID_MAX, Defaults, DstPolicy, EventShape, PlanHead
from scheduler.plans.nodes import YNode, compose
from scheduler.plans.problems import Problems
from scheduler.plans.programs import expand_program
from scheduler.plans.shape import validate
from scheduler.plans.shaping import ShapingReader
from scheduler.plans.times import TimeProblem, parse_moment, resolve_local, zone


def parse_document(text: str, file: str) -> tuple[list[Located], Problems]:
    """Every event of one document, and every problem found in it."""
    problems = Problems(file)
    root = compose(text, problems)
    if root is None:
        return [], problems
    if not root.is_map:
        problems.add(root.line, root.col, "a plan must be a mapping with events and/or programs")
        return [], problems
    context = _context(root, file, problems)
    located: list[Located] = []
    for item in _items(root, "events", problems):
        located.extend(_event(item, context))
    for item in _items(root, "programs", problems):
        located.extend(expand_program(item, context))
    return located, problems


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
    before = context.problems.reported
    node = merge_defaults(context.defaults, item)
    what = label("event", item)
    shape = validate(EventShape, node, context.problems, what, elsewhere=LISTS)
    if shape is None:
        return []
    check_id(shape.id, ID_MAX, node, context.problems)
    content = context.content.build(node, shape.vtn_id)
    window = _window(shape, node, context, what)
    reader = ShapingReader(node, context.problems)
    shaping = reader.read(shape.pre_condition, shape.randomize_start, shape.restore)
    if window is not None:
        reader.check_window(shaping, window[1] - window[0], what)
    if content is None or window is None or context.problems.reported != before:
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
        shaping=shaping,
    )
    return [Located(event, item.line, item.col)]


def _window(
    shape: EventShape, node: YNode, context: Context, what: str
) -> tuple[datetime, datetime] | None:
    """The event's UTC window; None after reporting what is wrong with it."""
    policy = context.policy(shape.dst)
    start = _instant(node, "start", shape.start, context, policy)
    end = _instant(node, "end", shape.end, context, policy)
    if start is None or end is None:
        return None
    if end <= start:
        message = f"{what}: end {shape.end} is not after start {shape.start}"
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
            return moment.instant
        assert moment.local is not None
        value = node.child(key) or node
        tz = context.local_zone(value, f"{key} {text!r}")
        return resolve_local(moment.local, tz, policy) if tz else None
    except TimeProblem as exc:
        context.problems.at(where, f"{key}: {exc}")
        return None
