"""The JSON Schema for editors: its structure, and every example plan fits it.

No JSON Schema validator is installed, so :func:`check` implements the part
of draft 2020-12 the generated schema uses (type, properties,
additionalProperties, required, items, minItems, minLength, enum, pattern,
anyOf, $ref into $defs) and refuses any other keyword, so a schema change
that needs more cannot pass unnoticed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from scheduler.plans import plan_json_schema
from scheduler.plans.model import ID_PATTERN
from scheduler.plans.nodes import compose
from scheduler.plans.problems import Problems

ROOT = Path(__file__).parents[3]
EXAMPLES = sorted((ROOT / "config" / "plans").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "data" / "plans").glob("*.yaml")
)
_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "null": type(None),
    "boolean": bool,
}
_ANNOTATIONS = {"title", "description", "default", "$schema", "$id", "$defs"}


def check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (empty when it fits)."""
    unknown = set(schema) - _ANNOTATIONS - set(_KEYWORDS)
    assert not unknown, f"schema keyword(s) {unknown} at {path} not understood by this checker"
    errors: list[str] = []
    for keyword, rule in schema.items():
        if keyword in _KEYWORDS:
            errors += _KEYWORDS[keyword](value, rule, schema, root, path)
    return errors


def _type(
    value: Any, rule: str, schema: dict[str, Any], root: dict[str, Any], path: str
) -> list[str]:
    if rule in ("number", "integer"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, _TYPES[rule]) and not (rule != "boolean" and value is True)
    return [] if ok else [f"{path}: not {rule}"]


def _properties(
    value: Any, rule: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str
) -> list[str]:
    if not isinstance(value, dict):
        return []
    errors = []
    for key, item in value.items():
        if key in rule:
            errors += check(item, rule[key], root, f"{path}.{key}")
        elif schema.get("additionalProperties") is False:
            errors.append(f"{path}: unknown key {key}")
    return errors


def _required(value: Any, rule: list[str], *_: Any) -> list[str]:
    missing = [k for k in rule if isinstance(value, dict) and k not in value]
    return [f"missing {k}" for k in missing]


def _items(value: Any, rule: dict[str, Any], _s: Any, root: dict[str, Any], path: str) -> list[str]:
    if not isinstance(value, list):
        return []
    return [e for i, item in enumerate(value) for e in check(item, rule, root, f"{path}[{i}]")]


def _any_of(
    value: Any, rule: list[dict[str, Any]], _s: Any, root: dict[str, Any], path: str
) -> list[str]:
    if any(not check(value, option, root, path) for option in rule):
        return []
    not_null = [option for option in rule if option.get("type") != "null"]
    if value is not None and len(not_null) == 1:  # "X or null": say what is wrong with X
        return check(value, not_null[0], root, path)
    return [f"{path}: fits no option of anyOf"]


def _ref(value: Any, rule: str, _s: Any, root: dict[str, Any], path: str) -> list[str]:
    name = rule.removeprefix("#/$defs/")
    return check(value, root["$defs"][name], root, path)


def _simple(test: Any) -> Any:
    def keyword(value: Any, rule: Any, _s: Any, _r: Any, path: str) -> list[str]:
        return [] if test(value, rule) else [f"{path}: {value!r} breaks {rule!r}"]

    return keyword


_KEYWORDS: dict[str, Any] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": lambda *_: [],  # handled by properties
    "required": _required,
    "items": _items,
    "anyOf": _any_of,
    "$ref": _ref,
    "enum": _simple(lambda v, r: v in r),
    "minItems": _simple(lambda v, r: not isinstance(v, list) or len(v) >= r),
    "minLength": _simple(lambda v, r: not isinstance(v, str) or len(v) >= r),
    "pattern": _simple(lambda v, r: not isinstance(v, str) or re.search(r, v)),
}


def as_data(path: Path) -> Any:
    """The plan as an editor's YAML 1.2 language server sees it (dates are strings)."""
    root = compose(path.read_text(), Problems(str(path)))
    return root.plain() if root else {}


def test_schema_is_draft_2020_12_json() -> None:
    schema = plan_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "timezone",
        "dst",
        "defaults",
        "events",
        "programs",
        "dr_programs",
    }
    program = schema["$defs"]["ProgramShape"]
    assert "from" in program["properties"]
    assert "from_" not in program["properties"]
    assert set(program["required"]) == {"id", "rrule", "from", "until", "start_time", "duration"}
    assert program["properties"]["id"]["pattern"] == r"^(?!\.\.?$)[A-Za-z0-9._-]{1,55}$"
    signal = schema["$defs"]["SignalShape"]
    assert signal["properties"]["name"]["enum"] == ["SIMPLE", "LOAD_CONTROL"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_plan_fits_the_schema(path: Path) -> None:
    schema = plan_json_schema()
    assert check(as_data(path), schema, schema) == []


def test_the_schema_flags_typos_and_wrong_types() -> None:
    schema = plan_json_schema()
    bad = {
        "timezon": "UTC",
        "events": [
            {
                "id": "bad id",
                "start": "x",
                "end": "y",
                "signals": [{"name": "SHED", "targets": []}],
            },
            {"id": "..", "start": "x", "end": "y"},
        ],
    }
    assert check(bad, schema, schema) == [
        "$: unknown key timezon",
        f"$.events[0].id: 'bad id' breaks {ID_PATTERN!r}",
        "$.events[0].signals[0].name: 'SHED' breaks ['SIMPLE', 'LOAD_CONTROL']",
        "$.events[0].signals[0].targets: [] breaks 1",
        f"$.events[1].id: '..' breaks {ID_PATTERN!r}",
    ]


def test_every_schema_key_is_documented() -> None:
    doc = (ROOT / "docs" / "plan-format.md").read_text()
    schema = plan_json_schema()
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    assert sorted(k for k in keys if f"`{k}`" not in doc) == []
