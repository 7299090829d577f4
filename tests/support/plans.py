"""Shared pieces of the plan tests: a header with defaults, and problems as text."""

from __future__ import annotations

import textwrap

import pytest

from scheduler.domain.events import PlanEvent
from scheduler.errors import PlanError
from scheduler.plans import parse_plan

#: Six lines: timezone and defaults that make an event complete with id/start/end.
HEADER = """\
timezone: America/New_York
defaults:
  vtn_id: vtn01
  targets: [{ven: CE-02}]
  signals:
    - {name: SIMPLE, targets: [x-DEVICE_TV]}
"""


def doc(body: str) -> str:
    """:data:`HEADER` followed by ``body`` (dedented); ``body`` starts on line 7."""
    return HEADER + textwrap.dedent(body)


def problems(text: str, filename: str = "plan.yaml") -> list[str]:
    """The problems parse_plan reports, as ``line:col: message`` (file name left out)."""
    with pytest.raises(PlanError) as caught:
        parse_plan(text, filename)
    assert caught.value.problems, "a PlanError must carry at least one problem"
    return [f"{p.line}:{p.col}: {p.message}" for p in caught.value.problems]


def events(text: str) -> list[PlanEvent]:
    return parse_plan(text, "plan.yaml")


def by_id(text: str) -> dict[str, PlanEvent]:
    return {e.event_id: e for e in events(text)}
