"""Event plans: YAML files with positions, validation, recurrence and DST, to PlanEvents.

The pure core of plan handling (no I/O beyond reading the plan files):
:func:`load_plans` and :func:`parse_plan` turn plans into
:class:`~scheduler.domain.events.PlanEvent` values or raise one
:class:`~scheduler.errors.PlanError` listing every problem at once;
:func:`resolve_plan_paths` expands ``plans.paths``; :func:`plan_json_schema`
describes the format for editors. The format is documented in
``docs/plan-format.md``.
"""

from scheduler.plans.loader import load_plan_set, load_plans, parse_plan, resolve_plan_paths
from scheduler.plans.schema import plan_json_schema

__all__ = ["load_plan_set", "load_plans", "parse_plan", "plan_json_schema", "resolve_plan_paths"]
