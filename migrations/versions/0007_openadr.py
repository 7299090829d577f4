"""openadr: the VEN's registration and every VTN event answered

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openadr_ven",
        sa.Column("vtn_url", sa.String(length=500), nullable=False),
        sa.Column("ven_name", sa.String(length=200), nullable=False),
        sa.Column("ven_id", sa.String(length=200), nullable=True),
        sa.Column("registration_id", sa.String(length=200), nullable=True),
        sa.Column("vtn_id", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("vtn_url", name=op.f("pk_openadr_ven")),
    )
    op.create_table(
        "openadr_events",
        sa.Column("vtn_id", sa.String(length=200), nullable=False),
        sa.Column("oadr_event_id", sa.String(length=200), nullable=False),
        sa.Column("modification", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("opt", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("vtn_status", sa.String(length=20), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("vtn_id", "oadr_event_id", name=op.f("pk_openadr_events")),
    )


def downgrade() -> None:
    op.drop_table("openadr_events")
    op.drop_table("openadr_ven")
