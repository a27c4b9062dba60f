"""The generated DTR Questionnaire in NLM's LHC-Forms, the SDC reference renderer, in Debian's
Chromium: launched with a patient context over a realistic record, every item shows when the
pathway that reads it is chosen, enableWhen follows the pathway, prefill fills what the record
holds (the weight with its unit), and a filled form's QuestionnaireResponse, sent back to the
service, decides the case. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from medpolicy.adapters.fhir.dtr import generate_questionnaire
from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.policy.tree import Policy
from medpolicy.store import Role, TokenStore
from tests.fhir.conformance.lforms import Form, record_of
from tests.fhir.support import example, validate

pytestmark = pytest.mark.browser
PATIENT = "kadcyla-member-1"


@pytest.fixture
def form(browser: Any) -> Iterator[Form]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Form(page)
    context.close()


def questions(questionnaire: dict[str, Any], group: str) -> Iterator[dict[str, Any]]:
    def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield item
            yield from walk(item.get("item", []))

    (found,) = [g for g in questionnaire["item"] if g["linkId"] == group]
    return walk(found["item"])


def answers(response: dict[str, Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            for a in item.get("answer", []):
                out.setdefault(item["linkId"], []).append(
                    next(v for k, v in a.items() if k.startswith("value"))
                )
                walk(a.get("item", []))
            walk(item.get("item", []))

    walk(response.get("item", []))
    return out


def test_every_item_shows_on_its_pathway_and_only_there(form: Form, kadcyla: Policy) -> None:
    questionnaire = generate_questionnaire(kadcyla)
    form.render(questionnaire, record_of(example("pas-breast-metastatic-ihc3-approved")), PATIENT)
    initiation = [i["text"] for i in questions(questionnaire, "initiation")]
    continuation = [i["text"] for i in questions(questionnaire, "continuation")]
    assert [t for t in (*initiation, *continuation) if form.shows(t)] == []
    form.choose("request.type", "Initiation")
    for indication in kadcyla.indications.values():
        form.choose("indications", indication.label)
    for gate in ("medication.concurrent_anticancer_drugs.any", "prior_therapies.any"):
        form.answer(gate, yes=True)
    every = [i["text"] for i in questions(questionnaire, "every")]
    assert [t for t in (*every, *initiation) if not form.shows(t)] == []
    assert [t for t in continuation if form.shows(t)] == []
    form.screenshot("lforms-initiation-every-indication.png")
    form.choose("request.type", "Continuation")
    form.answer("prior_authorizations.any", yes=True)
    assert [t for t in continuation if not form.shows(t)] == []
    assert [t for t in initiation if form.shows(t)] == []
    form.screenshot("lforms-continuation.png")
    assert form.errors == []


def test_enable_when_follows_the_indication(form: Form, kadcyla: Policy) -> None:
    questionnaire = generate_questionnaire(kadcyla)
    form.render(questionnaire, record_of(example("pas-breast-metastatic-ihc3-approved")), PATIENT)
    text = {i["linkId"]: i["text"] for i in questions(questionnaire, "initiation")}
    form.choose("request.type", "Initiation")
    form.choose("indications", "Breast cancer")
    assert form.shows(text["her2.ihc_score"]) and form.shows(
        text["medication.concurrent_anticancer_drugs"]
    )
    assert not form.shows(text["erbb2_mutation.status"])  # an NSCLC criterion
    assert not form.shows(text["compendium.nccn_category"])  # "other" indications only
    form.choose("indications", "Non-small cell lung cancer")
    assert form.shows(text["erbb2_mutation.status"]) and form.shows(
        text["medication.line_of_therapy"]
    )
    assert form.errors == []


def test_prefill_fills_what_the_record_holds(form: Form, kadcyla: Policy) -> None:
    """The breast record: weight 68.5 kg, IHC 3+ (a string), C50.912 and a lung metastasis."""
    questionnaire = generate_questionnaire(kadcyla)
    form.render(questionnaire, record_of(example("pas-breast-metastatic-ihc3-approved")), PATIENT)
    assert (form.value("body_weight.kg"), form.unit("body_weight.kg")) == ("68.5", "kilogram")
    assert any("code=http://loinc.org|29463-7" in r for r in form.requests())
    assert all(f"patient={PATIENT}" in r for r in form.requests())
    form.choose("request.type", "Initiation")
    form.choose("indications", "Breast cancer")
    assert form.value("her2.ihc_score") == "3+"
    found = answers(form.response())
    assert found["body_weight.kg"] == [
        {"value": 68.5, "unit": "kilogram", "code": "kg", "system": "http://unitsofmeasure.org"}
    ]
    assert found["her2.ihc_score"][0]["code"] == "3+"
    assert "C50.912" in [c["code"] for c in found["diagnoses"]]
    form.screenshot("lforms-prefilled-breast.png")
    assert form.errors == []


def test_a_weight_in_pounds_is_prefilled_in_kilograms(form: Form, kadcyla: Policy) -> None:
    questionnaire = generate_questionnaire(kadcyla)
    form.render(questionnaire, record_of(example("pas-nsclc-erbb2-approved")), PATIENT)
    weight = next(
        r["valueQuantity"]
        for r in record_of(example("pas-nsclc-erbb2-approved"))
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "29463-7"
    )
    assert weight["code"] == "[lb_av]"
    expected = round(weight["value"] * 0.45359237, 9)
    assert float(form.value("body_weight.kg")) == pytest.approx(expected, abs=1e-9)
    assert form.unit("body_weight.kg") == "kilogram"
    assert form.errors == []


@pytest.fixture
def service(tmp_path: Any, registry: PolicyRegistry) -> Iterator[tuple[TestClient, str]]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'cases.db'}"), registry=registry)
    token = TokenStore(app.state.services.store).create(
        Role.provider, name="Tampa", organization="tampa-oncology"
    )[0]
    with TestClient(app) as client:
        yield client, token


def test_a_filled_form_decides_the_case(
    form: Form, kadcyla: Policy, service: tuple[TestClient, str]
) -> None:
    """The pended case (no HER2 result): the clinician opens the form over the same record,
    answers the IHC score, and the form's own QuestionnaireResponse certifies the case."""
    client, token = service
    auth = {"Authorization": f"Bearer {token}"}
    bundle = example("pas-breast-missing-her2-pended")
    pended = client.post("/fhir/Claim/$submit", json=bundle, headers=auth).json()
    item = pended["entry"][0]["resource"]["item"][0]
    (case_id,) = [e["valueString"] for e in item["extension"] if "valueString" in e]
    questionnaire = client.get("/fhir/Questionnaire/medpolicy-09-J1000-90").json()
    form.render(questionnaire, record_of(bundle), PATIENT)
    form.choose("request.type", "Initiation")
    form.choose("indications", "Breast cancer")
    assert form.value("her2.ihc_score") == ""  # not in the record: asked, not guessed
    form.choose("her2.ihc_score", "3+")
    form.screenshot("lforms-filled-pended-case.png")
    response = form.response()
    validate(response)
    answered = client.post(
        f"/api/v1/cases/{case_id}/questionnaire-response", json=response, headers=auth
    )
    assert answered.status_code == 200, answered.text
    assert (answered.json()["status"], answered.json()["outcome"]) == ("approved", "approved")
    assert form.errors == []
