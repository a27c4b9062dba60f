"""Access control: 401 without a valid token, 403 across organizations and roles."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import Tokens
from tests.api.support import approved_request, not_met_request


def test_member_data_routes_need_a_token(client: TestClient, tokens: Tokens) -> None:
    case = client.post(
        "/api/v1/cases", json=approved_request(), headers=Tokens.auth(tokens.provider)
    ).json()
    for method, url in (
        ("GET", f"/api/v1/cases/{case['id']}"),
        ("GET", "/api/v1/cases"),
        ("GET", "/api/v1/queue"),
        ("POST", "/api/v1/cases"),
        ("POST", "/api/v1/evaluate"),
        ("POST", f"/api/v1/cases/{case['id']}/actions"),
        ("POST", f"/api/v1/cases/{case['id']}/resubmissions"),
    ):
        response = client.request(method, url, json={})
        assert response.status_code == 401, (method, url)
        assert response.json()["errors"][0]["field"] == "Authorization"
        assert response.headers["www-authenticate"].startswith("Bearer")
    bad = client.get(f"/api/v1/cases/{case['id']}", headers=Tokens.auth("mp_not-a-real-token"))
    assert bad.status_code == 401
    basic = client.get(f"/api/v1/cases/{case['id']}", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


def test_a_provider_cannot_read_another_organizations_case(
    client: TestClient, tokens: Tokens
) -> None:
    case = client.post(
        "/api/v1/cases", json=approved_request(), headers=Tokens.auth(tokens.provider)
    ).json()
    url = f"/api/v1/cases/{case['id']}"
    assert client.get(url, headers=Tokens.auth(tokens.other_provider)).status_code == 403
    assert client.get(url, headers=Tokens.auth(tokens.provider)).status_code == 200
    assert client.get(url, headers=Tokens.auth(tokens.reviewer)).status_code == 200
    assert client.get(url, headers=Tokens.auth(tokens.admin)).status_code == 200
    listed = client.get("/api/v1/cases", headers=Tokens.auth(tokens.other_provider)).json()
    assert case["id"] not in [c["id"] for c in listed["cases"]]


def test_the_organization_comes_from_the_provider_token(client: TestClient, tokens: Tokens) -> None:
    body = approved_request()
    del body["member"]["organization"]
    created = client.post("/api/v1/cases", json=body, headers=Tokens.auth(tokens.provider))
    assert created.status_code == 201
    assert created.json()["organization"] == "tampa-oncology"
    foreign = approved_request()
    foreign["member"]["organization"] = "miami-cancer"
    refused = client.post("/api/v1/cases", json=foreign, headers=Tokens.auth(tokens.provider))
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "member.organization"


def test_roles(client: TestClient, tokens: Tokens) -> None:
    assert client.get("/api/v1/queue", headers=Tokens.auth(tokens.provider)).status_code == 403
    assert client.get("/api/v1/queue", headers=Tokens.auth(tokens.admin)).status_code == 200
    by_reviewer = client.post(
        "/api/v1/cases", json=not_met_request(), headers=Tokens.auth(tokens.reviewer)
    )
    assert by_reviewer.status_code == 403


def test_a_revoked_token_is_refused(client: TestClient, app: FastAPI) -> None:
    token_store = app.state.services.tokens
    from medpolicy.store import Role

    secret, info = token_store.create(Role.reviewer, name="Leaving")
    assert client.get("/api/v1/queue", headers=Tokens.auth(secret)).status_code == 200
    assert token_store.revoke(info.id)
    assert client.get("/api/v1/queue", headers=Tokens.auth(secret)).status_code == 401


def test_only_token_hashes_are_stored(app: FastAPI, tokens: Tokens) -> None:
    from sqlalchemy import select

    from medpolicy.store.schema import tokens as tokens_table

    with app.state.services.store.engine.connect() as conn:
        stored = conn.execute(select(tokens_table)).all()
    values = {v for row in stored for v in row if isinstance(v, str)}
    assert tokens.provider not in values and tokens.reviewer not in values
