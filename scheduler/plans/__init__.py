"""Event plans: YAML files with positions, validation, recurrence and DST, to PlanEvents.

The pure core of plan handling (no I/O beyond reading the plan files):
:func:`load_plans` and :func:`parse_plan` turn plans into
:class:`~scheduler.domain.events.PlanEvent` values or raise one
:class:`~scheduler.errors.PlanError` listing every problem at once;
:func:`resolve_plan_paths` expands ``plans.paths``; :func:`plan_json_schema`
describes the format for editors. The format is documented in
``docs/plan-format.md``.

The names are loaded on first use (PEP 562): importing one module of the package (the
config's :mod:`.model`, the daemon's :mod:`.digest`) must not load the parser, the
recurrence rules and the holiday calendars (issue 14, start-up time).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.plans.loader import load_plan_set, load_plans, parse_plan
    from scheduler.plans.paths import resolve_plan_paths
    from scheduler.plans.schema import plan_json_schema

__all__ = ["load_plan_set", "load_plans", "parse_plan", "plan_json_schema", "resolve_plan_paths"]

_HOMES = {
    "load_plan_set": "loader",
    "load_plans": "loader",
    "parse_plan": "loader",
    "plan_json_schema": "schema",
    "resolve_plan_paths": "paths",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
