"""Actions bound to what was seen: a reviewer's decision names the engine decision it was made
on, a case holds one patient's request whatever the surface, CRD hooks open cases only for a
provider, and no date near the end of the calendar can make a decision or an approval raise."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from medpolicy.adapters.native import parse_request
from medpolicy.engine.decide import decide
from medpolicy.errors import RequestError
from medpolicy.service import evaluate_request
from medpolicy.store import SYSTEM
from tests.api.support import missing_information_request, not_met_request
from tests.fhir.support import example
from tests.hostile.conftest import Hostile

FHIR_JSON = "application/fhir+json"


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def submit(hostile: Hostile, body: dict[str, Any]) -> dict[str, Any]:
    response = hostile.post("/api/v1/cases", hostile.tokens.provider, json=body)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


def act(hostile: Hostile, case_id: str, **body: Any) -> Any:
    return hostile.post(f"/api/v1/cases/{case_id}/actions", hostile.tokens.reviewer, json=body)


def test_approve_and_deny_must_name_the_decision_they_rest_on(hostile: Hostile) -> None:
    case = submit(hostile, not_met_request())
    for action in ("approve", "deny"):
        unnamed = act(hostile, case["id"], action=action, reason="Reviewed.")
        assert unnamed.status_code == 422 and fields(unnamed) == ["decision_count"], unnamed.text
        for wrong in ("1", "one", True, 1.0, [1], 0):
            typed = act(hostile, case["id"], action=action, reason="r", decision_count=wrong)
            assert typed.status_code == 422 and fields(typed) == ["decision_count"], wrong
    pend = act(hostile, case["id"], action="request_information", reason="Send the ISH report.")
    assert pend.status_code == 200 and pend.json()["status"] == "pending_information"
    done = act(hostile, case["id"], action="deny", reason="HER2-negative", decision_count=1)
    assert done.status_code == 200 and done.json()["status"] == "denied"


def test_an_approval_never_authorizes_a_dose_the_reviewer_did_not_see(hostile: Hostile) -> None:
    """The reviewer reads 3.8 mg/kg (decision 1); the provider then asks for 12 mg/kg."""
    body = not_met_request()
    body["medication"]["dose"] = {"value": "3.8", "unit": "mg/kg"}
    case = submit(hostile, body)
    seen = hostile.get(f"/api/v1/cases/{case['id']}", hostile.tokens.reviewer).json()
    assert seen["decision_count"] == 1
    raised = hostile.post(
        f"/api/v1/cases/{case['id']}/resubmissions",
        hostile.tokens.provider,
        json={"medication": {"dose": {"value": "12", "unit": "mg/kg"}}},
    )
    assert raised.status_code == 200 and raised.json()["decision_count"] == 2
    stale = act(hostile, case["id"], action="approve", reason="3.8 is fine", decision_count=1)
    assert stale.status_code == 409, stale.text
    unnamed = act(hostile, case["id"], action="approve", reason="3.8 is fine")
    assert unnamed.status_code == 422
    after = hostile.get(f"/api/v1/cases/{case['id']}", hostile.tokens.reviewer).json()
    assert after["status"] == "in_review" and after["reviewer_decisions"] == []


def test_the_web_form_refuses_a_missing_or_non_numeric_decision_count(hostile: Hostile) -> None:
    case = submit(hostile, not_met_request())
    client: TestClient = hostile.client
    signed = client.post(
        "/review/login", data={"token": hostile.tokens.reviewer}, follow_redirects=False
    )
    assert signed.status_code == 303
    page = client.get(f"/review/cases/{case['id']}")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf
    url = f"/review/cases/{case['id']}/decide"
    form = {"action": "approve", "reason": "Peer to peer", "csrf": csrf.group(1)}
    for count, says in (
        (None, "decision_count: required to approve"),
        ("abc", "decision_count: must be a whole number"),
        ("²", "decision_count: must be a whole number"),
        ("-1", "decision_count: must be a whole number"),
    ):
        sent = form if count is None else {**form, "decision_count": count}
        response = client.post(url, data=sent)
        hostile.check(response)
        assert response.status_code == 422 and says in response.text, (count, response.text)
    state = hostile.get(f"/api/v1/cases/{case['id']}", hostile.tokens.reviewer).json()
    assert state["status"] == "in_review"


def _pas(hostile: Hostile, bundle: Any) -> Any:
    return hostile.post(
        "/fhir/Claim/$submit",
        hostile.tokens.provider,
        content=json.dumps(bundle).encode(),
        headers={"Content-Type": FHIR_JSON},
    )


def _case_of(answer: Any) -> str:
    claim_response = answer.json()["entry"][0]["resource"]
    case_id: str = claim_response["item"][0]["extension"][0]["valueString"]
    return case_id


def test_pas_never_adds_another_patient_to_an_open_case(hostile: Hostile) -> None:
    bundle = example("pas-breast-missing-her2-pended")
    first = _pas(hostile, bundle)
    assert first.status_code == 200, first.text
    case_id = _case_of(first)
    for change in ("member id", "birth date"):
        other = copy.deepcopy(bundle)
        for entry in other["entry"]:
            resource = entry["resource"]
            if change == "member id" and resource["resourceType"] in ("Patient", "Coverage"):
                for ident in resource.get("identifier", []):
                    ident["value"] = "FB999999"
                if "subscriberId" in resource:
                    resource["subscriberId"] = "FB999999"
            if change == "birth date" and resource["resourceType"] == "Patient":
                resource["birthDate"] = "1990-01-01"
        refused = _pas(hostile, other)
        assert refused.status_code == 422, (change, refused.text)
        [issue] = refused.json()["issue"]
        assert "cannot change on a resubmission" in issue["diagnostics"]
        assert issue["expression"] == ["Claim.identifier"]
    case = hostile.get(f"/api/v1/cases/{case_id}", hostile.tokens.reviewer).json()
    assert case["decision_count"] == 1 and case["request"]["member"]["id"] == "FB100234"
    assert case["request"]["member"]["birth_date"] == "1968-03-14"


def test_rest_resubmission_refuses_another_patient_by_the_same_rule(hostile: Hostile) -> None:
    case = submit(hostile, missing_information_request())
    url = f"/api/v1/cases/{case['id']}/resubmissions"
    for patch, field in (
        ({"member": {"birth_date": "1990-01-01"}}, "member.birth_date"),
        ({"member": {"birth_date": None}}, "member.birth_date"),
        ({"member": {"id": "M-OTHER"}}, "member.id"),
        ({"request_id": "PA-OTHER"}, "request_id"),
    ):
        response = hostile.post(url, hostile.tokens.provider, json=patch)
        assert response.status_code == 422 and fields(response) == [field], response.text
    body = missing_information_request()
    del body["member"]["birth_date"]
    without = submit(hostile, body)
    added = hostile.post(
        f"/api/v1/cases/{without['id']}/resubmissions",
        hostile.tokens.provider,
        json={"member": {"birth_date": "1968-03-14"}},
    )
    assert added.status_code == 200, "a birth date may be added where none was given"


def test_crd_hooks_open_cases_only_for_a_provider(hostile: Hostile) -> None:
    hook = example("crd-order-sign-breast-satisfied")
    for token in (hostile.tokens.reviewer,):
        refused = hostile.post(
            "/cds-services/medpolicy-order-sign",
            token,
            content=json.dumps(hook).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert refused.status_code == 403
        assert refused.json()["resourceType"] == "OperationOutcome"
    assert hostile.app.state.services.store.count() == 0
    allowed = hostile.post(
        "/cds-services/medpolicy-order-sign",
        hostile.tokens.provider,
        content=json.dumps(hook).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert allowed.status_code == 200, allowed.text
    for case in hostile.app.state.services.store.list_cases():
        assert case.organization == "tampa-oncology"


def _far_future(body: dict[str, Any], start: str = "9999-07-01") -> dict[str, Any]:
    body["medication"]["start_date"] = start
    body["submitted_at"] = "9999-06-30T12:00:00Z"
    return body


def test_a_request_dated_ahead_of_the_service_is_a_422(hostile: Hostile) -> None:
    """A request says it was made in 9999: decided as of that day, its period would run to the
    end of the calendar. The service refuses it as dated ahead of its receipt."""
    for start in ("9999-07-01", "9999-12-31"):
        for path in ("/api/v1/evaluate", "/api/v1/cases"):
            body = _far_future(not_met_request(), start)
            response = hostile.post(path, hostile.tokens.provider, json=body)
            assert response.status_code == 422, response.text
            assert fields(response) == ["submitted_at"]
            assert "after the service received" in response.json()["errors"][0]["problem"]


def test_a_start_date_at_the_end_of_the_calendar_is_refused(hostile: Hostile) -> None:
    """Where a request may be so dated (the command line, a case file: the engine's callers), a
    period past the calendar's last day is refused, naming the date it runs from."""
    registry = hostile.app.state.services.registry
    for start in ("9999-07-01", "9999-12-31"):
        with pytest.raises(RequestError) as refused:
            evaluate_request(registry, parse_request(_far_future(not_met_request(), start)))
        [error] = refused.value.errors
        assert error.field == "medication.start_date"
        assert "would end after 9999-12-31" in error.problem
    body = _far_future(not_met_request())
    del body["medication"]["start_date"]
    body["submitted_at"] = "9999-09-30T12:00:00Z"
    with pytest.raises(RequestError) as undated:
        evaluate_request(registry, parse_request(body))
    assert [e.field for e in undated.value.errors] == ["submitted_at"]
    fits = evaluate_request(registry, parse_request(_far_future(not_met_request(), "9999-06-01")))
    assert fits.outcome.value == "not_met"


def test_a_stored_case_dated_at_the_end_of_the_calendar_can_be_acted_on(
    hostile: Hostile,
) -> None:
    """A case stored before the date check (decided by the engine directly): approving it is a
    clear 422 on the API and on the web page, and it can still be denied."""
    svc = hostile.app.state.services
    request = parse_request(_far_future(not_met_request()))
    policy = svc.registry.get("09-J1000-90")
    case = svc.store.submit(request, decide(policy, request), actor=SYSTEM).case
    approve = act(hostile, case.id, action="approve", reason="Peer to peer", decision_count=1)
    assert approve.status_code == 422, approve.text
    assert fields(approve) == ["medication.start_date"]
    client: TestClient = hostile.client
    client.post("/review/login", data={"token": hostile.tokens.reviewer})
    page = client.get(f"/review/cases/{case.id}")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf
    web = client.post(
        f"/review/cases/{case.id}/decide",
        data={
            "action": "approve",
            "reason": "Peer to peer",
            "decision_count": "1",
            "csrf": csrf.group(1),
        },
    )
    hostile.check(web)
    assert web.status_code == 422 and "would end after 9999-12-31" in web.text
    assert "Choose an action" not in web.text
    deny = act(hostile, case.id, action="deny", reason="Impossible dates", decision_count=1)
    assert deny.status_code == 200 and deny.json()["status"] == "denied"
    assert svc.store.verify_audit().ok
