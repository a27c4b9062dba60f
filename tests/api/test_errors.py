"""Every bad input is a 4xx whose JSON body names the field; never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import Tokens
from tests.api.support import approved_request


def post_raw(client: TestClient, token: str, content: bytes, url: str = "/api/v1/cases") -> object:
    return client.post(
        url, content=content, headers={**Tokens.auth(token), "Content-Type": "application/json"}
    )


def fields(response: object) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]  # type: ignore[attr-defined]


def test_malformed_json_is_400_naming_the_body(client: TestClient, tokens: Tokens) -> None:
    response = client.post(
        "/api/v1/cases",
        content=b'{"request_id": ',
        headers={**Tokens.auth(tokens.provider), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert fields(response) == ["(body)"]
    assert "malformed JSON" in response.json()["errors"][0]["problem"]
    binary = post_raw(client, tokens.provider, b"\xff\xfe\x00")
    assert binary.status_code == 400  # type: ignore[attr-defined]


def test_wrong_types_and_values_name_each_field(client: TestClient, tokens: Tokens) -> None:
    body = approved_request()
    body["medication"]["dose"] = {"value": "three", "unit": "mg/m2"}
    body["body_weight"]["value"] = -4
    body["urgency"] = "whenever"
    body["diagnoses"] = ["C50.999"]
    body["colour"] = "blue"
    response = client.post("/api/v1/cases", json=body, headers=Tokens.auth(tokens.provider))
    assert response.status_code == 422
    assert set(fields(response)) >= {
        "medication.dose.value",
        "medication.dose.unit",
        "body_weight.value",
        "urgency",
        "colour",
    }
    for error in response.json()["errors"]:
        assert error["problem"]


def test_semantic_problems_name_the_field(client: TestClient, tokens: Tokens) -> None:
    body = approved_request(diagnoses=["C50.999"])
    response = client.post("/api/v1/cases", json=body, headers=Tokens.auth(tokens.provider))
    assert response.status_code == 422
    assert fields(response) == ["diagnoses[0]"]
    other_drug = approved_request()
    other_drug["medication"]["hcpcs"] = "J9999"
    unsupported = client.post(
        "/api/v1/cases", json=other_drug, headers=Tokens.auth(tokens.provider)
    )
    assert unsupported.status_code == 422
    assert fields(unsupported) == ["medication.hcpcs"]


def test_not_an_object(client: TestClient, tokens: Tokens) -> None:
    for body in (b"[]", b'"text"', b"42", b"null"):
        response = post_raw(client, tokens.provider, body)
        assert response.status_code == 422, body  # type: ignore[attr-defined]
        assert fields(response) == ["(body)"]


def test_oversized_bodies_are_413(client: TestClient, tokens: Tokens) -> None:
    body = approved_request()
    body["padding"] = "x" * 1_100_000
    response = client.post(
        "/api/v1/cases", content=json.dumps(body).encode(), headers=Tokens.auth(tokens.provider)
    )
    assert response.status_code == 413
    assert fields(response) == ["(body)"]

    def chunks() -> object:  # no Content-Length: the limit is enforced while streaming
        for _ in range(12):
            yield b" " * 100_000

    streamed = client.post(
        "/api/v1/cases",
        content=chunks(),  # type: ignore[arg-type]
        headers={**Tokens.auth(tokens.provider), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


def test_bad_query_parameters_and_unknown_cases(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/api/v1/queue?limit=0", headers=Tokens.auth(tokens.reviewer))
    assert response.status_code == 422 and fields(response) == ["limit"]
    status = client.get("/api/v1/cases?status=lost", headers=Tokens.auth(tokens.reviewer))
    assert status.status_code == 422 and fields(status) == ["status"]
    missing = client.get("/api/v1/cases/case_nope", headers=Tokens.auth(tokens.reviewer))
    assert missing.status_code == 404 and fields(missing) == ["case_id"]
    action = client.post(
        "/api/v1/cases/case_nope/actions",
        json={"action": "approve", "decision_count": 1, "reason": "ok"},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert action.status_code == 404
    unknown_route = client.get("/api/v1/nowhere", headers=Tokens.auth(tokens.reviewer))
    assert unknown_route.status_code == 404 and "errors" in unknown_route.json()
    wrong_method = client.delete("/api/v1/queue", headers=Tokens.auth(tokens.reviewer))
    assert wrong_method.status_code == 405 and "errors" in wrong_method.json()


def test_reviewer_action_body_is_validated(client: TestClient, tokens: Tokens) -> None:
    response = client.post(
        "/api/v1/cases/case_x/actions",
        content=b"{not json",
        headers={**Tokens.auth(tokens.reviewer), "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and fields(response) == ["(body)"]
    extra = client.post(
        "/api/v1/cases/case_x/actions",
        json={"action": "deny", "decision_count": 1, "reason": "r", "clauses": [1], "why": "x"},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert extra.status_code == 422
    assert set(fields(extra)) == {"clauses[0]", "why"}


def test_a_request_dated_after_its_receipt_is_refused(client: TestClient, tokens: Tokens) -> None:
    """A request is decided as of when it says it was made: one dated ahead of the service
    would be decided as of a day that has not come (a later start window, a later policy)."""
    now = datetime.now(UTC)
    for url in ("/api/v1/evaluate", "/api/v1/cases"):
        ahead = {**approved_request(), "submitted_at": (now + timedelta(hours=1)).isoformat()}
        refused = client.post(url, json=ahead, headers=Tokens.auth(tokens.provider))
        assert refused.status_code == 422, refused.text
        assert fields(refused) == ["submitted_at"]
        skewed = {**approved_request(), "submitted_at": (now + timedelta(minutes=2)).isoformat()}
        accepted = client.post(url, json=skewed, headers=Tokens.auth(tokens.provider))
        assert accepted.status_code in (200, 201), accepted.text  # two clocks differ a little
