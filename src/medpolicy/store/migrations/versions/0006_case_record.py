"""the clinical record a case's latest decision was made on (cases.record_json, record_sha256)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:00:00.000000

A decision made on a clinical record (the request with facts only the record holds, such as a
DTR answer for the overall HER2 result) keeps that record beside the request. Existing cases were
all decided on their request: both columns stay NULL for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
# Follows 0005 (the read spool); at merge, both move up with it.
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("record_sha256", sa.String(length=64), nullable=True))
    op.add_column("cases", sa.Column("record_json", sa.Text(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+ too), as 0003: a batch copy of ``cases`` would
    # have to drop the table that decisions and reviewer actions reference.
    op.drop_column("cases", "record_json")
    op.drop_column("cases", "record_sha256")
