"""Every FHIRPath ``initialExpression`` of the generated Questionnaire, evaluated by a real
FHIRPath engine (fhirpathpy) against the example records, its x-fhir-query variables answered by
searching the record: each value has the shape its item takes (a number in the first unit of a
quantity item, one of a choice item's own answer options, ICD-10-CM codings for the diagnoses)
and says what the FHIR adapters read from the same record."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fhirpathpy import evaluate
from fhirpathpy.models import models

from medpolicy.adapters.fhir.dtr import generate_questionnaire
from medpolicy.policy.tree import Policy
from tests.fhir.conformance.lforms import record_of
from tests.fhir.support import example

PATIENT = "kadcyla-member-1"


def search(record: list[dict[str, Any]], query: str) -> dict[str, Any]:
    """An x-fhir-query answered from the record: type, patient, code (system|code, comma = or),
    clinical-status, _sort=-date, _count."""
    kind, _, rest = query.partition("?")
    params = dict(parse_qsl(rest, keep_blank_values=True))
    found = [r for r in record if r["resourceType"] == kind]
    if "patient" in params:
        found = [r for r in found if r["subject"]["reference"].endswith(f"/{params['patient']}")]
    if "code" in params:
        wanted = {tuple(c.split("|", 1)) for c in params["code"].split(",")}
        found = [
            r for r in found if any((c["system"], c["code"]) in wanted for c in r["code"]["coding"])
        ]
    if "clinical-status" in params:
        status = params["clinical-status"]
        found = [
            r for r in found if any(c["code"] == status for c in r["clinicalStatus"]["coding"])
        ]
    if params.get("_sort") == "-date":
        found.sort(key=lambda r: r.get("effectiveDateTime", ""), reverse=True)
    if "_count" in params:
        found = found[: int(params["_count"])]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in found],
    }


def variables(questionnaire: dict[str, Any], record: list[dict[str, Any]]) -> dict[str, Any]:
    patient = next(r for r in record if r["resourceType"] == "Patient" and r["id"] == PATIENT)
    found: dict[str, Any] = {"patient": patient, "questionnaire": questionnaire}
    for ext in questionnaire["extension"]:
        if ext["url"] == "http://hl7.org/fhir/StructureDefinition/variable":
            expr = ext["valueExpression"]
            assert expr["language"] == "application/x-fhir-query"
            query = expr["expression"].replace("{{%patient.id}}", PATIENT)
            found[expr["name"]] = search(record, query)
    return found


def initial_values(policy: Policy, name: str) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    questionnaire = generate_questionnaire(policy)
    env = variables(questionnaire, record_of(example(name)))
    values: dict[str, list[Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            for ext in item.get("extension", []):
                if ext["url"].endswith("sdc-questionnaire-initialExpression"):
                    expression = ext["valueExpression"]["expression"]
                    values[item["linkId"]] = evaluate({}, expression, env, model=models["r4"])
            walk(item.get("item", []))

    walk(questionnaire["item"])
    return questionnaire, values


def items_by_link(questionnaire: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            out[item["linkId"]] = item
            walk(item.get("item", []))

    walk(questionnaire["item"])
    return out


def lands(item: dict[str, Any], value: Any) -> bool:
    """Whether the value is an answer of the item's type (and, for a choice, one of its own)."""
    if item["type"] == "quantity":
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if item["type"] == "decimal":
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if item["type"] == "choice":
        options = [o["valueCoding"] for o in item["answerOption"]]
        return value in options
    if item["type"] == "open-choice":
        return (
            isinstance(value, dict) and value.get("system") == "http://hl7.org/fhir/sid/icd-10-cm"
        )
    return False


EXAMPLES = {
    "pas-breast-metastatic-ihc3-approved": {"body_weight.kg": [68.5], "her2.ihc_score": ["3+"]},
    "pas-breast-ish-group3-approved": {
        "her2.ihc_score": ["2+"],  # LOINC LA11842-4 in the record
        "her2.ish_ratio": [1.8],
        "her2.ish_copy_number": [6.4],
    },
    "pas-nsclc-erbb2-approved": {"erbb2_mutation.status": ["LA9633-4"]},
    "pas-continuation-stable-approved": {"disease_status_on_treatment": ["359746009"]},
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_initial_expression_lands_where_the_form_says(kadcyla: Policy, name: str) -> None:
    questionnaire, values = initial_values(kadcyla, name)
    links = items_by_link(questionnaire)
    assert values, "no initialExpression evaluated"
    for link, found in values.items():
        assert len(found) <= 1 or links[link].get("repeats"), (link, found)
        assert all(lands(links[link], v) for v in found), (link, found)
    for link, expected in EXAMPLES[name].items():
        got = [v["code"] if isinstance(v, dict) else float(v) for v in values[link]]
        assert got == expected, link


def test_a_weight_in_pounds_becomes_kilograms_exactly(kadcyla: Policy) -> None:
    _, values = initial_values(kadcyla, "pas-nsclc-erbb2-approved")
    record = record_of(example("pas-nsclc-erbb2-approved"))
    weight = next(
        r["valueQuantity"]
        for r in record
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "29463-7"
    )
    assert weight["code"] == "[lb_av]"
    (kg,) = values["body_weight.kg"]
    assert Decimal(str(kg)) == Decimal(str(weight["value"])) * Decimal("0.45359237")


def test_what_the_record_does_not_hold_is_left_empty(kadcyla: Policy) -> None:
    _, values = initial_values(kadcyla, "pas-breast-missing-her2-pended")
    assert values["her2.ihc_score"] == [] and values["her2.ish_ratio"] == []
    assert values["body_weight.kg"] != []


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_prefill_says_what_the_fhir_adapters_read(
    kadcyla: Policy, registry: Any, name: str
) -> None:
    """The same record read two ways, by the Questionnaire's FHIRPath and by the PAS adapters,
    gives the same weight (in kg) and the same HER2 results."""
    from medpolicy.adapters.fhir.pas_flow import EngineOnly, submit
    from tests.fhir.support import naming

    _, values = initial_values(kadcyla, name)
    (item,) = submit(registry, example(name), EngineOnly(), naming()).submission.items
    assert item.adapted is not None and item.adapted.request is not None
    request = item.adapted.request
    if request.body_weight is not None:
        kg = request.body_weight.value * (
            Decimal("0.45359237") if request.body_weight.unit == "lb" else 1
        )
        assert [Decimal(str(v)) for v in values["body_weight.kg"]] == [kg]
    her2 = request.her2
    ihc = [r.score for r in her2.ihc] if her2 and her2.ihc else []
    assert [v["code"] for v in values.get("her2.ihc_score", [])] == ihc[-1:]
    ish = her2.ish if her2 and her2.ish else []
    assert [Decimal(str(v)) for v in values.get("her2.ish_ratio", [])] == [
        r.ratio for r in ish[-1:] if r.ratio is not None
    ]
