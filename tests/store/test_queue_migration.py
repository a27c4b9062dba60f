"""Migration 0003 on a store that already holds cases (SQLite and PostgreSQL): who each case is for
and its policy are filled from its stored request and latest decision; it downgrades cleanly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from medpolicy.store import connect, upgrade
from medpolicy.store.database import alembic_config, current_revision
from tests.api.support import not_met_request

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_0003_fills_identity_from_the_stored_request(database_url: str) -> None:
    engine = connect(database_url)
    upgrade(engine, "0002")
    body = not_met_request("PA-OLD")
    body["member"].update(sex="male", plan="BlueOptions")
    body["prescriber"] = {"name": "Dr Ana Ortiz", "npi": "1234567893"}
    case = {
        "id": "case_old",
        "request_id": "PA-OLD",
        "organization": "tampa-oncology",
        "status": "in_review",
        "outcome": "not_met",
        "urgency": "standard",
        "request_type": "initiation",
        "pathways": "initiation_breast_cancer",
        "received_at": NOW,
        "due_at": NOW,
        "updated_at": NOW,
        "request_sha256": "0" * 64,
        "request_json": json.dumps(body),
        "decision_count": 2,
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO cases ({', '.join(case)}) VALUES ({', '.join(':' + k for k in case)})"
            ),
            case,
        )
        for number, policy in ((1, "old-policy"), (2, "09-J1000-90")):
            conn.execute(
                text(
                    "INSERT INTO decisions (case_id, number, decision_id, outcome, policy_id,"
                    " policy_version, policy_content_hash, engine_version, decision_json,"
                    " decision_sha256, created_at) VALUES ('case_old', :n, 'd', 'not_met', :p,"
                    " 'v', 'h', 'e', '{}', 'x', :at)"
                ),
                {"n": number, "p": policy, "at": NOW},
            )
    upgrade(engine, "0003")
    assert current_revision(engine) == "0003"
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM cases WHERE id = 'case_old'")).mappings().one()
    assert {k: row[k] for k in ("member_id", "member_birth_date", "member_sex", "plan")} == {
        "member_id": "M7730412",
        "member_birth_date": "1968-03-14",
        "member_sex": "male",
        "plan": "BlueOptions",
    }
    assert row["line_of_business"] == "commercial"
    assert row["prescriber"] == "Dr Ana Ortiz (NPI 1234567893)"
    assert row["policy_id"] == "09-J1000-90" and row["assigned_to"] is None
    indexes = {i["name"] for i in inspect(engine).get_indexes("cases")}
    assert {"ix_cases_open_due", "ix_cases_open_assignee", "ix_cases_member_id"} <= indexes

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    columns = {c["name"] for c in inspect(engine).get_columns("cases")}
    assert "assigned_to" not in columns and "member_id" not in columns
    engine.dispose()
