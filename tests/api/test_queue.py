"""The work queue and case assignment through the REST API, on SQLite and PostgreSQL: who each case
is for, keyset pages, filters, search, counts, overdue marks, claims, and refusals naming the field
or the holder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from medpolicy.adapters.native import parse_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from medpolicy.store import CaseStore, open_store
from medpolicy.store.schema import cases
from tests.api.conftest import Tokens
from tests.api.support import approved_request, missing_information_request, not_met_request
from tests.store.helpers import PROVIDER

PRESCRIBER = {"name": "Dr Ana Ortiz", "npi": "1234567893"}


def identified(body: dict[str, Any], member: str, **member_fields: Any) -> dict[str, Any]:
    body["member"] = {**body["member"], "id": member, "sex": "female", "plan": "BlueOptions"}
    body["member"].update(member_fields)
    body["prescriber"] = PRESCRIBER
    return body


def seed_past(
    database_url: str, registry: PolicyRegistry, bodies: list[dict[str, Any]], days: int
) -> None:
    """Cases received ``days`` ago (so due, or overdue, by now), through the store itself."""
    received = datetime.now(UTC) - timedelta(days=days)
    store = CaseStore(open_store(database_url).engine, clock=lambda: received)
    try:
        for body in bodies:
            request = parse_request(body)
            store.submit(request, evaluate_request(registry, request), actor=PROVIDER)
    finally:
        store.close()


def queue(client: TestClient, token: str, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/queue", params=params, headers=Tokens.auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def post(client: TestClient, token: str, path: str, body: Any = None) -> Any:
    return client.post(path, json=body, headers=Tokens.auth(token))


def test_identity_on_the_case_and_the_queue_row(client: TestClient, tokens: Tokens) -> None:
    body = identified(not_met_request("PA-ID-1"), "M-ID-1", line_of_business="medicare_advantage")
    case = post(client, tokens.provider, "/api/v1/cases", body).json()
    member = case["member"]
    assert (member["id"], member["birth_date"], member["sex"]) == ("M-ID-1", "1968-03-14", "female")
    today = datetime.now(UTC).date()
    assert member["age"] == today.year - 1968 - ((today.month, today.day) < (3, 14))
    assert case["plan"] == "BlueOptions" and case["line_of_business"] == "medicare_advantage"
    assert case["organization"] == "tampa-oncology"
    assert case["prescriber"] == "Dr Ana Ortiz (NPI 1234567893)"
    assert case["policy_id"] and case["assigned_to"] is None
    [row] = queue(client, tokens.reviewer, q="M-ID-1")["cases"]
    assert {k: row[k] for k in ("member", "plan", "prescriber", "organization")} == {
        k: case[k] for k in ("member", "plan", "prescriber", "organization")
    }


def test_a_refused_identity_change_is_kept_in_the_history(
    client: TestClient, tokens: Tokens, app: FastAPI
) -> None:
    case = post(
        client, tokens.provider, "/api/v1/cases", missing_information_request("PA-ID-2")
    ).json()
    response = client.post(
        f"/api/v1/cases/{case['id']}/resubmissions",
        json={"member": {"id": "SOMEONE-ELSE"}},
        headers=Tokens.auth(tokens.provider),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "member.id"
    history = client.get(f"/api/v1/cases/{case['id']}", headers=Tokens.auth(tokens.reviewer)).json()
    [refused] = [e for e in history["history"] if e["type"] == "case.resubmission_refused"]
    assert refused["data"]["changes"] == [
        {"field": "member.id", "stored": "M7730412", "sent": "SOMEONE-ELSE"}
    ]
    assert refused["actor"]["organization"] == "tampa-oncology"
    assert history["decision_count"] == 1 and history["member"]["id"] == "M7730412"
    assert app.state.services.store.verify_audit().ok


def test_keyset_pages_filters_search_and_counts(
    client: TestClient, tokens: Tokens, database_url: str, registry: PolicyRegistry
) -> None:
    # Three overdue standard cases (received 9 days ago), then fresh ones of every kind.
    seed_past(database_url, registry, [not_met_request(f"PA-OLD-{i}") for i in range(3)], days=9)
    fresh = [
        not_met_request("PA-Q-EXP", urgency="expedited"),
        missing_information_request("PA-Q-PEND"),
        identified(not_met_request("PA-Q-MEMBER"), "M-FIND-ME"),
        *[not_met_request(f"PA-Q-{i}") for i in range(4)],
    ]
    for body in fresh:
        post(client, tokens.provider, "/api/v1/cases", body)
    post(client, tokens.provider, "/api/v1/cases", approved_request("PA-Q-CLOSED"))

    seen: list[dict[str, Any]] = []
    page = queue(client, tokens.reviewer, limit=3)
    counts = page["counts"]
    assert counts["total"] == 10
    while True:
        seen += page["cases"]
        if page["next_cursor"] is None:
            break
        page = queue(client, tokens.reviewer, limit=3, cursor=page["next_cursor"])
        assert page["counts"] is None  # the first page's are the query's
    ids = [c["request_id"] for c in seen]
    assert len(ids) == len(set(ids)) == 10 and "PA-Q-CLOSED" not in ids
    assert [c["due_at"] for c in seen] == sorted(c["due_at"] for c in seen)
    assert ids[:3] == ["PA-OLD-0", "PA-OLD-1", "PA-OLD-2"] and all(c["overdue"] for c in seen[:3])
    assert not any(c["overdue"] for c in seen[3:])

    assert counts["due"]["overdue"] == 3 and counts["due"]["72h"] == 1  # the expedited case
    assert counts["status"] == {"in_review": 9, "pending_information": 1}
    assert counts["urgency"] == {"expedited": 1, "standard": 9}
    assert counts["assignee"] == {"": 10}

    overdue = queue(client, tokens.reviewer, due="overdue")
    assert [c["request_id"] for c in overdue["cases"]] == ["PA-OLD-0", "PA-OLD-1", "PA-OLD-2"]
    assert overdue["counts"]["total"] == 3
    pending = queue(client, tokens.reviewer, status="pending_information")
    assert [c["request_id"] for c in pending["cases"]] == ["PA-Q-PEND"]
    assert [
        c["request_id"] for c in queue(client, tokens.reviewer, urgency="expedited")["cases"]
    ] == ["PA-Q-EXP"]
    assert [c["request_id"] for c in queue(client, tokens.reviewer, q="M-FIND-ME")["cases"]] == [
        "PA-Q-MEMBER"
    ]
    assert [c["request_id"] for c in queue(client, tokens.reviewer, q="PA-Q-2")["cases"]] == [
        "PA-Q-2"
    ]
    assert queue(client, tokens.reviewer, plan="BlueOptions")["counts"]["total"] == 1
    assert queue(client, tokens.reviewer, organization="miami-cancer")["counts"]["total"] == 0
    assert queue(client, tokens.reviewer, organization="tampa-oncology")["counts"]["total"] == 10
    by_pathway = queue(client, tokens.reviewer, pathway="initiation_breast_cancer")
    assert by_pathway["counts"]["total"] == 10
    [policy] = by_pathway["counts"]["policy"]
    assert queue(client, tokens.reviewer, policy=policy)["counts"]["total"] == 10


def test_bad_queue_parameters_name_the_field(client: TestClient, tokens: Tokens) -> None:
    for params, field in (
        ({"status": "approved"}, "status"),
        ({"urgency": "urgent"}, "urgency"),
        ({"due": "yesterday"}, "due"),
        ({"policy": "no-such-policy"}, "policy"),
        ({"pathway": "nope"}, "pathway"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "Zm9vfGJhcg"}, "cursor"),  # base64 of "foo|bar"
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"offset": "10"}, "offset"),
        ({"q": "x" * 300}, "q"),
    ):
        response = client.get("/api/v1/queue", params=params, headers=Tokens.auth(tokens.reviewer))
        assert 400 <= response.status_code < 500, (params, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (params, response.text)


def test_claim_release_reassign_and_refusals(
    client: TestClient, tokens: Tokens, app: FastAPI
) -> None:
    case_id = post(client, tokens.provider, "/api/v1/cases", not_met_request("PA-CLAIM")).json()[
        "id"
    ]
    store: CaseStore = app.state.services.store
    from medpolicy.store import Role, TokenStore

    other, _ = TokenStore(store).create(Role.reviewer, name="Dr Chen")
    claimed = post(client, tokens.reviewer, f"/api/v1/cases/{case_id}/claim")
    assert claimed.status_code == 200 and claimed.json()["assigned_to"] == "Dr Rivera"
    assert post(client, tokens.reviewer, f"/api/v1/cases/{case_id}/claim").status_code == 200
    mine = queue(client, tokens.reviewer, assignee="me")
    assert [c["id"] for c in mine["cases"]] == [case_id]
    assert queue(client, other, assignee="me")["counts"]["total"] == 0
    assert queue(client, other, assignee="Dr Rivera")["counts"]["total"] == 1

    # Another reviewer can neither act on it, nor claim or release it: 409 naming the holder.
    deny = {"action": "deny", "reason": "HER2-negative", "decision_count": 1}
    for path, body in (
        (f"/api/v1/cases/{case_id}/actions", deny),
        (f"/api/v1/cases/{case_id}/actions", {"action": "request_information", "reason": "r"}),
        (f"/api/v1/cases/{case_id}/claim", None),
        (f"/api/v1/cases/{case_id}/release", None),
    ):
        refused = post(client, other, path, body)
        assert refused.status_code == 409, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == "assigned_to" and "claimed by Dr Rivera" in error["problem"]

    # A reviewer cannot reassign; an admin can, but only to a reviewer's token name.
    move = {"reviewer": "Dr Chen"}
    assert (
        client.put(
            f"/api/v1/cases/{case_id}/assignment", json=move, headers=Tokens.auth(other)
        ).status_code
        == 403
    )
    unknown = client.put(
        f"/api/v1/cases/{case_id}/assignment",
        json={"reviewer": "Nobody"},
        headers=Tokens.auth(tokens.admin),
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "reviewer"
    moved = client.put(
        f"/api/v1/cases/{case_id}/assignment", json=move, headers=Tokens.auth(tokens.admin)
    )
    assert moved.status_code == 200 and moved.json()["assigned_to"] == "Dr Chen"
    released = post(client, other, f"/api/v1/cases/{case_id}/release")
    assert released.status_code == 200 and released.json()["assigned_to"] is None
    unclaimed = post(client, other, f"/api/v1/cases/{case_id}/release")
    assert unclaimed.status_code == 409

    events = [
        e["type"]
        for e in client.get(f"/api/v1/cases/{case_id}", headers=Tokens.auth(other)).json()[
            "history"
        ]
    ]
    assert events == ["case.submitted", "case.claimed", "case.reassigned", "case.released"]
    assert store.verify_audit().ok


def test_an_edited_assignment_is_caught_by_verify(
    client: TestClient, tokens: Tokens, app: FastAPI
) -> None:
    store: CaseStore = app.state.services.store
    case_id = post(client, tokens.provider, "/api/v1/cases", not_met_request("PA-TAMPER")).json()[
        "id"
    ]
    post(client, tokens.reviewer, f"/api/v1/cases/{case_id}/claim")
    assert store.verify_audit().ok
    # Someone with database access hands the case to themselves so that they can decide it.
    with store.engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case_id).values(assigned_to="Mallory"))
    problems = store.verify_audit().problems
    assert any(f"cases id {case_id}: assigned_to" in p for p in problems), problems
    with store.engine.begin() as conn:
        conn.execute(
            update(cases)
            .where(cases.c.id == case_id)
            .values(assigned_to="Dr Rivera", member_id="M-OTHER")
        )
    problems = store.verify_audit().problems
    assert problems == [f"cases id {case_id}: member_id is not the request's (edited)"], problems
    assert json.dumps(problems)
