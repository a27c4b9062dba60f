"""Every view of a case's health information is recorded, on SQLite and PostgreSQL: the REST case
and notice routes, the reviewer app's case page and its notices (FHIR ``$inquire``: in
tests/fhir/test_api.py). A refused request (403, 404, 409) shows nothing and records nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from medpolicy.store import CaseStore
from tests.api.conftest import Tokens
from tests.api.support import approved_request, not_met_request
from tests.api.test_web_views import sign_in


def _store(client: TestClient) -> CaseStore:
    store: CaseStore = client.app.state.services.store  # type: ignore[attr-defined]
    return store


def _views(client: TestClient, case_id: str) -> list[tuple[str, str, str | None]]:
    return [
        (r.reader, r.route, r.actor.get("role"))
        for r in _store(client).reads.reads(case_id=case_id)
    ]


def test_api_views_are_recorded(client: TestClient, tokens: Tokens) -> None:
    created = client.post(
        "/api/v1/cases", json=approved_request(), headers=Tokens.auth(tokens.provider)
    )
    case_id = created.json()["id"]
    assert _views(client, case_id) == [], "a submission is recorded by the case trail itself"
    assert client.get(f"/api/v1/cases/{case_id}", headers=Tokens.auth(tokens.reviewer)).is_success
    refused = client.get(f"/api/v1/cases/{case_id}", headers=Tokens.auth(tokens.other_provider))
    assert refused.status_code == 403
    notice = client.get(
        f"/api/v1/cases/{case_id}/notice?audience=member&format=html",
        headers=Tokens.auth(tokens.provider),
    )
    assert notice.status_code == 200
    assert _views(client, case_id) == [
        ("Dr Rivera", "GET /api/v1/cases/{case_id}", "reviewer"),
        ("Tampa front desk", "GET /api/v1/cases/{case_id}/notice", "provider"),
    ]
    assert _store(client).verify_audit().ok


def test_a_notice_refused_records_nothing(client: TestClient, tokens: Tokens) -> None:
    created = client.post(
        "/api/v1/cases", json=not_met_request(), headers=Tokens.auth(tokens.provider)
    )
    case_id = created.json()["id"]
    waiting = client.get(
        f"/api/v1/cases/{case_id}/notice?audience=member", headers=Tokens.auth(tokens.reviewer)
    )
    assert waiting.status_code == 409
    assert _views(client, case_id) == []


def test_the_reviewer_apps_views_are_recorded(client: TestClient, tokens: Tokens) -> None:
    created = client.post(
        "/api/v1/cases", json=approved_request(), headers=Tokens.auth(tokens.provider)
    )
    case_id = created.json()["id"]
    sign_in(client, tokens.reviewer)
    page = client.get(f"/review/cases/{case_id}")
    assert page.status_code == 200
    link = f"/review/cases/{case_id}/notice?audience=provider&amp;format=pdf"
    assert link in page.text
    pdf = client.get(f"/review/cases/{case_id}/notice?audience=provider&format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    bad = client.get(f"/review/cases/{case_id}/notice?audience=provider&format=docx")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "format"
    assert _views(client, case_id) == [
        ("Dr Rivera", "GET /review/cases/{case_id}", "reviewer"),
        ("Dr Rivera", "GET /review/cases/{case_id}/notice", "reviewer"),
    ]


def test_an_idempotent_replay_is_a_recorded_view(client: TestClient, tokens: Tokens) -> None:
    body = approved_request()
    headers = {**Tokens.auth(tokens.provider), "Idempotency-Key": "replay-1"}
    first = client.post("/api/v1/cases", json=body, headers=headers)
    again = client.post("/api/v1/cases", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert _views(client, first.json()["id"]) == [
        ("Tampa front desk", "POST /api/v1/cases (idempotent replay)", "provider")
    ]
