"""The reviewer web app's server side, without a browser: sign-in, cookie, CSRF, access."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.conftest import Tokens
from tests.api.support import not_met_request


def sign_in(client: TestClient, token: str) -> None:
    response = client.post(
        "/review/login", data={"token": token, "next": "/review/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match
    return match.group(1)


def test_pages_need_a_reviewer_session(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/review/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/review/login")
    refused = client.post("/review/login", data={"token": tokens.provider}, follow_redirects=False)
    assert refused.status_code == 401 and "not a valid reviewer token" in refused.text
    assert "set-cookie" not in refused.headers
    assert client.get("/", follow_redirects=False).headers["location"] == "/review/"


def test_login_never_redirects_off_site(client: TestClient, tokens: Tokens) -> None:
    response = client.post(
        "/review/login",
        data={"token": tokens.reviewer, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/review/"


def test_decide_needs_the_forms_csrf_value(client: TestClient, tokens: Tokens) -> None:
    case = client.post(
        "/api/v1/cases", json=not_met_request(), headers=Tokens.auth(tokens.provider)
    ).json()
    sign_in(client, tokens.reviewer)
    page = client.get(f"/review/cases/{case['id']}")
    assert page.status_code == 200
    form = {
        "action": "deny",
        "reason": "HER2 negative",
        "clauses": "Position Statement > X",
        "decision_count": "1",
    }
    forged = client.post(f"/review/cases/{case['id']}/decide", data={**form, "csrf": "0" * 32})
    assert forged.status_code == 403
    assert (
        client.get(f"/api/v1/cases/{case['id']}", headers=Tokens.auth(tokens.reviewer)).json()[
            "status"
        ]
        == "in_review"
    )
    done = client.post(
        f"/review/cases/{case['id']}/decide",
        data={**form, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    stored = client.get(f"/api/v1/cases/{case['id']}", headers=Tokens.auth(tokens.reviewer)).json()
    assert stored["status"] == "denied"
    assert stored["reviewer_decisions"][0]["clauses"] == ["Position Statement > X"]


def test_claiming_needs_the_forms_csrf_value(client: TestClient, tokens: Tokens) -> None:
    case = client.post(
        "/api/v1/cases", json=not_met_request(), headers=Tokens.auth(tokens.provider)
    ).json()
    sign_in(client, tokens.reviewer)
    page = client.get(f"/review/cases/{case['id']}")
    path = f"/review/cases/{case['id']}/assignment"

    def holder() -> object:
        stored = client.get(f"/api/v1/cases/{case['id']}", headers=Tokens.auth(tokens.reviewer))
        return stored.json()["assigned_to"]

    forged = client.post(path, data={"do": "claim", "csrf": "0" * 32})
    assert forged.status_code == 403 and "The form expired" in forged.text
    assert holder() is None
    done = client.post(
        path, data={"do": "claim", "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and holder() is not None


def test_decide_reports_problems_on_the_page(client: TestClient, tokens: Tokens) -> None:
    case = client.post(
        "/api/v1/cases", json=not_met_request(), headers=Tokens.auth(tokens.provider)
    ).json()
    sign_in(client, tokens.reviewer)
    csrf = csrf_of(client.get(f"/review/cases/{case['id']}").text)
    url = f"/review/cases/{case['id']}/decide"
    no_reason = client.post(url, data={"action": "deny", "reason": " ", "csrf": csrf})
    assert no_reason.status_code == 422 and "reason: required" in no_reason.text
    no_action = client.post(url, data={"reason": "why", "csrf": csrf})
    assert no_action.status_code == 422 and "Choose an action" in no_action.text
    missing = client.get("/review/cases/case_nope")
    assert missing.status_code == 404 and "No such case" in missing.text


def test_queue_page_lists_open_cases(client: TestClient, tokens: Tokens) -> None:
    case = client.post(
        "/api/v1/cases", json=not_met_request("PA-VIEW-1"), headers=Tokens.auth(tokens.provider)
    ).json()
    sign_in(client, tokens.reviewer)
    page = client.get("/review/?status=in_review")
    assert page.status_code == 200
    assert "PA-VIEW-1" in page.text and case["id"] in page.text
    assert "plan&#39;s service level" in page.text or "plan's service level" in page.text
    empty = client.get("/review/?status=pending_information")
    assert "PA-VIEW-1" not in empty.text.split("Recently closed")[0]


def test_the_case_page_shows_what_a_reviewer_approval_authorizes(
    client: TestClient, tokens: Tokens
) -> None:
    case = client.post(
        "/api/v1/cases", json=not_met_request(), headers=Tokens.auth(tokens.provider)
    ).json()
    sign_in(client, tokens.reviewer)
    page = client.get(f"/review/cases/{case['id']}")
    assert "Authorization" not in page.text
    done = client.post(
        f"/review/cases/{case['id']}/decide",
        data={
            "action": "approve",
            "reason": "Peer to peer",
            "decision_count": "1",
            "csrf": csrf_of(page.text),
        },
    )
    assert done.status_code == 200 and "Recorded: approve" in done.text
    assert "approved by Dr Rivera, as submitted" in done.text
    assert "2026-11-09 – 2027-05-08 (6 months)" in done.text
    assert "247 per administration, 2223 in total" in done.text
    assert "J9354-JW × 13" in done.text

    weightless = not_met_request()
    del weightless["body_weight"]
    other = client.post("/api/v1/cases", json=weightless, headers=Tokens.auth(tokens.provider))
    other_id = other.json()["id"]
    csrf = csrf_of(client.get(f"/review/cases/{other_id}").text)
    done = client.post(
        f"/review/cases/{other_id}/decide",
        data={"action": "approve", "reason": "Peer to peer", "decision_count": "1", "csrf": csrf},
    )
    assert done.status_code == 200 and "The approval records no period or units" in done.text
