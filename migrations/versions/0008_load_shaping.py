"""load shaping: events.shaping holds what the plan asked for (issue 15)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 05:10:00

``pre_condition``, ``randomize_start`` and ``restore`` as JSON
(``scheduler.domain.shaping.Shaping.content()``); null means the event asked
for nothing and the daemon's ``hvac`` defaults apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shaping", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("shaping")
