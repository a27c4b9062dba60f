"""A NUL character anywhere a request can carry text: a 400 naming where, on both stores (on
PostgreSQL, which cannot hold or even compare text with a NUL, these were 500s)."""

from __future__ import annotations

import re

from tests.api.support import not_met_request
from tests.hostile.conftest import Hostile


def field_of(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    if body.get("resourceType") == "OperationOutcome":
        issue = body["issue"][0]
        if "expression" in issue:
            return str(issue["expression"][0])
        return str(issue["diagnostics"]).split(": ", 1)[0]  # not an element: named there
    return str(body["errors"][0]["field"])


def test_nul_in_a_path_or_query_parameter_is_a_400(hostile: Hostile) -> None:
    reviewer = hostile.tokens.reviewer
    for url, field in (
        ("/api/v1/cases/case_%00x", "(path)"),
        ("/api/v1/cases/%00", "(path)"),
        ("/api/v1/cases?request_id=PA%00-1", "request_id"),
        ("/api/v1/cases?status=in_review%00", "status"),
        ("/api/v1/cases?request_id=a&x%00=1", "x"),
        ("/api/v1/queue?limit=1%00", "limit"),
        ("/review/cases/case_%00", "(path)"),
        ("/fhir/Questionnaire/x%00", "(path)"),
    ):
        response = hostile.get(url, reviewer)
        assert response.status_code == 400, (url, response.text)
        assert field_of(response) == field, url
    resubmit = hostile.post(
        "/api/v1/cases/case_%00/resubmissions", hostile.tokens.provider, json={"a": 1}
    )
    assert resubmit.status_code == 400 and field_of(resubmit) == "(path)"
    action = hostile.post(
        "/api/v1/cases/case_%00/actions",
        reviewer,
        json={"action": "deny", "reason": "x", "decision_count": 1},
    )
    assert action.status_code == 400


def test_nul_in_a_form_is_a_400(hostile: Hostile) -> None:
    case = hostile.post("/api/v1/cases", hostile.tokens.provider, json=not_met_request()).json()
    client = hostile.client
    client.post("/review/login", data={"token": hostile.tokens.reviewer})
    page = client.get(f"/review/cases/{case['id']}")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf
    response = client.post(
        f"/review/cases/{case['id']}/decide",
        data={
            "action": "deny",
            "reason": "HER2\x00negative",
            "decision_count": "1",
            "csrf": csrf.group(1),
        },
    )
    hostile.check(response)
    assert response.status_code == 400 and field_of(response) == "reason"
    login = client.post("/review/login", data={"token": "mp_\x00"})
    hostile.check(login)
    assert login.status_code == 400
    state = hostile.get(f"/api/v1/cases/{case['id']}", hostile.tokens.reviewer).json()
    assert state["status"] == "in_review"
