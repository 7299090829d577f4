"""plan_state.applied_digest: the daemon skips re-applying unchanged plan files (issue 14)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:10:00

``"<revision>:<digest>"`` of the daemon's last apply of ``plans.paths``
(``scheduler.plans.digest``); null until the first apply after the upgrade, which then
runs in full as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied_digest", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_state", schema=None) as batch_op:
        batch_op.drop_column("applied_digest")
