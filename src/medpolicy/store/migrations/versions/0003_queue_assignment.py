"""the work queue: who each case is for, its policy, its assignee; partial indexes for paging

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 10:20:00.000000

The new identity columns are filled from each case's stored request, and ``policy_id`` from its
latest decision, so an existing store's queue shows and filters its cases at once.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("member_id", sa.String(length=200)),
    ("member_birth_date", sa.String(length=10)),
    ("member_sex", sa.String(length=20)),
    ("line_of_business", sa.String(length=40)),
    ("plan", sa.String(length=200)),
    ("prescriber", sa.String(length=300)),
    ("policy_id", sa.String(length=100)),
    ("assigned_to", sa.String(length=200)),
    ("assigned_at", sa.DateTime(timezone=True)),
)
_OPEN = "status IN ('pending_information', 'in_review')"
_PARTIAL = (
    ("ix_cases_open_due", ["due_at", "id"]),
    ("ix_cases_open_assignee", ["assigned_to", "due_at", "id"]),
    ("ix_cases_open_organization", ["organization", "due_at", "id"]),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("cases", sa.Column(name, type_, nullable=True))
    op.create_index("ix_cases_member_id", "cases", ["member_id"], unique=False)
    for name, columns in _PARTIAL:
        op.create_index(
            name,
            "cases",
            columns,
            unique=False,
            sqlite_where=sa.text(_OPEN),
            postgresql_where=sa.text(_OPEN),
        )
    _backfill()


def _backfill() -> None:
    """Each existing case's identity from its request (the same derivation new cases use, written
    out here so that the migration does not change when the code does)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, request_json FROM cases")).all()
    for case_id, text in rows:
        values = _identity(json.loads(text))
        latest = bind.execute(
            sa.text(
                "SELECT policy_id FROM decisions WHERE case_id = :id ORDER BY number DESC LIMIT 1"
            ),
            {"id": case_id},
        ).scalar()
        bind.execute(
            sa.text(
                "UPDATE cases SET member_id = :member_id, member_birth_date = :member_birth_date,"
                " member_sex = :member_sex, line_of_business = :line_of_business, plan = :plan,"
                " prescriber = :prescriber, policy_id = :policy_id WHERE id = :id"
            ),
            {**values, "policy_id": latest, "id": case_id},
        )


def _identity(request: dict[str, Any]) -> dict[str, Any]:
    member = request.get("member") or {}
    prescriber = request.get("prescriber") or {}
    name = prescriber.get("name")
    npi = prescriber.get("npi")
    return {
        "member_id": member.get("id"),
        "member_birth_date": member.get("birth_date"),
        "member_sex": member.get("sex"),
        "line_of_business": member.get("line_of_business"),
        "plan": member.get("plan"),
        "prescriber": None if name is None else (f"{name} (NPI {npi})" if npi else name),
    }


def downgrade() -> None:
    for name, _ in reversed(_PARTIAL):
        op.drop_index(name, table_name="cases")
    op.drop_index("ix_cases_member_id", table_name="cases")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+ too): a batch copy of ``cases`` would have to drop
    # the table that decisions and reviewer actions reference.
    for name, _ in reversed(_COLUMNS):
        op.drop_column("cases", name)
