"""DTR answers to the questions of facts only the clinical record holds (no field in the earlier
request format) are put where the catalogue reads each, and read back as those facts."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from medpolicy.adapters.fhir.answers import choice_coding
from medpolicy.adapters.fhir.pas import read_submission
from medpolicy.adapters.fhir.to_request import AdaptedRequest
from medpolicy.facts import extract_facts
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from tests.fhir.support import example
from tests.fhir.test_to_request import LOINC, PATIENT, adapt, cc, kinds, obs

POLICIES = Path(__file__).parents[2] / "policies"


def qr(*answers: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": "qr",
        "status": "completed",
        "questionnaire": "https://medpolicy.dev/fhir/Questionnaire/MA08.066g",
        "item": [
            {"linkId": "every", "item": [{"linkId": link, "answer": [a]} for link, a in answers]}
        ],
    }


def choice(fact: str, value: str) -> tuple[str, dict[str, Any]]:
    return fact, {"valueCoding": choice_coding(fact, value)}


def test_record_only_answers_are_read_as_the_facts_the_catalogue_reads() -> None:
    adapted = adapt(
        PATIENT,
        qr(
            choice("her2.status", "positive"),
            choice("her2.test", "fda_approved"),
            ("lvef.percent", {"valueDecimal": 55}),
            ("lvef.date", {"valueDate": "2026-10-01"}),
            ("body_surface_area.m2", {"valueDecimal": 1.8}),
            choice("medication.setting", "metastatic"),
            choice("residual_invasive_disease", "present"),
            ("recurrence_date", {"valueDate": "2025-06-01"}),
        ),
    )
    assert adapted.request is not None and adapted.record is not None
    assert adapted.for_engine is adapted.record
    facts = extract_facts(adapted.record).values
    assert {k: facts.get(k) for k in _RECORD_ONLY} == {
        "her2.status": "positive",
        "her2.test": "fda_approved",
        "lvef.percent": Decimal("55"),
        "lvef.date": date(2026, 10, 1),
        "body_surface_area.m2": Decimal("1.8"),
        "medication.setting": "metastatic",
        "residual_invasive_disease": "present",
        "recurrence_date": date(2025, 6, 1),
    }
    # what the earlier format carries is the same either way
    before = extract_facts(adapted.request).values
    assert not set(_RECORD_ONLY) & set(before)
    assert {k: v for k, v in facts.items() if k not in _RECORD_ONLY} == dict(before)


_RECORD_ONLY = (
    "her2.status",
    "her2.test",
    "lvef.percent",
    "lvef.date",
    "body_surface_area.m2",
    "medication.setting",
    "residual_invasive_disease",
    "recurrence_date",
)


def test_a_policys_own_attested_fact_is_read_as_the_prescribers_statement() -> None:
    policy = PolicyRegistry.load_dir(POLICIES).get("CPB-0974")
    assert policy is not None
    adapted = adapt(
        PATIENT, qr(("aetna.no_unacceptable_toxicity_attested", {"valueBoolean": True}))
    )
    assert adapted.record is not None
    facts = extract_facts(adapted.record, catalogue=policy.catalogue).values
    assert facts["aetna.no_unacceptable_toxicity_attested"] is True


def test_without_record_only_answers_there_is_no_record() -> None:
    adapted = adapt(PATIENT, qr(("medication.interval_days", {"valueInteger": 21})))
    assert adapted.record is None and adapted.for_engine is adapted.request


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ((("lvef.date", {"valueDate": "2026-10-01"}),), "a date without its measurement"),
        ((("her2.status", {"valueCoding": {"code": "maybe"}}),), "is not one it takes"),
    ],
)
def test_an_answer_the_record_cannot_take_is_reported(
    answers: tuple[tuple[str, dict[str, Any]], ...], message: str
) -> None:
    adapted: AdaptedRequest = adapt(PATIENT, qr(*answers))
    assert any(message in i.message and i.kind == "not-usable" for i in adapted.issues)
    assert adapted.request is not None


def test_a_value_the_record_refuses_refuses_the_request_at_its_answer() -> None:
    adapted = adapt(PATIENT, qr(("lvef.percent", {"valueDecimal": -5})))
    assert adapted.request is None and adapted.record is None
    assert [p.expression for p in adapted.problems] == [
        "Bundle.entry[1].resource.item[0].item[0].answer"
    ]


def test_an_answer_is_checked_as_a_record_sent_as_it_is() -> None:
    """A recurrence date after the request, answered in DTR, is refused at its answer, as the
    same date in a record sent to the REST API is (a schema alone lets it through)."""
    adapted = adapt(PATIENT, qr(("recurrence_date", {"valueDate": "2099-01-01"})))
    assert adapted.request is None and adapted.record is None
    [problem] = adapted.problems
    assert problem.expression == "Bundle.entry[1].resource.item[0].item[0].answer"
    assert "after the request date" in problem.problem
    accepted = adapt(PATIENT, qr(("recurrence_date", {"valueDate": "2026-01-01"})))
    assert accepted.record is not None


def test_a_pas_submission_is_decided_on_the_record_with_the_answers() -> None:
    """A plan whose guideline reads the laboratory's overall HER2 result (a fact the earlier
    format has no field for): missing without the DTR answer, met with it."""
    registry = PolicyRegistry.load_dir(POLICIES, default_payer="aetna")
    bundle = example("pas-breast-metastatic-ihc3-approved")
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )

    def decide(*answers: tuple[str, dict[str, Any]]) -> Any:
        data = copy.deepcopy(bundle)
        if answers:
            response = {
                **qr(*answers),
                "questionnaire": "https://medpolicy.dev/fhir/Questionnaire/CPB-0974",
            }
            response["subject"] = {"reference": f"Patient/{patient['id']}"}
            data["entry"].append(
                {"fullUrl": "urn:uuid:8f0a3c1e-0000-4000-8000-000000000001", "resource": response}
            )
        adapted = read_submission(data, lambda hcpcs, day: True).items[0].adapted
        assert adapted is not None and adapted.for_engine is not None
        return evaluate_request(registry, adapted.for_engine)

    without = decide()
    assert without.policy.id == "CPB-0974"
    assert "her2.status" in [m.fact for m in without.missing_information]
    answered = decide(
        choice("her2.status", "positive"), ("medication.line_of_therapy", {"valueInteger": 2})
    )
    assert "her2.status" not in [m.fact for m in answered.missing_information]
    assert answered.outcome.value == "approved", answered.missing_information


def lvef(oid: str, value: Any, unit: str, when: str) -> dict[str, Any]:
    return obs(oid, "10230-1", when, valueQuantity={"value": value, "code": unit})


@pytest.mark.parametrize(("answered", "used"), [(61, Decimal("61")), (45, None)])
def test_a_record_only_fact_is_read_from_its_observation_and_an_answer_must_agree(
    answered: int, used: Decimal | None
) -> None:
    """The latest Observation's LVEF (61%) is read; an answer of 45% beside it contradicts it,
    and neither is used (the LVEF is asked for), where it had been reported and passed over."""
    adapted = adapt(
        PATIENT,
        lvef("old", 48, "%", "2026-01-05"),
        lvef("new", 61, "%", "2026-09-30"),
        qr(("lvef.percent", {"valueDecimal": answered})),
    )
    facts = {} if adapted.record is None else extract_facts(adapted.record).values
    assert facts.get("lvef.percent") == used
    contradicted = ("not-usable", "Bundle.entry[3].resource.item[0].item[0].answer")
    assert (contradicted in kinds(adapted)) is (used is None)


def test_an_observation_in_another_unit_is_reported_and_an_older_one_used() -> None:
    adapted = adapt(
        PATIENT, lvef("old", 58, "%", "2026-01-05"), lvef("new", 0.6, "1", "2026-09-30")
    )
    assert adapted.record is not None
    facts = extract_facts(adapted.record).values
    assert (facts["lvef.percent"], facts["lvef.date"]) == (Decimal("58"), date(2026, 1, 5))
    assert ("not-usable", "Bundle.entry[2].resource.valueQuantity") in kinds(adapted)


def test_the_laboratorys_overall_her2_result_is_kept_for_the_record() -> None:
    adapted = adapt(
        PATIENT, obs("b", "48676-1", valueCodeableConcept=cc(LOINC, "LA6576-8", "Positive"))
    )
    assert adapted.record is not None and adapted.request is not None
    assert adapted.request.her2 is None  # not a score: the earlier format has no place for it
    assert extract_facts(adapted.record).values["her2.status"] == "positive"
    assert any("kept as the HER2 status" in i.message for i in adapted.issues)
