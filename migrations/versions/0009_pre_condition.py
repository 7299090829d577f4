"""pre-conditioning: facility_controls keeps the setpoint sent before the window, and when

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:15:00

``pre_target`` and ``pre_at`` (issue 15, ``pre_condition``): null when the
facility was not pre-conditioned. A record whose ``target`` equals its
``pre_target`` is still pre-conditioning (its DR setpoint not yet sent).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pre_target", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("pre_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.drop_column("pre_at")
        batch_op.drop_column("pre_target")
