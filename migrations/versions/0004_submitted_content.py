"""submitted content: the content of the revision last submitted to the DR service

After a change the DR service refused (no longer pending), it runs the
submitted revision: HVAC control follows that one (issue 10). NULL for
requests submitted before this revision: they follow the stored revision.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("submitted_content", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("submitted_content")
