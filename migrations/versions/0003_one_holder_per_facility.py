"""one holder per facility: a partial unique index, and room for the state restore_failed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:00:00

- ``facility_controls.state`` grows to 20 characters (``restore_failed``).
- A facility is held (``intent``, ``applied``, ``retrying``, ``restoring``) by
  at most one event: a partial unique index over its key (issue 10 bug 4).
  Before the claim was atomic, two events could both hold one facility; such
  rows are resolved first, by the rule ``scheduler.hvac.planning.one_holder_each``
  applies at start-up: the first holder keeps the facility, with the DR
  setpoint applied last as its target (so its restore puts the first
  original back); the others become ``skipped`` and say which event restores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_facility_controls_held"
HELD = ("applied", "intent", "restoring", "retrying")
#: Fixed text, the same as the model's (``scheduler.store.control``).
HELD_ROWS = "state IN ('applied', 'intent', 'restoring', 'retrying')"
KEY = ("site", "gateway", "facility_type", "facility_id")

_controls = sa.table(
    "facility_controls",
    sa.column("event_id", sa.String),
    *(sa.column(name, sa.String) for name in KEY),
    sa.column("state", sa.String),
    sa.column("detail", sa.Text),
    sa.column("unit", sa.String),
    sa.column("original", sa.Float),
    sa.column("target", sa.Float),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("applied_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.alter_column(
            "state",
            existing_type=sa.String(length=12),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
    _one_holder_each(op.get_bind())
    op.create_index(
        INDEX,
        "facility_controls",
        list(KEY),
        unique=True,
        sqlite_where=sa.text(HELD_ROWS),
        postgresql_where=sa.text(HELD_ROWS),
    )


def _one_holder_each(bind: Any) -> None:
    """Resolve facilities held by several events (see the module docstring)."""
    c = _controls.c
    rows = bind.execute(
        sa.select(_controls)
        .where(c.state.in_(HELD))
        .order_by(*(c[name] for name in KEY), c.created_at, c.event_id)
    ).all()
    now = datetime.now(UTC)
    for _key, group in groupby(rows, key=lambda r: tuple(getattr(r, n) for n in KEY)):
        holds = list(group)
        if len(holds) < 2:
            continue
        first, others = holds[0], holds[1:]
        last = max(holds, key=lambda r: (r.applied_at or r.created_at, r.created_at, r.event_id))
        if (
            last is not first
            and last.unit == first.unit
            and last.target not in (None, first.original)
        ):
            bind.execute(_where(first).values(target=last.target, updated_at=now))
        for other in others:
            detail = (
                f"closed by migration 0003: event {first.event_id} also held the facility; "
                "it restores it"
            )
            bind.execute(
                _where(other).values(state="skipped", due_at=None, updated_at=now, detail=detail)
            )


def _where(row: Any) -> Any:
    c = _controls.c
    return sa.update(_controls).where(
        c.event_id == row.event_id, *(c[name] == getattr(row, name) for name in KEY)
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="facility_controls")
    c = _controls.c
    op.get_bind().execute(
        sa.update(_controls).where(c.state == "restore_failed").values(state="failed")
    )
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.alter_column(
            "state",
            existing_type=sa.String(length=20),
            type_=sa.String(length=12),
            existing_nullable=False,
        )
