"""What an event asks of whom (vtn_id, targets, signals), after merging ``defaults``.

Defaults merge key by key: a key the event or program writes wins, and a
list it writes replaces the default list (never concatenated). The merged
node keeps each value's own position, so a bad default is reported once at
the default, not at every event it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.events import EventTarget, Signal
from scheduler.plans.model import Defaults, SignalShape, Target
from scheduler.plans.nodes import YNode
from scheduler.plans.problems import Problems
from scheduler.plans.signals import build_signals, build_targets

#: The keys ``defaults`` may give.
DEFAULT_KEYS = tuple(Defaults.model_fields)


@dataclass(frozen=True)
class Content:
    vtn_id: str
    targets: tuple[EventTarget, ...]
    signals: tuple[Signal, ...]


def merge_defaults(defaults: YNode | None, item: YNode) -> YNode:
    """``item`` with the default keys it does not write itself."""
    if defaults is None or not defaults.is_map or not item.is_map:
        return item
    merged = YNode(dict(item.value), item.line, item.col, dict(item.keys))
    for key in DEFAULT_KEYS:
        if key in defaults.value and key not in merged.value:
            merged.value[key] = defaults.value[key]
            merged.keys[key] = defaults.keys[key]
    return merged


class ContentBuilder:
    """Builds :class:`Content`, converting each signal list once (defaults are shared)."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self._signals: dict[int, tuple[Signal, ...] | None] = {}

    def build(
        self,
        node: YNode,
        vtn_id: str | None,
        targets: list[Target] | None,
        signals: list[SignalShape] | None,
        what: str,
    ) -> Content | None:
        """The content of an event or program node, or None after reporting what is missing."""
        missing = [
            key
            for key, value in (("vtn_id", vtn_id), ("targets", targets), ("signals", signals))
            if value is None
        ]
        if missing:
            self.problems.add(
                node.line,
                node.col,
                f"{what}: missing {', '.join(missing)} (give it here or in defaults)",
            )
        if vtn_id is None or targets is None or signals is None:
            return None
        built = self._build_signals(node, signals)
        if built is None:
            return None
        return Content(vtn_id, build_targets(targets), built)

    def _build_signals(self, node: YNode, shapes: list[SignalShape]) -> tuple[Signal, ...] | None:
        signals_node = node.child("signals") or node
        items = signals_node.value if isinstance(signals_node.value, list) else []
        nodes = items if len(items) == len(shapes) else [signals_node] * len(shapes)
        key = id(signals_node)
        if key not in self._signals:
            self._signals[key] = build_signals(shapes, nodes, self.problems)
        return self._signals[key]
