"""dr seasons: the DR program of each event, and every HVAC read during an event

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dr_program", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_events_dr_program"), ["dr_program"], unique=False)
    op.create_table(
        "hvac_reads",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("gateway", sa.String(length=100), nullable=False),
        sa.Column("facility_type", sa.String(length=20), nullable=False),
        sa.Column("facility_id", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("power_on", sa.Boolean(), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=True),
        sa.Column("set_temp", sa.Float(), nullable=True),
        sa.Column("room_temp", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=1), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.event_id"],
            name=op.f("fk_hvac_reads_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hvac_reads")),
    )
    with op.batch_alter_table("hvac_reads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hvac_reads_at"), ["at"], unique=False)
        batch_op.create_index("ix_hvac_reads_event_at", ["event_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("hvac_reads")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_dr_program"))
        batch_op.drop_column("dr_program")
