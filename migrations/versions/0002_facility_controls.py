"""facility controls: HVAC control records per event and facility

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:44:20.279793
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "facility_controls",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("gateway", sa.String(length=100), nullable=False),
        sa.Column("facility_type", sa.String(length=20), nullable=False),
        sa.Column("facility_id", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=1), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=True),
        sa.Column("original", sa.Float(), nullable=True),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("restored", sa.Float(), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("restore_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.event_id"],
            name=op.f("fk_facility_controls_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "event_id",
            "site",
            "gateway",
            "facility_type",
            "facility_id",
            name=op.f("pk_facility_controls"),
        ),
    )
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.create_index("ix_facility_controls_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.drop_index("ix_facility_controls_state")

    op.drop_table("facility_controls")
