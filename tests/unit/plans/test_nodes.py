"""YAML to positioned nodes: syntax errors, keys, tags, anchors, merges and hostile documents."""

from __future__ import annotations

import textwrap
import time

import pytest

import scheduler.plans.nodes
from scheduler.plans.nodes import YNode, compose
from scheduler.plans.problems import Problems
from tests.support.plans import by_id, problems


def nodes(text: str) -> tuple[YNode | None, list[str]]:
    found = Problems("f.yaml")
    root = compose(textwrap.dedent(text), found)
    return root, [f"{p.line}:{p.col}: {p.message}" for p in found]


def test_positions_are_one_based_for_keys_and_values() -> None:
    root, found = nodes("a: 1\nlist:\n  - x\n  - {k: v}\n")
    assert found == []
    assert root is not None
    assert root.keys == {"a": (1, 1), "list": (2, 1)}
    assert root.where("a") == (1, 4)
    items = root.value["list"].value
    assert [(i.line, i.col) for i in items] == [(3, 5), (4, 5)]
    assert items[1].keys["k"] == (4, 6)


def test_scalars_are_typed_but_times_and_dates_stay_text() -> None:
    root, _ = nodes(
        "i: 0x10\nf: 1.5\nb: true\nn: ~\nd: 2026-06-01\nt: 2026-06-01T10:00:00Z\n"
        "c: 15:00\ninf: .inf\n"
    )
    assert root is not None
    assert root.plain() == {
        "i": 16,
        "f": 1.5,
        "b": True,
        "n": None,
        "d": "2026-06-01",
        "t": "2026-06-01T10:00:00Z",
        "c": "15:00",
        "inf": float("inf"),
    }


def test_yaml_syntax_errors_have_positions() -> None:
    assert nodes("a: [1, 2\n")[1] == [
        "2:1: YAML syntax: expected ',' or ']', but got '<stream end>'"
    ]
    assert nodes("a: 1\n b: 2\n")[1] == ["2:3: YAML syntax: mapping values are not allowed here"]
    assert nodes("a:\n\t- 1\n")[1] == [
        "2:1: YAML syntax: found character '\\t' that cannot start any token"
    ]


def test_control_characters_are_reported_where_they_are() -> None:
    assert nodes("a: 1\nb: x\x07y\n")[1] == [
        "2:5: YAML syntax: character U+0007 is not allowed in YAML"
    ]


def test_a_second_document_is_an_error() -> None:
    assert nodes("a: 1\n---\nb: 2\n")[1] == ["2:1: YAML syntax: but found another document"]


def test_duplicate_and_non_string_keys() -> None:
    root, found = nodes("a: 1\nb: 2\na: 3\n1: x\n[k]: y\n")
    assert found == [
        "3:1: duplicate key 'a' (first at line 1)",
        "4:1: key '1' must be a string",
        "5:1: a key must be a plain string, not a list or mapping",
    ]
    assert root is not None
    assert root.plain() == {"a": 1, "b": 2}


def test_unsupported_tags_are_problems() -> None:
    assert nodes("a: !!binary aGVsbG8=\nb: !custom x\n")[1] == [
        "1:4: unsupported YAML tag 'tag:yaml.org,2002:binary'",
        "2:4: unsupported YAML tag '!custom'",
    ]


def test_anchors_aliases_and_merge_keys_work() -> None:
    text = textwrap.dedent("""\
        timezone: UTC
        common: &common
          vtn_id: vtn01
          targets: [{ven: CE-02}]
          signals: [{name: SIMPLE, targets: [T]}]
        """)
    # 'common' is not a plan key: use the same anchors inside events instead.
    assert "unknown key 'common'" in problems(text)[0]
    plan = textwrap.dedent("""\
        timezone: UTC
        events:
          - &first
            id: e1
            vtn_id: vtn01
            targets: [{ven: CE-02}]
            signals: [{name: SIMPLE, targets: [T]}]
            start: 2026-07-15 14:00
            end: 2026-07-15 15:00
          - <<: *first
            id: e2
            start: 2026-07-16 14:00
            end: 2026-07-16 15:00
        """)
    found = by_id(plan)
    assert found["e2"].vtn_id == "vtn01"
    assert found["e2"].signals == found["e1"].signals


def test_an_alias_loop_is_a_problem_not_a_crash() -> None:
    # The problem is reported where the alias is written (issue 16, finding 11).
    assert nodes("a: &x [1, *x]\n")[1] == ["1:11: an alias refers to a node that contains it"]


def test_deep_nesting_is_a_problem_not_a_recursion_error() -> None:
    found = nodes("a: " + "[" * 5000 + "]" * 5000 + "\n")[1]
    assert len(found) == 1
    assert found[0].startswith("1:")
    assert "maximum depth" in found[0]


def test_aliases_nested_deeper_than_the_text_are_a_problem() -> None:
    lines = ["a0: &a0 " + "[" * 40 + "]" * 40]
    lines += [f"a{i}: &a{i} " + "[" * 40 + f"*a{i - 1}" + "]" * 40 for i in range(1, 30)]
    found = nodes("\n".join(lines) + "\n")[1]
    assert found
    assert all(f.endswith("values nested more than 64 deep") for f in found)


def test_exponential_aliases_stop_at_the_size_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler.plans.nodes, "MAX_NODES", 10_000)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (found,) = nodes("\n".join(lines) + "\n")[1]
    assert found == "1:1: document too large (over 10000 values, aliases expanded)"


def test_a_billion_laughs_is_refused_before_it_is_expanded() -> None:
    """Nine levels of ten aliases: 10**9 values; refused in well under a second."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.process_time()
    (found,) = nodes("\n".join(lines) + "\n")[1]
    assert found == "1:1: document too large (over 1000000 values, aliases expanded)"
    assert time.process_time() - started < 0.5


def test_empty_documents() -> None:
    assert nodes("") == (None, [])
    assert nodes("# only a comment\n") == (None, [])
