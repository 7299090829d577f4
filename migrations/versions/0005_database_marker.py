"""database marker: one row with a random id naming this database

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:00:00

The daemon remembers the marker at start and checks it in its health loop
and before every write, so a database deleted or replaced while it runs is
noticed (issue 16, findings 3 and 5).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    marker = op.create_table(
        "database_marker",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("marker", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_database_marker_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_database_marker")),
    )
    op.bulk_insert(
        marker, [{"id": 1, "marker": str(uuid.uuid4()), "created_at": datetime.now(UTC)}]
    )


def downgrade() -> None:
    op.drop_table("database_marker")
