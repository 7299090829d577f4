"""facility_controls: the state index also keys the event (issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:30:00

``ix_facility_controls_state`` (``state``) becomes ``ix_facility_controls_state_event``
(``state``, ``event_id``). The claim at a window's start, the restores and the reads of
one event's open records ask for an event's rows in some states; with the index on
``state`` alone SQLite chose it over the primary key and read every row in that state
(all 5,000 ``planned`` ones at a system-wide start: 1–2 ms a claim), and PostgreSQL
combined both indexes. Queries by state alone use the new index's first column.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.drop_index("ix_facility_controls_state")
        batch_op.create_index("ix_facility_controls_state_event", ["state", "event_id"])


def downgrade() -> None:
    with op.batch_alter_table("facility_controls", schema=None) as batch_op:
        batch_op.drop_index("ix_facility_controls_state_event")
        batch_op.create_index("ix_facility_controls_state", ["state"], unique=False)
