"""read audit: every view of a case's health information, hash-chained (45 CFR 164.312(b))

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 10:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "read_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("reader", sa.String(length=200), nullable=False),
        sa.Column("actor_json", sa.Text(), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_read_events")),
    )
    with op.batch_alter_table("read_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_read_events_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_read_events_reader"), ["reader"], unique=False)
    read_head = op.create_table(
        "read_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_head")),
    )
    op.bulk_insert(read_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    op.drop_table("read_head")
    with op.batch_alter_table("read_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_read_events_reader"))
        batch_op.drop_index(batch_op.f("ix_read_events_case_id"))
    op.drop_table("read_events")
