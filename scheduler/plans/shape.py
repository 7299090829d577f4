"""Validating a positioned node against a shape model; pydantic errors become problems.

Each pydantic error's ``loc`` is walked down the node tree to the value it
names (an unknown key is reported at the key, a missing key at the mapping
that lacks it), and its message is rewritten in the plan's own words.
"""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scheduler.plans.nodes import YNode
from scheduler.plans.problems import Problems

M = TypeVar("M", bound=BaseModel)


def validate(
    model: type[M], node: YNode, problems: Problems, what: str, *, elsewhere: tuple[str, ...] = ()
) -> M | None:
    """``node`` as a ``model``, every misfit reported; None when nothing can be salvaged.

    When some keys are wrong, the model is rebuilt without them so that later
    checks of the other keys still run (and report) in the same pass; the
    caller knows from ``problems`` that the result is not usable as is. Keys
    in ``elsewhere`` are validated by the caller item by item and passed here
    as null. ``what`` names the thing when it is not a mapping at all.
    """
    if not node.is_map:
        problems.add(node.line, node.col, f"{what} must be a mapping of keys")
        return None
    data = {k: None if k in elsewhere else v.plain() for k, v in node.value.items()}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    for error in errors:
        _report(model, node, error, problems)
    broken = {error["loc"][0] for error in errors if error["loc"]}
    try:
        return model.model_validate({k: v for k, v in data.items() if k not in broken})
    except ValidationError:
        return None


def _report(model: type[BaseModel], root: YNode, error: ErrorDetails, problems: Problems) -> None:
    loc = error["loc"]
    node, parent = root, root
    for part in loc:
        child = node.child(part)
        if child is None:
            break
        parent, node = node, child
    kind = error["type"]
    if kind == "extra_forbidden" and loc and isinstance(loc[-1], str):
        line, col = parent.keys.get(loc[-1], (node.line, node.col))
        problems.add(line, col, _unknown_key(loc[-1], model, loc))
    elif kind == "missing" and loc:
        problems.add(node.line, node.col, f"missing required key {loc[-1]!r}")
    else:
        problems.add(node.line, node.col, f"{_key(loc)}: {_message(error)}")


def _key(loc: tuple[int | str, ...]) -> str:
    """The key as messages show it: from the innermost key name on (``targets[1]``).

    The same value validated as part of different models reads the same, so
    its problem is reported once.
    """
    names = [i for i, part in enumerate(loc) if isinstance(part, str)]
    tail = loc[names[-1] :] if names else loc
    return "".join(f"[{part}]" if isinstance(part, int) else str(part) for part in tail)


def _unknown_key(key: str, model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    known = _known_keys(model, loc[:-1])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return f"unknown key {key!r}{hint}"


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` inside ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        current = _inner_model(field.annotation) if field else None
        if current is None:
            return []
    if not _is_model(current):
        return []
    return sorted(f.alias or name for name, f in current.model_fields.items())


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None``, ``list[X]`` or ``list[X] | None``."""
    if _is_model(annotation):
        inner: type[BaseModel] = annotation
        return inner
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_WANTED = {
    "string_type": "text",
    "float_type": "a number",
    "list_type": "a list",
    "model_type": "a mapping",
    "dict_type": "a mapping",
}


def _message(error: ErrorDetails) -> str:
    kind, given = error["type"], error.get("input")
    shown = f"got {given!r}" if isinstance(given, str | int | float | bool) else _kind(given)
    if kind in _WANTED:
        return f"must be {_WANTED[kind]}, {shown}"
    if kind == "literal_error":
        return f"must be {(error.get('ctx') or {}).get('expected', '')}, {shown}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    return f"{error['msg']}, {shown}"


def _kind(value: Any) -> str:
    if value is None:
        return "got nothing (null)"
    if isinstance(value, list):
        return "got a list"
    if isinstance(value, dict):
        return "got a mapping"
    return f"got {type(value).__name__}"
