"""Whatever the input, parse_plan returns events or raises PlanError — never anything else.

Three sources of documents: YAML-ish token soup, JSON-shaped trees built from
the plan's own keys and plausible values (which reach deep into validation),
and random mutations of a valid plan. ``DRSCHED_FUZZ_EXAMPLES`` sets how many
documents each quick test tries (default 200, to keep CI fast); the slow test
tries ``DRSCHED_FUZZ_SLOW_EXAMPLES`` (default 10,000: about 15 s here).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.errors import PlanError
from scheduler.plans import parse_plan

QUICK = int(os.environ.get("DRSCHED_FUZZ_EXAMPLES", "200"))
SLOW = int(os.environ.get("DRSCHED_FUZZ_SLOW_EXAMPLES", "10000"))

VALID = """\
timezone: America/New_York
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-02}, {ven: CE-01, resources: [CE-TV]}]
  signals:
    - {name: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER], min_temp: 70, max_temp: 80,
       temp_offset: 4, unit: F}
    - {name: SIMPLE, type: level, targets: [x-DEVICE_TV]}
events:
  - {id: peak, start: 2026-07-18 14:00, end: 2026-07-18T22:00:00Z}
programs:
  - id: weekday-peak
    rrule: FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
    from: 2026-06-01
    until: 2026-06-30
    start_time: "15:00"
    duration: 3h
    skip_dates: [2026-06-05]
    skip_holidays: US
    dst: {gap: shift_forward, fold: later}
"""

KEYS = [
    "timezone",
    "dst",
    "gap",
    "fold",
    "defaults",
    "events",
    "programs",
    "id",
    "name",
    "start",
    "end",
    "vtn_id",
    "targets",
    "ven",
    "resources",
    "signals",
    "type",
    "min_temp",
    "max_temp",
    "temp_offset",
    "unit",
    "rrule",
    "from",
    "until",
    "start_time",
    "duration",
    "skip_dates",
    "skip_holidays",
    "<<",
    "x",
]
WORDS = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Mars/Base",
    "error",
    "shift_forward",
    "earlier",
    "later",
    "SIMPLE",
    "LOAD_CONTROL",
    "level",
    "x-LoadControlLevelOffset",
    "F",
    "C",
    "K",
    "2026-07-15 14:00",
    "2026-03-08 02:30",
    "2026-11-01 01:30",
    "2026-02-30 10:00",
    "2026-07-15T18:00:00Z",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01 00:00",
    "2026-06-01",
    "2026-13-01",
    "15:00",
    "24:00",
    "3h",
    "0s",
    "99999999999d",
    "1h30m",
    "US",
    "US-CA",
    "XX",
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=MO,XX",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=SECONDLY",
    "RRULE:FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR",
    "FREQ=DAILY;INTERVAL=0",
    "",
    "x-DEVICE_AIR_CONDITIONER",
    "a b",
    "é",
    "\x00",
    "~",
    "null",
    "true",
    ".nan",
    "-.inf",
    "1e309",
]
TOKENS = [
    *KEYS,
    *WORDS,
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "!!str ",
    "!x ",
    "'",
    '"',
    "|\n  ",
    ">",
    "#",
    "%YAML 1.1\n---\n",
    "---\n",
    "\t",
    "?",
]

scalars = st.one_of(
    st.sampled_from(WORDS),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)
    ),
    max_leaves=15,
)
soup = st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=60).map("".join)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The valid plan with a few random edits: cut, insert, replace, duplicate or swap lines."""
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["cut", "insert", "line-dup", "line-swap", "token"]))
        if kind == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif kind == "insert":
            text = text[:at] + draw(st.text(max_size=5)) + text[at:]
        elif kind == "token":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if kind == "line-dup":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


def as_plan(tree: Any) -> str:
    """A tree put where a plan's parts go, so it reaches event, program and defaults checks."""
    parts = {"timezone": "America/New_York", "defaults": tree, "events": [tree], "programs": [tree]}
    return json.dumps(parts)


documents = st.one_of(soup, trees.map(json.dumps), trees.map(as_plan), mutated())


def only_plan_errors(text: str) -> None:
    """parse_plan returns events, or raises a PlanError that carries positioned problems."""
    error: PlanError | None = None
    try:
        parse_plan(text, "fuzz.yaml")
    except PlanError as exc:
        error = exc
    if error is not None:
        assert error.problems, "a PlanError must say what is wrong"
        assert all(p.line >= 1 and p.col >= 1 for p in error.problems), error


def test_the_valid_plan_is_valid() -> None:
    assert len(parse_plan(VALID, "fuzz.yaml")) == 1 + 20  # June weekdays less June 5 and 19


@settings(max_examples=QUICK, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soup)
def test_token_soup_raises_only_plan_errors(text: str) -> None:
    only_plan_errors(text)


@settings(max_examples=QUICK, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_plan_shaped_trees_raise_only_plan_errors(tree: Any) -> None:
    only_plan_errors(json.dumps(tree))
    only_plan_errors(as_plan(tree))


@settings(max_examples=QUICK, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_a_valid_plan_raise_only_plan_errors(text: str) -> None:
    only_plan_errors(text)


BATCH = 20


@pytest.mark.slow
@settings(max_examples=SLOW // BATCH, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(documents, min_size=BATCH, max_size=BATCH))
def test_ten_thousand_documents_raise_only_plan_errors(texts: list[str]) -> None:
    """SLOW documents in batches (hypothesis' own cost per example is then paid 20 times less)."""
    for text in texts:
        only_plan_errors(text)
