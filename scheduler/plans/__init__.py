"""Event plans: YAML files with positions, validation, recurrence and DST, to PlanEvents.

The pure core of plan handling (no I/O beyond reading the plan files):
:func:`load_plans` and :func:`parse_plan` turn plans into
:class:`~scheduler.domain.events.PlanEvent` values or raise one
:class:`~scheduler.errors.PlanError` listing every problem at once;
:func:`resolve_plan_paths` expands ``plans.paths``; :func:`plan_json_schema`
describes the format for editors. The format is documented in
``docs/plan-format.md``.

The names are imported on first use (PEP 562): the daemon config imports
``scheduler.plans.model`` and ``dr_rules``, and a read-only command that only
loads the config, or the daemon checking its plan files' digest (:mod:`.digest`), must not
pay 0.1 s for the loader (issue 14).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.plans.loader import load_plan_set, load_plans, parse_plan
    from scheduler.plans.paths import resolve_plan_paths
    from scheduler.plans.schema import plan_json_schema

_WHERE = {
    "load_plan_set": "scheduler.plans.loader",
    "load_plans": "scheduler.plans.loader",
    "parse_plan": "scheduler.plans.loader",
    "resolve_plan_paths": "scheduler.plans.paths",
    "plan_json_schema": "scheduler.plans.schema",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


__all__ = ["load_plan_set", "load_plans", "parse_plan", "plan_json_schema", "resolve_plan_paths"]
