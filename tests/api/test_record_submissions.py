"""The REST API takes a request as the member's clinical record (the current format) as well as
the earlier format, on SQLite and PostgreSQL: the decision is the engine's on the record itself,
a case keeps the record it was decided on, and a record is refused as a request is, by field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medpolicy.adapters.native import parse_record
from medpolicy.engine.decide import decide
from medpolicy.policy import tree as t
from medpolicy.record.model import ClinicalRecord
from medpolicy.record.projection import project
from medpolicy.service import evaluate_request
from medpolicy.store import CaseStore, Role, TokenStore
from tests.api.conftest import Tokens
from tests.api.support import approved_request
from tests.support import REPO

RECORDS = sorted((REPO / "examples" / "records").glob("*.json"))
BREAST = REPO / "examples" / "records" / "breast-metastatic-approved.json"
ROUTES = ("/api/v1/evaluate", "/api/v1/cases")


def _record(path: Path = BREAST) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_bytes())
    return data


def _store(app: FastAPI) -> CaseStore:
    store: CaseStore = app.state.services.store
    return store


def _provider(app: FastAPI, path: Path) -> dict[str, str]:
    """The headers of a provider token of the record's own organization."""
    organization = _record(path)["member"]["organization"]
    token = TokenStore(_store(app)).create(Role.provider, name="EHR", organization=organization)
    return {**Tokens.auth(token[0]), "Content-Type": "application/json"}


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_each_example_record_is_evaluated_as_the_engine_decides_it(
    client: TestClient, app: FastAPI, kadcyla: t.Policy, path: Path
) -> None:
    response = client.post(
        "/api/v1/evaluate", content=path.read_bytes(), headers=_provider(app, path)
    )
    assert response.status_code == 200, response.text
    assert response.content == decide(kadcyla, parse_record(path.read_bytes())).to_json().encode()


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_a_record_submitted_is_kept_with_its_case_and_decides_it(
    client: TestClient, app: FastAPI, kadcyla: t.Policy, path: Path
) -> None:
    sent = parse_record(path.read_bytes())
    headers = _provider(app, path)
    response = client.post("/api/v1/cases", content=path.read_bytes(), headers=headers)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["decision"] == json.loads(decide(kadcyla, sent).to_json())
    assert case["record"] == sent.model_dump(mode="json", exclude_none=True)
    # the request the queue and views read: what the earlier format holds of the record
    assert case["request"] == project(sent).request.model_dump(mode="json", exclude_none=True)

    stored = _store(app).get(case["id"])
    assert stored is not None
    assert stored.decided_on() == sent, "every later decision reads the record"
    assert isinstance(stored.decided_on(), ClinicalRecord)
    assert evaluate_request(app.state.services.registry, stored.decided_on()).to_json() == (
        stored.decision_json
    )
    got = client.get(f"/api/v1/cases/{case['id']}", headers=headers)
    assert got.status_code == 200
    assert got.json()["record"] == case["record"]
    assert got.json()["decision"] == case["decision"]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the record at a dotted path (list indexes as numbers)."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


def _ahead(data: dict[str, Any]) -> None:
    data["submitted_at"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def _second_finding_after_request(data: dict[str, Any]) -> None:
    data["conditions"][0]["findings"].append(
        {"code": "49683-6", "value": "2.4", "method": "dual-probe ISH", "date": "2026-12-01"}
    )


# (what is wrong, the change to a valid record, the status, the fields named)
REFUSED: list[tuple[str, Callable[[dict[str, Any]], None], int, set[str]]] = [
    (
        "both formats",
        _set("medication", approved_request()["medication"]),
        422,
        {"order", "medication"},
    ),
    ("neither format", _drop("order"), 422, {"order"}),
    ("a dose in a unit no record has", _set("order.dose.unit", "g"), 422, {"order.dose.unit"}),
    (
        "a finding dated after the request",
        _second_finding_after_request,
        422,
        {"conditions[0].findings[1].date"},
    ),
    ("dated ahead of the service's clock", _ahead, 422, {"submitted_at"}),
    (
        "another organization than the provider token's",
        _set("member.organization", "miami-cancer"),
        403,
        {"member.organization"},
    ),
    (
        "a weight in grams sent as kilograms",
        _set("observations.0.value", "68500"),
        422,
        {"observations[0].value"},
    ),
    ("a code outside ICD-10-CM", _set("conditions.0.code", "C50.999"), 422, {"conditions[0].code"}),
    ("a drug no policy covers", _set("order.drug.hcpcs", "J9355"), 422, {"order.drug.hcpcs"}),
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("why", "change", "status", "named"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_bad_record_is_refused_naming_the_field_as_sent(
    client: TestClient,
    tokens: Tokens,
    app: FastAPI,
    route: str,
    why: str,
    change: Callable[[dict[str, Any]], None],
    status: int,
    named: set[str],
) -> None:
    data = _record()
    change(data)
    response = client.post(route, json=data, headers=Tokens.auth(tokens.provider))
    assert response.status_code == status, (why, response.text)
    assert {e["field"] for e in response.json()["errors"]} == named, why
    assert all(e["problem"] for e in response.json()["errors"])
    assert _store(app).count() == 0


def test_a_record_without_an_organization_is_the_provider_tokens(
    client: TestClient, tokens: Tokens
) -> None:
    data = _record()
    del data["member"]["organization"]
    response = client.post("/api/v1/cases", json=data, headers=Tokens.auth(tokens.other_provider))
    assert response.status_code == 201, response.text
    assert response.json()["record"]["member"]["organization"] == "miami-cancer"
    assert response.json()["organization"] == "miami-cancer"


def test_an_idempotent_retry_of_a_record_replays_its_case(
    client: TestClient, tokens: Tokens, app: FastAPI
) -> None:
    data = _record()
    headers = {**Tokens.auth(tokens.provider), "Idempotency-Key": "record-1"}
    first = client.post("/api/v1/cases", json=data, headers=headers)
    assert first.status_code == 201, first.text
    retry = client.post("/api/v1/cases", json=data, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["record"] == first.json()["record"]
    assert _store(app).count() == 1

    # A record that differs only in what the earlier format cannot hold (an LVEF) is another
    # request under the same key, not a retry, though its request of the earlier format is the
    # same.
    changed = copy.deepcopy(data)
    changed["observations"].append(
        {"code": "10230-1", "value": "61", "unit": "%", "date": "2026-10-30"}
    )
    assert project(parse_record(changed)).request == project(parse_record(data)).request
    conflict = client.post("/api/v1/cases", json=changed, headers=headers)
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["errors"][0]["field"] == "Idempotency-Key"
    # and the earlier format's request of the same facts is not a retry of the record either
    earlier = project(parse_record(data)).request.model_dump(mode="json", exclude_none=True)
    assert client.post("/api/v1/cases", json=earlier, headers=headers).status_code == 409


def test_the_earlier_format_is_still_read_and_keeps_no_record(
    client: TestClient, tokens: Tokens
) -> None:
    response = client.post(
        "/api/v1/cases", json=approved_request(), headers=Tokens.auth(tokens.provider)
    )
    assert response.status_code == 201, response.text
    assert response.json()["record"] is None


def test_the_api_documents_both_formats(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ROUTES:
        body = schema["paths"][path]["post"]["requestBody"]
        refs = [s["$ref"] for s in body["content"]["application/json"]["schema"]["oneOf"]]
        assert refs == [
            "#/components/schemas/ClinicalRecord",
            "#/components/schemas/PriorAuthorizationRequest",
        ]
        assert "order" in body["description"] and "medication" in body["description"]
    components = schema["components"]["schemas"]
    assert components["ClinicalRecord"]["properties"]["order"] == {
        "$ref": "#/components/schemas/RecordOrder"
    }
    # the record's parts do not replace the earlier format's of the same name
    assert "mg/m2" in components["RecordDose"]["properties"]["unit"]["enum"]
    assert "mg/m2" not in components["Dose"]["properties"]["unit"]["enum"]
