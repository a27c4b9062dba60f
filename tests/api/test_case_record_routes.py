"""PAS ``$submit`` with DTR answers for facts only the clinical record holds, through the running
service (SQLite and PostgreSQL): the case on file keeps the record the decision was made on, a
retry is recognized only when request and record are the same, and what is added to the case
later keeps the record's facts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from medpolicy.adapters.fhir.record_facts import fact_spec
from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.service import evaluate_request
from medpolicy.store import Case, CaseStore
from tests.api.conftest import Tokens, make_tokens
from tests.api.test_web_views import sign_in
from tests.store.helpers import aetna_bundle, aetna_registry

# The Aetna deployment: each of its J9354 policies admits some lines of business, and PAS finds
# the drug covered, deciding each item under the policy its member's line of business selects.
AETNA = aetna_registry()


@pytest.fixture
def aetna_client(database_url: str) -> Iterator[tuple[TestClient, Tokens]]:
    app = create_app(Settings(database_url=database_url), registry=AETNA)
    with TestClient(app) as client:
        yield client, make_tokens(app.state.services.store)


def _submit(client: TestClient, token: str, bundle: dict[str, Any]) -> str:
    """The id of the case the submission's item went to (the newest for its Claim)."""
    response = client.post("/fhir/Claim/$submit", json=bundle, headers=Tokens.auth(token))
    assert response.status_code == 200, response.text
    claim = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim")
    store: CaseStore = client.app.state.services.store  # type: ignore[attr-defined]
    found = store.find_by_request_id(claim["identifier"][0]["value"])
    assert found, response.text
    return found[0].id


def _case(client: TestClient, case_id: str) -> Case:
    store: CaseStore = client.app.state.services.store  # type: ignore[attr-defined]
    case = store.get(case_id)
    assert case is not None
    return case


def test_the_dtr_answer_is_kept_with_the_case_and_decides_it_again(
    aetna_client: tuple[TestClient, Tokens],
) -> None:
    client, tokens = aetna_client
    pended = _submit(client, tokens.provider, aetna_bundle(answered=False))
    case = _case(client, pended)
    assert case.status.value == "pending_information" and case.record_json is None
    assert "her2.status" in [m.fact for m in case.decision().missing_information]
    read = client.get(f"/api/v1/cases/{pended}", headers=Tokens.auth(tokens.provider))
    assert read.status_code == 200 and read.json()["record"] is None

    # The same Claim again with the DTR answer: not a retry (the record differs), more
    # information for the open case, which it approves.
    answered = _submit(client, tokens.provider, aetna_bundle(answered=True))
    assert answered == pended
    case = _case(client, pended)
    assert (case.status.value, case.decision_count) == ("approved", 2)
    assert case.record_json is not None and '"result":"positive"' in case.record_json
    assert evaluate_request(AETNA, case.decided_on()).to_json() == case.decision_json
    # the case's JSON shows what the decision was made on: the record, with the answer
    read = client.get(f"/api/v1/cases/{pended}", headers=Tokens.auth(tokens.provider))
    assert read.json()["record"] == json.loads(case.record_json)
    findings = [f for c in read.json()["record"]["conditions"] for f in c.get("findings", [])]
    assert {"code": "48676-1", "result": "positive"} in [
        {k: f.get(k) for k in ("code", "result")} for f in findings
    ]

    # Now a retry: the same request and record return the case as it stands.
    assert _submit(client, tokens.provider, aetna_bundle(answered=True)) == pended
    assert _case(client, pended).decision_count == 2
    store: CaseStore = client.app.state.services.store  # type: ignore[attr-defined]
    assert store.verify_audit().ok, store.verify_audit().problems

    # The reviewer's case page shows the answer the decision read from the record.
    sign_in(client, tokens.reviewer)
    page = client.get(f"/review/cases/{pended}")
    assert page.status_code == 200
    section = page.text.split('id="record-facts-h"', 1)[1].split("</section>", 1)[0]
    label = fact_spec("her2.status")
    assert label is not None and label.label in section
    assert "<td>positive</td>" in section and "DTR answer" in section


def test_a_rest_resubmission_keeps_the_facts_only_the_record_held(
    aetna_client: tuple[TestClient, Tokens],
) -> None:
    client, tokens = aetna_client
    case_id = _submit(client, tokens.provider, aetna_bundle(answered=True))
    before = _case(client, case_id)
    assert before.status.value == "approved"
    # An approved case is closed; open another to resubmit to: the answers without the line of
    # therapy leave the case open (missing), and a REST resubmission adds the line.
    bundle = aetna_bundle(answered=True)
    bundle["entry"][-1]["resource"]["item"][0]["item"].pop()  # drop the line-of-therapy answer
    claim = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim")
    claim["identifier"][0]["value"] = "PA-FB-2026-1102"
    opened = _submit(client, tokens.provider, bundle)
    case = _case(client, opened)
    assert not case.final, "without the line of therapy the case stays open"
    assert case.record_json is not None
    patch = {"medication": {"line_of_therapy": 2}}
    response = client.post(
        f"/api/v1/cases/{opened}/resubmissions", json=patch, headers=Tokens.auth(tokens.provider)
    )
    assert response.status_code == 200, response.text
    after = _case(client, opened)
    assert after.record_json is not None and '"result":"positive"' in after.record_json
    assert after.status.value == "approved"
    assert evaluate_request(AETNA, after.decided_on()).to_json() == after.decision_json
