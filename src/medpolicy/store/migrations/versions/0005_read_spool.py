"""read spool: a view chained from the spool keeps its line's id (read_events.spool_id, unique)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
# Follows 0004 (the read audit); at merge, both move up with it.
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("read_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spool_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_read_events_spool_id"), ["spool_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("read_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_read_events_spool_id"))
        batch_op.drop_column("spool_id")
