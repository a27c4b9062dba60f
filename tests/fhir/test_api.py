"""The FHIR routes of the running service: PAS, DTR and CDS Hooks over the case store."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from medpolicy.adapters.fhir.answers import choice_coding
from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import Role, TokenStore
from tests.fhir.conftest import Service
from tests.fhir.support import example, load, resources_in, validate
from tests.support import EXAMPLES as NATIVE_EXAMPLES
from tests.support import REPO

FHIR_JSON = "application/fhir+json"


def post(service: Service, path: str, body: Any, token: str | None = None) -> Any:
    headers = service.auth(token or service.provider) if token != "" else {}
    return service.client.post(path, json=body, headers=headers)


def review_action(bundle: dict[str, Any], item: int = 0) -> tuple[str, dict[str, str]]:
    response = bundle["entry"][0]["resource"]
    review = response["item"][item]["adjudication"][0]["extension"][0]["extension"]
    parts = {e["url"].rsplit("/", 1)[-1]: e for e in review}
    code = parts["extension-reviewActionCode"]["valueCodeableConcept"]["coding"][0]["code"]
    number = parts.get("number", {}).get("valueString")
    return code, {"number": number} if number else {}


def test_submit_approves_and_the_authorization_number_is_the_case(service: Service) -> None:
    answer = post(service, "/fhir/Claim/$submit", example("pas-breast-metastatic-ihc3-approved"))
    assert answer.status_code == 200 and answer.headers["content-type"] == FHIR_JSON
    bundle = answer.json()
    validate(bundle)
    action, number = review_action(bundle)
    assert action == "A1"
    case = service.client.get(
        f"/api/v1/cases/{number['number']}", headers=service.auth(service.provider)
    )
    assert case.status_code == 200 and case.json()["status"] == "approved"


def test_a_reviewers_denial_is_visible_through_inquire(service: Service) -> None:
    submitted = post(service, "/fhir/Claim/$submit", example("pas-breast-her2-negative-review"))
    assert review_action(submitted.json())[0] == "A4"
    case_id = submitted.json()["entry"][0]["resource"]["item"][0]["extension"][0]["valueString"]
    denied = service.client.post(
        f"/api/v1/cases/{case_id}/actions",
        headers=service.auth(service.reviewer),
        json={
            "action": "deny",
            "decision_count": 1,
            "reason": "HER2-negative by IHC 1+ and ISH ratio 1.2",
        },
    )
    assert denied.status_code == 200, denied.text
    inquiry = post(
        service, "/fhir/Claim/$inquire", example("pas-inquiry-breast-her2-negative-inquiry")
    )
    assert inquiry.status_code == 200, inquiry.text
    bundle = inquiry.json()
    validate(bundle)
    assert review_action(bundle)[0] == "A3"
    reason = bundle["entry"][0]["resource"]["item"][0]["adjudication"][0]["reason"]
    assert reason["text"] == "HER2-negative by IHC 1+ and ISH ratio 1.2"
    assert reason["coding"] and all(
        c["system"] == "https://medpolicy.dev/fhir/CodeSystem/09-J1000-90-clauses"
        and c["code"].startswith("Position Statement > ")
        for c in reason["coding"]
    )
    notes = " ".join(n["text"] for n in bundle["entry"][0]["resource"]["processNote"])
    assert "Not certified by clinician review" in notes and "ISH ratio 1.2" in notes
    assert "Position Statement > Initiation > 1.b" in notes
    # The inquiry showed the case's decision: a view, in the read audit.
    store = service.client.app.state.services.store  # type: ignore[attr-defined]
    [view] = store.reads.reads(case_id=case_id)
    assert view.route == "POST /fhir/Claim/$inquire" and view.actor["role"] == "provider"


def test_another_providers_inquiry_finds_nothing(service: Service) -> None:
    post(service, "/fhir/Claim/$submit", example("pas-breast-her2-negative-review"))
    inquiry = post(
        service,
        "/fhir/Claim/$inquire",
        example("pas-inquiry-breast-her2-negative-inquiry"),
        service.other_provider,
    )
    assert inquiry.status_code == 404
    assert inquiry.json()["issue"][0]["code"] == "not-found"


def test_a_resubmission_with_the_missing_facts_completes_the_same_case(service: Service) -> None:
    pended = post(service, "/fhir/Claim/$submit", example("pas-breast-missing-her2-pended"))
    first = pended.json()["entry"][0]["resource"]["item"][0]["extension"][0]["valueString"]
    bundle = copy.deepcopy(example("pas-breast-missing-her2-pended"))
    her2 = next(
        r
        for r in resources_in(example("pas-breast-metastatic-ihc3-approved"))
        if r["id"] == "her2-ihc-2026-09-18"
    )
    bundle["entry"].append({"fullUrl": "https://ehr.example/fhir/Observation/h", "resource": her2})
    again = post(service, "/fhir/Claim/$submit", bundle)
    action, number = review_action(again.json())
    assert (action, number["number"]) == ("A1", first)


def test_answers_to_the_questionnaire_complete_a_pended_case(service: Service) -> None:
    pended = post(service, "/fhir/Claim/$submit", example("pas-breast-missing-her2-pended"))
    case_id = pended.json()["entry"][0]["resource"]["item"][0]["extension"][0]["valueString"]
    qr = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://medpolicy.dev/fhir/Questionnaire/09-J1000-90",
        "item": [
            {
                "linkId": "her2.ihc_score",
                "answer": [{"valueCoding": choice_coding("her2.ihc_score", "3+")}],
            }
        ],
    }
    answered = post(service, f"/api/v1/cases/{case_id}/questionnaire-response", qr)
    assert answered.status_code == 200, answered.text
    assert (answered.json()["status"], answered.json()["outcome"]) == ("approved", "approved")


def test_rest_json_and_pas_bundle_get_the_same_outcome_through_the_service(
    service: Service,
) -> None:
    rest = post(service, "/api/v1/cases", load(NATIVE_EXAMPLES / "breast-metastatic-approved.json"))
    pas = post(service, "/fhir/Claim/$submit", example("pas-breast-metastatic-ihc3-approved"))
    assert rest.status_code == 201, rest.text
    number = review_action(pas.json())[1]["number"]
    fhir_case = service.client.get(
        f"/api/v1/cases/{number}", headers=service.auth(service.provider)
    )
    assert rest.json()["outcome"] == fhir_case.json()["outcome"] == "approved"


def test_errors_are_operation_outcomes_pointing_at_the_element(service: Service) -> None:
    unauthenticated = post(service, "/fhir/Claim/$submit", {}, token="")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == FHIR_JSON
    malformed = service.client.post(
        "/fhir/Claim/$submit",
        content=b"{nope",
        headers={**service.auth(service.provider), "Content-Type": FHIR_JSON},
    )
    assert malformed.status_code == 400
    # The HTTP body is not an element: said in the diagnostics, with no FHIRPath expression.
    assert "expression" not in malformed.json()["issue"][0]
    assert "JSON" in malformed.json()["issue"][0]["diagnostics"]
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    bundle["entry"][0]["resource"]["created"] = "yesterday"
    bundle["entry"][4]["resource"]["gender"] = 7
    invalid = post(service, "/fhir/Claim/$submit", bundle)
    assert invalid.status_code == 400
    outcome = invalid.json()
    validate(outcome)
    assert [i["expression"] for i in outcome["issue"]] == [
        ["Bundle.entry[0].resource.created"],
        ["Bundle.entry[4].resource.gender"],
    ]
    reviewer = post(
        service, "/fhir/Claim/$submit", example("pas-breast-missing-her2-pended"), service.reviewer
    )
    assert reviewer.status_code == 403


def test_cds_hooks_discovery_and_a_satisfied_order_sign(service: Service) -> None:
    found = service.client.get("/cds-services")
    assert found.status_code == 200
    assert {s["id"] for s in found.json()["services"]} == {
        "medpolicy-order-select",
        "medpolicy-order-sign",
    }
    answer = post(
        service, "/cds-services/medpolicy-order-sign", example("crd-order-sign-breast-satisfied")
    )
    assert answer.status_code == 200, answer.text
    ext = answer.json()["systemActions"][0]["resource"]["extension"][-1]["extension"]
    satisfied = next(p["valueString"] for p in ext if p["url"] == "satisfied-pa-id")
    case = service.client.get(f"/api/v1/cases/{satisfied}", headers=service.auth(service.provider))
    assert case.status_code == 200 and case.json()["status"] == "approved"
    wrong = post(
        service, "/cds-services/medpolicy-order-select", example("crd-order-sign-breast-satisfied")
    )
    assert wrong.status_code == 400 and wrong.json()["issue"][0]["expression"] == ["hook"]


def test_questionnaire_package_for_a_kadcyla_order(service: Service) -> None:
    answer = post(
        service,
        "/fhir/Questionnaire/$questionnaire-package",
        example("dtr-questionnaire-package-input"),
    )
    assert answer.status_code == 200, answer.text
    parameters = answer.json()
    validate(parameters)
    (package,) = [p["resource"] for p in parameters["parameter"] if p["name"] == "PackageBundle"]
    (questionnaire,) = resources_in(package)
    assert questionnaire["url"] == "https://medpolicy.dev/fhir/Questionnaire/09-J1000-90"
    other = copy.deepcopy(example("dtr-questionnaire-package-input"))
    other["parameter"][1]["resource"]["medicationCodeableConcept"]["coding"][0]["code"] = "617993"
    none = post(service, "/fhir/Questionnaire/$questionnaire-package", other)
    assert none.status_code == 404 and none.json()["resourceType"] == "OperationOutcome"
    read = service.client.get("/fhir/Questionnaire/medpolicy-09-J1000-90")
    assert read.status_code == 200 and read.json()["id"] == "medpolicy-09-J1000-90"


def test_questionnaire_package_under_a_payer_with_a_policy_per_line_of_business(
    tmp_path: Path,
) -> None:
    """Under an Aetna deployment (its J9354 policy admits some lines of business only), the
    order's Questionnaire is the payer's, not "not covered"."""
    aetna = PolicyRegistry.load_dir(REPO / "policies", default_payer="aetna")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}"), registry=aetna)
    token = TokenStore(app.state.services.store).create(
        Role.provider, name="Tampa", organization="tampa-oncology"
    )[0]
    with TestClient(app) as client:
        answer = client.post(
            "/fhir/Questionnaire/$questionnaire-package",
            json=example("dtr-questionnaire-package-input"),
            headers=Service.auth(token),
        )
    assert answer.status_code == 200, answer.text
    packages = [p["resource"] for p in answer.json()["parameter"] if p["name"] == "PackageBundle"]
    urls = [q["url"] for package in packages for q in resources_in(package)]
    assert urls == ["https://medpolicy.dev/fhir/Questionnaire/CPB-0974"]


def test_capability_statement(service: Service) -> None:
    metadata = service.client.get("/fhir/metadata")
    assert metadata.status_code == 200
    validate(metadata.json())
    guides = metadata.json()["implementationGuide"]
    assert (
        "http://hl7.org/fhir/us/davinci-pas/ImplementationGuide/hl7.fhir.us.davinci-pas|2.0.1"
        in guides
    )
    assert (
        "http://hl7.org/fhir/us/davinci-dtr/ImplementationGuide/hl7.fhir.us.davinci-dtr|2.0.1"
        in guides
    )


def test_a_retried_submission_returns_the_same_case(service: Service) -> None:
    first = post(service, "/fhir/Claim/$submit", example("pas-breast-metastatic-ihc3-approved"))
    again = post(service, "/fhir/Claim/$submit", example("pas-breast-metastatic-ihc3-approved"))
    assert review_action(first.json()) == review_action(again.json())
    listed = service.client.get(
        "/api/v1/cases",
        params={"request_id": "PA-FB-2026-1101"},
        headers=service.auth(service.provider),
    )
    assert len(listed.json()["cases"]) == 1
    # The retry showed the case as it stands: a view, in the read audit.
    store = service.client.app.state.services.store  # type: ignore[attr-defined]
    [view] = store.reads.reads(case_id=listed.json()["cases"][0]["id"])
    assert view.route == "POST /fhir/Claim/$submit (the same request again)"


def test_a_reviewers_approval_authorizes_the_request_as_submitted(service: Service) -> None:
    bundle = example("pas-breast-dose-over-limit-review")
    submitted = post(service, "/fhir/Claim/$submit", bundle)
    case_id = submitted.json()["entry"][0]["resource"]["item"][0]["extension"][0]["valueString"]
    approved = service.client.post(
        f"/api/v1/cases/{case_id}/actions",
        headers=service.auth(service.reviewer),
        json={
            "action": "approve",
            "decision_count": 1,
            "reason": "4.2 mg/kg is the dose agreed after tumor board",
        },
    )
    assert approved.status_code == 200, approved.text
    inquiry = post(service, "/fhir/Claim/$inquire", bundle).json()
    validate(inquiry)
    assert review_action(inquiry) == ("A1", {"number": case_id})
    item = inquiry["entry"][0]["resource"]["item"][0]
    ext = {e["url"].rsplit("-", 1)[-1]: e for e in item["extension"]}
    per_dose = 288  # 4.2 mg/kg x 68.5 kg = 287.7 mg, rounded up to whole units
    quantity = ext["itemAuthorizedDetail"]["extension"][0]["valueQuantity"]["value"]
    assert quantity == per_dose * 9
    # The same authorization the REST approval recorded with the reviewer's decision.
    recorded = approved.json()["reviewer_decisions"][0]["authorization"]
    assert (recorded["units_per_administration"], recorded["total_units"]) == (per_dose, quantity)
    assert ext["itemPreAuthPeriod"]["valuePeriod"] == {"start": "2026-11-09", "end": "2027-05-08"}


def test_codes_outside_a_required_binding_are_refused_at_their_elements(service: Service) -> None:
    """Claim.status "bogus" and Patient.gender "x" are not R4 codes: refused, never certified."""
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    bundle["entry"][0]["resource"]["status"] = "bogus"
    patient = next(
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Patient"
    )
    bundle["entry"][patient]["resource"]["gender"] = "x"
    answer = post(service, "/fhir/Claim/$submit", bundle)
    assert answer.status_code == 400, answer.text
    outcome = answer.json()
    validate(outcome)
    assert [(i["code"], i["expression"]) for i in outcome["issue"]] == [
        ("code-invalid", ["Bundle.entry[0].resource.status"]),
        ("code-invalid", [f"Bundle.entry[{patient}].resource.gender"]),
    ]


def test_a_claim_created_after_its_receipt_is_rejected(service: Service) -> None:
    """Claim.created is when the request was made, the decision's clock: a Claim dated ahead of
    the service is rejected at that element, not decided as of a day that has not come."""
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    claim = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim")
    claim["created"] = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    answer = post(service, "/fhir/Claim/$submit", bundle)
    assert answer.status_code == 422, answer.text
    [issue] = answer.json()["issue"]
    assert issue["expression"] == ["Bundle.entry[0].resource.created"]
    assert "after the service received" in issue["diagnostics"]
