"""What an event asks of whom (vtn_id, targets, signals), after merging ``defaults``.

Defaults merge key by key: a key the event or program writes wins, and a
list it writes replaces the default list (never concatenated). The merged
node keeps each value's own position, so a bad default is reported once at
the default, not at every event it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from scheduler.domain.events import EventTarget, Signal
from scheduler.domain.shaping_knobs import Shaping
from scheduler.plans.model import Defaults, SignalShape, Target
from scheduler.plans.nodes import YNode
from scheduler.plans.problems import Problems
from scheduler.plans.shape import validate
from scheduler.plans.signals import build_signals, build_targets

_M = TypeVar("_M", bound=BaseModel)

#: The keys ``defaults`` may give.
DEFAULT_KEYS = tuple(Defaults.model_fields)
#: Keys whose items are validated one by one (so one bad item hides nothing else).
LISTS = ("targets", "signals")


@dataclass(frozen=True)
class Content:
    vtn_id: str
    targets: tuple[EventTarget, ...]
    signals: tuple[Signal, ...]
    shaping: Shaping | None = None


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
    """Builds :class:`Content`, converting each target and signal list once.

    Lists from ``defaults`` are shared by every event that does not write its
    own, so their conversion (and any problem in them) is cached by node.
    """

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self._targets: dict[int, tuple[EventTarget, ...] | None] = {}
        self._signals: dict[int, tuple[Signal, ...] | None] = {}

    def build(self, node: YNode, vtn_id: str | None) -> Content | None:
        """The content of a merged event or program node; None once its problems are reported."""
        missing = [key for key in ("vtn_id", "targets", "signals") if node.child(key) is None]
        if missing:
            self.problems.add(
                node.line, node.col, f"missing {', '.join(missing)} (give it here or in defaults)"
            )
        targets = self.targets(node.child("targets"))
        signals = self.signals(node.child("signals"))
        if vtn_id is None or targets is None or signals is None:
            return None
        return Content(vtn_id, targets, signals)

    def targets(self, node: YNode | None) -> tuple[EventTarget, ...] | None:
        if node is None:
            return None
        if id(node) not in self._targets:
            before = self.problems.reported
            shapes = self._items(node, Target, "target")
            clean = shapes is not None and self.problems.reported == before
            self._targets[id(node)] = build_targets(shapes) if shapes and clean else None
        return self._targets[id(node)]

    def signals(self, node: YNode | None) -> tuple[Signal, ...] | None:
        if node is None:
            return None
        if id(node) not in self._signals:
            before = self.problems.reported
            shapes = self._items(node, SignalShape, "signal")
            built = build_signals(shapes, node.value, self.problems) if shapes else None
            self._signals[id(node)] = built if self.problems.reported == before else None
        return self._signals[id(node)]

    def _items(self, node: YNode, model: type[_M], what: str) -> list[_M] | None:
        """Each item of a non-empty list as ``model`` (salvaged where it could be, its
        problems reported), or None when the list or one of its items is unusable."""
        if not isinstance(node.value, list) or not node.value:
            kind = "must not be empty" if node.value == [] else "must be a list"
            self.problems.add(node.line, node.col, f"{what}s {kind}")
            return None
        shapes = [validate(model, item, self.problems, what) for item in node.value]
        good = [shape for shape in shapes if shape is not None]
        return good if len(good) == len(shapes) else None
