"""YAML text to a tree of positioned nodes, so every problem can name line and column.

ruamel.yaml's round-trip parser composes the document into nodes that carry
their marks; we turn those into :class:`YNode` values of our own (plain Python
scalars, string keys, 1-based positions) and decide the scalar types
ourselves: timestamps stay text because plans parse times in their own zone.
Duplicate keys, non-string keys, unknown tags, alias loops and absurdly large
documents become problems instead of exceptions.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from scheduler.plans.problems import Problems

#: Nesting deeper than this is no plan; ruamel's composer recurses per level.
MAX_DEPTH = 64
#: Values after alias expansion; guards against "billion laughs" documents
#: (a plan of 20,000 one-off events has about 400,000).
MAX_NODES = 1_000_000

_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"
_COLLECTION_TAGS = (_TAG + "map", _TAG + "seq")


@dataclass(slots=True)
class YNode:
    """A YAML value with its position (1-based line and column).

    ``value`` is a Python scalar, a ``dict[str, YNode]`` for a mapping or a
    ``list[YNode]`` for a sequence; ``keys`` holds each mapping key's position.
    """

    value: Any
    line: int
    col: int
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    def child(self, key: str | int) -> YNode | None:
        """The child at a mapping key or sequence index, if there is one."""
        if isinstance(key, str) and isinstance(self.value, dict):
            return self.value.get(key)
        if isinstance(key, int) and isinstance(self.value, list) and 0 <= key < len(self.value):
            node: YNode = self.value[key]
            return node
        return None

    def where(self, key: str) -> tuple[int, int]:
        """The position of ``key``'s value, or of this node when the key is absent."""
        child = self.child(key)
        return (child.line, child.col) if child else (self.line, self.col)

    def plain(self) -> Any:
        """The value as plain data (dicts, lists, scalars) for model validation."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [item.plain() for item in self.value]
        return self.value


class _AliasPositions(Composer):
    """A composer whose alias nodes carry the alias's own position.

    ruamel returns the anchored node itself for every alias, so a problem in a
    value used ten times would be reported ten times at the anchor; a shallow
    copy marked where the alias is written reports each use where it is.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.parser.check_event(AliasEvent):
            return super().compose_node(parent, index)
        mark = self.parser.peek_event().start_mark
        used = copy.copy(super().compose_node(parent, index))
        used.start_mark = mark
        return used


def compose(text: str, problems: Problems) -> YNode | None:
    """Parse one YAML document; None (with problems reported) when it is not YAML."""
    yaml = YAML(typ="rt")
    yaml.Composer = _AliasPositions
    yaml.max_depth = MAX_DEPTH
    try:
        with warnings.catch_warnings():
            # A reused anchor is valid YAML; ruamel only warns about it.
            warnings.simplefilter("ignore")
            root = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.add(line, col, f"YAML syntax: {exc.problem or exc.context or exc}")
        return None
    except ReaderError as exc:
        line, col = _position(text, exc.position)
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        problems.add(line, col, f"YAML syntax: character {char} is not allowed in YAML")
        return None
    except Exception as exc:  # the parser's boundary: any other failure is a bad document
        problems.add(1, 1, f"YAML syntax: {exc}")
        return None
    if root is None:
        return None
    if _expanded_size(root, {}, 0) > MAX_NODES:
        # Measured on the shared node graph, before anything is expanded: a
        # "billion laughs" document costs a few thousand steps, not gigabytes.
        problems.add(1, 1, f"document too large (over {MAX_NODES} values, aliases expanded)")
        return None
    return _Converter(problems).convert(root)


def _expanded_size(node: Node, sizes: dict[int, int], depth: int) -> int:
    """How many values ``node`` becomes once every alias is expanded (capped).

    Memoized per shared collection (an alias is a copy sharing its anchor's
    ``value``); an alias inside itself or nesting past :data:`MAX_DEPTH`
    counts once, as the converter reports those.
    """
    if not isinstance(node, SequenceNode | MappingNode) or depth > MAX_DEPTH:
        return 1
    key = id(node.value)
    if key in sizes:
        return sizes[key]
    sizes[key] = 1
    total = 1
    children = node.value if isinstance(node, SequenceNode) else [v for _, v in node.value]
    for child in children:
        total += _expanded_size(child, sizes, depth + 1)
        if total > MAX_NODES:
            break
    sizes[key] = total
    return total


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in ``text``."""
    offset = max(0, min(offset, len(text)))
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


class _Converter:
    """ruamel nodes to :class:`YNode`, with a budget and alias-loop detection."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.budget = MAX_NODES
        self.open: set[int] = set()

    def convert(self, node: Node) -> YNode:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if not self._admit(node, line, col):
            return YNode(None, line, col)
        self.open.add(id(node))
        try:
            if not isinstance(node, ScalarNode) and str(node.tag) not in _COLLECTION_TAGS:
                self.problems.add(line, col, f"unsupported YAML tag {str(node.tag)!r}")
            if isinstance(node, MappingNode):
                return self._mapping(node, line, col)
            if isinstance(node, SequenceNode):
                return YNode([self.convert(item) for item in node.value], line, col)
            if isinstance(node, ScalarNode):
                return YNode(self._scalar(node, line, col), line, col)
            return YNode(None, line, col)
        finally:
            self.open.discard(id(node))

    def _admit(self, node: Node, line: int, col: int) -> bool:
        """False (reported) for an alias inside itself, too deep, or past the size budget."""
        if id(node) in self.open:
            self.problems.add(line, col, "an alias refers to a node that contains it")
            return False
        if len(self.open) >= MAX_DEPTH:  # aliases can nest deeper than the text does
            self.problems.add(line, col, f"values nested more than {MAX_DEPTH} deep")
            return False
        self.budget -= 1
        if self.budget == 0:
            self.problems.add(line, col, f"document too large (over {MAX_NODES} values)")
        return self.budget >= 0

    def _mapping(self, node: MappingNode, line: int, col: int) -> YNode:
        result = YNode({}, line, col)
        merged: list[YNode] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _MERGE:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self._key(key_node)
            if key is None:
                continue
            kpos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result.value:
                first = result.keys[key]
                self.problems.add(*kpos, f"duplicate key {key!r} (first at line {first[0]})")
                continue
            result.value[key] = self.convert(value_node)
            result.keys[key] = kpos
        for source in merged:
            for key, value in source.value.items():
                if key not in result.value:
                    result.value[key] = value
                    result.keys[key] = source.keys[key]
        return result

    def _merge_sources(self, node: Node) -> list[YNode]:
        """The mappings a ``<<:`` merge key brings in (one mapping or a list of them)."""
        converted = self.convert(node)
        sources = converted.value if isinstance(converted.value, list) else [converted]
        good = [s for s in sources if s.is_map]
        if len(good) != len(sources):
            self.problems.add(converted.line, converted.col, "'<<' must merge mappings")
        return good

    def _key(self, node: Node) -> str | None:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if not isinstance(node, ScalarNode):
            self.problems.add(line, col, "a key must be a plain string, not a list or mapping")
            return None
        value = self._scalar(node, line, col)
        if not isinstance(value, str):
            self.problems.add(line, col, f"key {node.value!r} must be a string")
            return None
        return value

    def _scalar(self, node: ScalarNode, line: int, col: int) -> Any:
        tag = str(node.tag)
        text: str = node.value
        if tag in (_TAG + "str", _TAG + "timestamp"):
            return text
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return text.lower() in ("true", "yes", "on", "y")
        if tag == _TAG + "int":
            return _to_int(text)
        if tag == _TAG + "float":
            return _to_float(text)
        self.problems.add(line, col, f"unsupported YAML tag {tag!r}")
        return text


def _to_int(text: str) -> int | str:
    cleaned = text.replace("_", "")
    for base in (0, 10):
        try:
            return int(cleaned, base)
        except ValueError:
            continue
    return text


def _to_float(text: str) -> float | str:
    cleaned = text.replace("_", "").lower()
    specials = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    if cleaned in specials:
        return specials[cleaned]
    try:
        return float(cleaned)
    except ValueError:
        return text
