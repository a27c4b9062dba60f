"""The REST API's case lifecycle, on SQLite and PostgreSQL: submit, read, resubmit, review."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from medpolicy.api.schemas import CaseOut
from medpolicy.engine.decision import Decision
from tests.api.conftest import Tokens
from tests.api.support import (
    HER2_DATA,
    approved_request,
    missing_information_request,
    not_met_request,
    out_of_scope_request,
)


def submit(client: TestClient, token: str, body: dict[str, object], **headers: str) -> dict:
    response = client.post("/api/v1/cases", json=body, headers={**Tokens.auth(token), **headers})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_approved_request_is_stored_with_its_decision_exactly(
    client: TestClient, tokens: Tokens, app: FastAPI
) -> None:
    response = client.post(
        "/api/v1/cases", json=approved_request("PA-A-1"), headers=Tokens.auth(tokens.provider)
    )
    assert response.status_code == 201
    case = response.json()
    assert response.headers["location"] == f"/api/v1/cases/{case['id']}"
    assert (case["status"], case["outcome"], case["final"]) == ("approved", "approved", True)
    assert case["pathways"] == ["initiation_breast_cancer"]
    assert case["decision"]["authorization"]["units_per_administration"] == 247

    store = app.state.services.store
    [record] = store.decisions(case["id"])
    stored = store.get(case["id"])
    assert stored is not None
    # The decision is stored byte for byte as Decision.to_json(), with its provenance beside it.
    assert Decision.model_validate_json(stored.decision_json).to_json() == stored.decision_json
    assert json.loads(stored.decision_json) == case["decision"]
    assert json.loads(stored.request_json) == case["request"]
    # The body, with the stored request and decision spliced in, is the documented CaseOut.
    assert CaseOut.model_validate_json(response.content).id == case["id"]
    decision = case["decision"]
    assert (record.policy_id, record.policy_version, record.policy_content_hash) == (
        decision["policy"]["id"],
        decision["policy"]["version"],
        decision["policy"]["content_hash"],
    )
    assert record.engine_version == decision["engine_version"]
    assert [e["type"] for e in case["history"]] == ["case.submitted"]
    event = case["history"][0]
    digest = hashlib.sha256(stored.decision_json.encode()).hexdigest()
    assert event["data"]["decision_sha256"] == digest
    assert event["actor"]["name"] == "Tampa front desk"


def test_get_returns_the_case_with_trace_and_history(client: TestClient, tokens: Tokens) -> None:
    created = submit(client, tokens.provider, not_met_request("PA-G-1"))
    got = client.get(f"/api/v1/cases/{created['id']}", headers=Tokens.auth(tokens.provider))
    assert got.status_code == 200
    case = got.json()
    assert case == created, "the submission's answer is the case as stored"
    assert case["id"] == created["id"] and case["status"] == "in_review"
    pathway = next(p for p in case["decision"]["pathways"] if p["applicable"])
    assert pathway["criteria"]["children"], "the criteria tree travels with the case"
    assert case["decision"]["reasons"][0]["clause"].startswith("Position Statement")
    assert case["request"]["request_id"] == "PA-G-1"


def test_due_times_follow_the_plan_service_level(client: TestClient, tokens: Tokens) -> None:
    standard = submit(client, tokens.provider, missing_information_request())
    expedited = submit(client, tokens.provider, missing_information_request(urgency="expedited"))
    for case, hours in ((standard, 168), (expedited, 72)):
        received = datetime.fromisoformat(case["received_at"])
        assert datetime.fromisoformat(case["due_at"]) - received == timedelta(hours=hours)
        assert case["service_level"]["hours"] == hours
        assert "plan service level" in case["service_level"]["label"]


def test_queue_holds_open_cases_soonest_due_first(client: TestClient, tokens: Tokens) -> None:
    pended = submit(client, tokens.provider, missing_information_request())
    review = submit(client, tokens.provider, not_met_request())
    urgent = submit(client, tokens.provider, not_met_request(urgency="expedited"))
    approved = submit(client, tokens.provider, approved_request())
    scoped_out = submit(client, tokens.provider, out_of_scope_request())
    assert scoped_out["status"] == "out_of_scope" and scoped_out["final"]

    queue = client.get("/api/v1/queue", headers=Tokens.auth(tokens.reviewer))
    assert queue.status_code == 200
    ids = [c["id"] for c in queue.json()["cases"]]
    assert ids == [urgent["id"], pended["id"], review["id"]]
    assert approved["id"] not in ids
    dues = [c["due_at"] for c in queue.json()["cases"]]
    assert dues == sorted(dues)
    assert {c["status"] for c in queue.json()["cases"]} == {"in_review", "pending_information"}


def test_reviewer_denial_carries_reason_and_defaults_the_clauses(
    client: TestClient, tokens: Tokens
) -> None:
    case = submit(client, tokens.provider, not_met_request())
    engine_clauses = [r["clause"] for r in case["decision"]["reasons"]]
    response = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={
            "action": "deny",
            "decision_count": 1,
            "reason": "HER2-negative by IHC 1+ and ISH ratio 1.2.",
        },
        headers=Tokens.auth(tokens.reviewer),
    )
    assert response.status_code == 200, response.text
    denied = response.json()
    assert (denied["status"], denied["final"]) == ("denied", True)
    [action] = denied["reviewer_decisions"]
    assert action["action"] == "deny" and action["reviewer"] == "Dr Rivera"
    assert action["clauses"] == list(dict.fromkeys(engine_clauses))
    last = denied["history"][-1]
    assert last["type"] == "review.deny"
    assert last["data"]["engine_reasons"][0]["text"] == case["decision"]["reasons"][0]["text"]

    again = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={"action": "approve", "decision_count": 1, "reason": "changed my mind"},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "status"


def test_reviewer_can_approve_with_cited_clause_or_request_information(
    client: TestClient, tokens: Tokens
) -> None:
    case = submit(client, tokens.provider, not_met_request())
    pend = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={"action": "request_information", "reason": "Send the full ISH report."},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert pend.json()["status"] == "pending_information" and not pend.json()["final"]
    approve = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={
            "action": "approve",
            "decision_count": 1,
            "reason": "Peer-to-peer: outside lab confirms HER2 3+.",
            "clauses": ["Position Statement > Initiation > 1.b"],
        },
        headers=Tokens.auth(tokens.reviewer),
    )
    body = approve.json()
    assert body["status"] == "approved"
    assert [r["action"] for r in body["reviewer_decisions"]] == ["request_information", "approve"]
    assert body["reviewer_decisions"][1]["clauses"] == ["Position Statement > Initiation > 1.b"]


def test_a_reviewer_approval_states_what_it_authorizes(
    client: TestClient, tokens: Tokens, app: FastAPI
) -> None:
    """The engine authorizes nothing for a not-met case; the reviewer's approval authorizes the
    request as submitted (68.5 kg at 3.6 mg/kg: 247 units, 13 wasted on a JW line)."""
    case = submit(client, tokens.provider, not_met_request())
    assert case["decision"]["authorization"] is None
    url = f"/api/v1/cases/{case['id']}/actions"
    approve = client.post(
        url,
        json={
            "action": "approve",
            "decision_count": 1,
            "reason": "Peer-to-peer: outside lab confirms HER2 3+.",
        },
        headers=Tokens.auth(tokens.reviewer),
    )
    assert approve.status_code == 200, approve.text
    [action] = approve.json()["reviewer_decisions"]
    authorization = action["authorization"]
    assert (authorization["period_start"], authorization["period_end"]) == (
        "2026-11-09",
        "2027-05-08",
    )
    assert (authorization["units_per_administration"], authorization["total_units"]) == (247, 2223)
    assert authorization["claim_lines_per_administration"] == [
        {"hcpcs": "J9354", "modifier": None, "units": 247},
        {"hcpcs": "J9354", "modifier": "JW", "units": 13},
    ]
    got = client.get(f"/api/v1/cases/{case['id']}", headers=Tokens.auth(tokens.provider)).json()
    assert got["reviewer_decisions"] == approve.json()["reviewer_decisions"]
    assert got["history"][-1]["data"]["authorization"] == authorization

    weightless = not_met_request()
    del weightless["body_weight"]
    other = submit(client, tokens.provider, weightless)
    denied = submit(client, tokens.provider, not_met_request())
    for target, action_name in ((other, "approve"), (denied, "deny")):
        response = client.post(
            f"/api/v1/cases/{target['id']}/actions",
            json={"action": action_name, "reason": "Reviewed.", "decision_count": 1},
            headers=Tokens.auth(tokens.reviewer),
        )
        assert response.status_code == 200, response.text
        assert response.json()["reviewer_decisions"][0]["authorization"] is None
    assert app.state.services.store.verify_audit().ok


def test_only_reviewers_decide_and_a_reason_is_required(client: TestClient, tokens: Tokens) -> None:
    case = submit(client, tokens.provider, not_met_request())
    url = f"/api/v1/cases/{case['id']}/actions"
    by_provider = client.post(
        url,
        json={"action": "deny", "decision_count": 1, "reason": "x"},
        headers=Tokens.auth(tokens.provider),
    )
    assert by_provider.status_code == 403
    no_reason = client.post(
        url,
        json={"action": "deny", "decision_count": 1, "reason": "   "},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    bad_action = client.post(
        url, json={"action": "shred", "reason": "x"}, headers=Tokens.auth(tokens.reviewer)
    )
    assert bad_action.status_code == 422
    assert bad_action.json()["errors"][0]["field"] == "action"


def test_resubmission_re_runs_the_engine_on_the_same_case(
    client: TestClient, tokens: Tokens, app: FastAPI
) -> None:
    case = submit(client, tokens.provider, missing_information_request())
    assert case["status"] == "pending_information"
    assert {m["request_field"].split(".")[0] for m in case["decision"]["missing_information"]} == {
        "her2"
    }
    response = client.post(
        f"/api/v1/cases/{case['id']}/resubmissions",
        json=HER2_DATA,
        headers=Tokens.auth(tokens.provider),
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["id"] == case["id"]
    assert (updated["status"], updated["decision_count"]) == ("approved", 2)
    assert updated["request"]["her2"]["ihc"][0]["score"] == "3+"
    assert [d["outcome"] for d in updated["decisions"]] == ["missing_information", "approved"]
    assert [e["type"] for e in updated["history"]] == ["case.submitted", "case.resubmitted"]
    assert app.state.services.store.verify_audit().ok

    closed = client.post(
        f"/api/v1/cases/{case['id']}/resubmissions",
        json={"body_weight": {"value": "70", "unit": "kg"}},
        headers=Tokens.auth(tokens.provider),
    )
    assert closed.status_code == 409


def test_resubmission_cannot_change_identity_and_reports_bad_facts(
    client: TestClient, tokens: Tokens
) -> None:
    case = submit(client, tokens.provider, missing_information_request())
    url = f"/api/v1/cases/{case['id']}/resubmissions"
    renamed = client.post(url, json={"request_id": "OTHER"}, headers=Tokens.auth(tokens.provider))
    assert renamed.status_code == 422
    assert renamed.json()["errors"][0]["field"] == "request_id"
    other_member = client.post(
        url, json={"member": {"id": "M999"}}, headers=Tokens.auth(tokens.provider)
    )
    assert other_member.json()["errors"][0]["field"] == "member.id"
    bad = client.post(
        url, json={"her2": {"ihc": [{"score": "4+"}]}}, headers=Tokens.auth(tokens.provider)
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "her2.ihc[0].score"
    not_object = client.post(url, json=[1], headers=Tokens.auth(tokens.provider))
    assert not_object.status_code == 422
    foreign = client.post(url, json=HER2_DATA, headers=Tokens.auth(tokens.other_provider))
    assert foreign.status_code == 403


def test_idempotency_key_returns_the_same_case(client: TestClient, tokens: Tokens) -> None:
    body = approved_request()
    first = submit(client, tokens.provider, body, **{"Idempotency-Key": "retry-1"})
    retry = client.post(
        "/api/v1/cases",
        json=body,
        headers={**Tokens.auth(tokens.provider), "Idempotency-Key": "retry-1"},
    )
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first["id"]
    changed = client.post(
        "/api/v1/cases",
        json=approved_request(body["request_id"], urgency="expedited"),
        headers={**Tokens.auth(tokens.provider), "Idempotency-Key": "retry-1"},
    )
    assert changed.status_code == 409
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"
    # Keys are per organization: another organization's identical key opens its own case.
    other = approved_request(body["request_id"])
    other["member"]["organization"] = "miami-cancer"
    theirs = submit(client, tokens.other_provider, other, **{"Idempotency-Key": "retry-1"})
    assert theirs["id"] != first["id"]


def test_find_cases_by_request_id(client: TestClient, tokens: Tokens) -> None:
    case = submit(client, tokens.provider, approved_request("PA-FIND-1"))
    found = client.get(
        "/api/v1/cases", params={"request_id": "PA-FIND-1"}, headers=Tokens.auth(tokens.provider)
    )
    assert [c["id"] for c in found.json()["cases"]] == [case["id"]]
    hidden = client.get(
        "/api/v1/cases",
        params={"request_id": "PA-FIND-1"},
        headers=Tokens.auth(tokens.other_provider),
    )
    assert hidden.json()["cases"] == []


def test_evaluate_decides_without_storing(client: TestClient, tokens: Tokens, app: FastAPI) -> None:
    response = client.post(
        "/api/v1/evaluate", json=not_met_request(), headers=Tokens.auth(tokens.provider)
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "not_met"
    assert app.state.services.store.count() == 0


def test_policies_are_listed_with_versions_and_precautions(client: TestClient) -> None:
    response = client.get("/api/v1/policies")
    assert response.status_code == 200
    [policy] = [p for p in response.json()["policies"] if p["id"] == "09-J1000-90"]
    assert policy["id"] == "09-J1000-90" and policy["version"]
    assert len(policy["content_hash"]) > 20
    texts = " ".join(p["text"] for p in policy["precautions"]).lower()
    assert "interstitial lung disease" in texts and "substituted" in texts


def test_a_late_retry_returns_the_case_after_information_was_added(
    client: TestClient, tokens: Tokens
) -> None:
    body = missing_information_request()
    headers = {**Tokens.auth(tokens.provider), "Idempotency-Key": "late-retry"}
    first = client.post("/api/v1/cases", json=body, headers=headers).json()
    client.post(
        f"/api/v1/cases/{first['id']}/resubmissions",
        json=HER2_DATA,
        headers=Tokens.auth(tokens.provider),
    )
    retry = client.post("/api/v1/cases", json=body, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == first["id"]
    assert retry.json()["status"] == "approved", "the retry sees the case as it stands now"


def test_a_reviewer_acting_on_a_replaced_decision_gets_409(
    client: TestClient, tokens: Tokens
) -> None:
    case = submit(client, tokens.provider, missing_information_request())
    client.post(
        f"/api/v1/cases/{case['id']}/resubmissions",
        json={"her2": not_met_request()["her2"]},
        headers=Tokens.auth(tokens.provider),
    )
    stale = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={"action": "approve", "reason": "HER2 fine", "decision_count": 1},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert stale.status_code == 409
    assert "reload it" in stale.json()["errors"][0]["problem"]
    current = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={"action": "deny", "reason": "HER2-negative", "decision_count": 2},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert current.status_code == 200 and current.json()["status"] == "denied"


def test_an_overlong_idempotency_key_is_refused_by_name(client: TestClient, tokens: Tokens) -> None:
    headers = Tokens.auth(tokens.provider)
    too_long = client.post(
        "/api/v1/cases",
        json=approved_request(),
        headers={**headers, "Idempotency-Key": "k" * 201},
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"] == [
        {"field": "Idempotency-Key", "problem": "String should have at most 200 characters"}
    ]
    submit(client, tokens.provider, approved_request(), **{"Idempotency-Key": "k" * 200})
