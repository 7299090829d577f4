"""The DR program gate for events from any source other than plan files.

An event that the CLI, a future API or the OpenADR VEN is about to store is
checked here by the same rules as a plan (:func:`check_rules`), counting the
events the database already holds for its program, and refused with the
same message. Plan files go through :func:`scheduler.plans.load_plans`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.domain.dr_programs import ProgramRules
from scheduler.domain.events import PlanEvent
from scheduler.plans.loader import counted
from scheduler.plans.rule_check import refuse_violations
from scheduler.store.programs import program_events


def admit_events(
    engine: Engine, events: Sequence[PlanEvent], programs: Sequence[ProgramRules]
) -> None:
    """Raise :class:`~scheduler.errors.PlanError` naming every rule ``events`` break."""
    ruled = [c for e in events if (c := counted(e, e.source or f"event {e.event_id}"))]
    if not ruled:
        return
    with Session(engine) as session:
        past = program_events(session, {c.program_id for c in ruled})
    refuse_violations(ruled, {rules.program_id: rules for rules in programs}, past)
