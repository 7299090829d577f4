"""dr seasons: the DR program of each event

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dr_program", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_events_dr_program"), ["dr_program"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_dr_program"))
        batch_op.drop_column("dr_program")
