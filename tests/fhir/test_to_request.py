"""FHIR resources -> engine request: what each mCODE / US Core resource becomes, and what is
reported instead of guessed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from medpolicy.adapters.fhir.resources import Located, ResourceIndex
from medpolicy.adapters.fhir.to_request import AdaptedRequest, OrderContext, to_request
from medpolicy.facts import extract_facts

LOINC, SNOMED, ICD = (
    "http://loinc.org",
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10-cm",
)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {
        "coding": [{"system": system, "code": code, **({"display": display} if display else {})}]
    }


def obs(oid: str, code: str, when: str = "2026-09-18", **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": cc(LOINC, code),
        "effectiveDateTime": when,
        **value,
    }


def adapt(*resources: dict[str, Any], **ctx: Any) -> AdaptedRequest:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    index = ResourceIndex.from_bundle(bundle)
    patient = next((x for x in index.of_type("Patient")), None)
    coverage = next((x for x in index.of_type("Coverage")), None)
    order = next((x for x in index.of_type("MedicationRequest") if x.id == "order"), None)
    defaults: dict[str, Any] = dict(
        request_id="T-1",
        request_id_source="Bundle.id",
        submitted_at=datetime(2026, 11, 2, tzinfo=UTC),
        submitted_at_source="Bundle.timestamp",
        hcpcs="J9354",
        hcpcs_source="Bundle",
        request_type="initiation",
        patient=patient,
        coverage=coverage,
        order=order,
        not_history=frozenset({order.path}) if order else frozenset(),
    )
    return to_request(index, OrderContext(**{**defaults, **ctx}))


PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1968-03-14"}


def kinds(adapted: AdaptedRequest) -> list[tuple[str, str]]:
    return [(i.kind, i.expression) for i in adapted.issues]


def test_her2_ihc_scores_pass_through_and_conflicts_stay_separate_entries() -> None:
    adapted = adapt(
        PATIENT,
        obs("a", "85319-2", valueString="3+"),
        obs("b", "18474-7", "2026-10-02", valueCodeableConcept=cc(LOINC, "LA11842-4")),
    )
    assert adapted.request is not None and adapted.request.her2 is not None
    assert [(t.score, str(t.date)) for t in adapted.request.her2.ihc] == [
        ("2+", "2026-10-02"),
        ("3+", "2026-09-18"),
    ]
    facts = extract_facts(adapted.request)
    assert "her2.ihc_score" in facts.conflicts  # the engine surfaces it for the reviewer


def test_qualitative_her2_is_reported_not_turned_into_a_score() -> None:
    adapted = adapt(
        PATIENT,
        obs("a", "85319-2", valueCodeableConcept=cc(SNOMED, "10828004")),
        obs("b", "48676-1", valueCodeableConcept=cc(LOINC, "LA6576-8", "Positive")),
    )
    assert adapted.request is not None and adapted.request.her2 is None
    assert ("not-usable", "Bundle.entry[1].resource.valueCodeableConcept.coding[0]") in kinds(
        adapted
    )
    assert any(
        "overall HER2 interpretation reported as positive" in i.message for i in adapted.issues
    )


def test_an_unknown_ihc_answer_code_is_reported_as_unrecognized() -> None:
    adapted = adapt(PATIENT, obs("a", "85319-2", valueCodeableConcept=cc(LOINC, "LA99999-9")))
    assert adapted.request is not None and adapted.request.her2 is None
    issue = next(i for i in adapted.issues if i.kind == "unrecognized-coding")
    assert issue.coding == "http://loinc.org|LA99999-9"
    assert issue.expression.endswith("valueCodeableConcept.coding[0]")


def test_a_her2_test_with_a_code_that_does_not_exist_is_reported() -> None:
    wrong = {
        **obs("a", "34566"),
        "code": {
            "coding": [
                {
                    "system": LOINC,
                    "code": "34566",
                    "display": "HER2 [Presence] in Breast cancer specimen",
                }
            ]
        },
        "valueString": "3+",
    }
    adapted = adapt(PATIENT, wrong)
    assert adapted.request is not None and adapted.request.her2 is None
    assert [i.coding for i in adapted.issues if i.kind == "unrecognized-coding"] == [
        "http://loinc.org|34566 (HER2 [Presence] in Breast cancer specimen)"
    ]


def test_ish_ratio_and_copy_number_on_one_specimen_form_one_result() -> None:
    spec = {"specimen": {"reference": "Specimen/s1"}}
    adapted = adapt(
        PATIENT,
        obs("r", "49683-6", valueQuantity={"value": 1.8}, **spec),
        obs("c", "74860-8", valueQuantity={"value": 6.4}, **spec),
        obs("i", "85319-2", valueString="2+", **spec),
    )
    assert adapted.request is not None and adapted.request.her2 is not None
    (ish,) = adapted.request.her2.ish
    assert (str(ish.ratio), str(ish.copy_number), ish.specimen_id) == ("1.8", "6.4", "Specimen/s1")
    assert extract_facts(adapted.request).get("her2.concurrent") is True


def test_serum_her2_is_not_tissue_status() -> None:
    adapted = adapt(PATIENT, obs("s", "42914-2", valueQuantity={"value": 20}))
    assert adapted.request is not None and adapted.request.her2 is None
    assert any("serum HER2" in i.message for i in adapted.issues)


@pytest.mark.parametrize(("code", "unit"), [("kg", "kg"), ("[lb_av]", "lb")])
def test_latest_body_weight_in_kg_or_pounds(code: str, unit: str) -> None:
    adapted = adapt(
        PATIENT,
        obs("w1", "29463-7", "2026-01-01", valueQuantity={"value": 90, "code": code}),
        obs("w2", "29463-7", "2026-10-30", valueQuantity={"value": 68.5, "code": code}),
    )
    assert adapted.request is not None and adapted.request.body_weight is not None
    w = adapted.request.body_weight
    assert (str(w.value), w.unit, str(w.date)) == ("68.5", unit, "2026-10-30")


@pytest.mark.parametrize(
    ("second", "used"),
    [
        (("2026-10-30", 120), None),  # the same day, another weight: neither is used
        ((None, 120), None),  # undated: it may be the current one
        (("2026-10-30", 68.5), "68.5"),  # the same weight twice agrees with itself
        (("2026-01-01", 120), "68.5"),  # an earlier weight is history
    ],
)
def test_body_weights_as_recent_must_agree(
    second: tuple[str | None, float], used: str | None
) -> None:
    """A flat dose within the limit for one weight and over it for the other: the adapter does
    not choose; the engine asks for the weight, and the conflict is reported."""
    day, value = second
    other = obs("w2", "29463-7", day or "", valueQuantity={"value": value, "code": "kg"})
    if day is None:
        del other["effectiveDateTime"]
    adapted = adapt(
        PATIENT,
        obs("w1", "29463-7", "2026-10-30", valueQuantity={"value": 68.5, "code": "kg"}),
        other,
    )
    assert adapted.request is not None
    weight = adapted.request.body_weight
    assert (None if weight is None else str(weight.value)) == used
    conflicts = [i for i in adapted.issues if "report different values" in i.message]
    assert bool(conflicts) == (used is None)


@pytest.mark.parametrize(
    ("subject", "used"),
    [
        ({"reference": "Patient/p1"}, True),  # the member
        ({"reference": "https://ehr.example/fhir/Patient/p1"}, True),  # the member, absolute
        (None, True),  # nothing says it is another patient's
        ({"reference": "Patient/p2"}, False),  # another patient, not sent
        ({"reference": "Patient/p3"}, False),  # another patient, sent with the Bundle
        ({"reference": "Group/cohort"}, False),  # relabelled: a group is not the member
        ({"reference": "Device/analyzer"}, False),
        ({"identifier": {"value": "FB100234"}}, True),  # no reference: nothing says whose
    ],
)
def test_a_result_about_another_patient_is_not_the_members(
    subject: dict[str, str] | None, used: bool
) -> None:
    """A HER2 score and a weight sent with the Bundle but about another patient would decide the
    member's request on someone else's results: they are reported and not read."""
    ihc = obs("ihc", "85319-2", valueString="3+")
    weight = obs("w", "29463-7", "2026-10-30", valueQuantity={"value": 68.5, "code": "kg"})
    for resource in (ihc, weight):
        if subject is not None:
            resource["subject"] = subject
    other = {"resourceType": "Patient", "id": "p3", "birthDate": "1950-01-01"}
    adapted = adapt(PATIENT, ihc, weight, other)
    assert adapted.request is not None
    assert (adapted.request.body_weight is not None) is used
    assert (adapted.request.her2 is not None) is used
    about_another = [e for k, e in kinds(adapted) if k == "not-usable" and e.endswith("subject")]
    assert about_another == (
        [] if used else ["Bundle.entry[1].resource.subject", "Bundle.entry[2].resource.subject"]
    )


@pytest.mark.parametrize(
    ("status", "used"),
    [
        ("final", True),
        ("amended", True),
        ("corrected", True),
        ("preliminary", False),
        ("registered", False),
        ("unknown", False),
    ],
)
def test_only_a_final_result_is_decided_on(status: str, used: bool) -> None:
    ihc = {**obs("ihc", "85319-2", valueString="3+"), "status": status}
    adapted = adapt(PATIENT, ihc)
    assert adapted.request is not None
    assert (adapted.request.her2 is not None) is used
    assert (("not-usable", "Bundle.entry[1].resource.status") in kinds(adapted)) is not used


def test_a_weight_in_an_unknown_unit_is_not_used() -> None:
    adapted = adapt(PATIENT, obs("w", "29463-7", valueQuantity={"value": 68.5, "code": "g"}))
    assert adapted.request is not None and adapted.request.body_weight is None
    assert kinds(adapted) == [("not-usable", "Bundle.entry[1].resource.valueQuantity")]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("271299001", "progressed"),
        ("359746009", "stable"),
        ("268910001", "improved"),
        ("709137006", "undetermined"),
    ],
)
def test_mcode_disease_status(code: str, status: str) -> None:
    adapted = adapt(PATIENT, obs("d", "97509-4", valueCodeableConcept=cc(SNOMED, code)))
    assert adapted.request is not None
    assert adapted.request.disease_status_on_treatment == status


def test_a_remission_status_outside_the_trend_values_is_reported() -> None:
    adapted = adapt(
        PATIENT, obs("d", "97509-4", valueCodeableConcept=cc(SNOMED, "550991000124107"))
    )
    assert adapted.request is not None and adapted.request.disease_status_on_treatment is None
    assert kinds(adapted)[0][0] == "unrecognized-coding"


def variant(gene: str, present: str) -> dict[str, Any]:
    return obs(
        "v",
        "69548-6",
        valueCodeableConcept=cc(LOINC, present),
        component=[
            {
                "code": cc(LOINC, "48018-6"),
                "valueCodeableConcept": cc("http://www.genenames.org", gene),
            },
            {
                "code": cc(LOINC, "48005-3"),
                "valueCodeableConcept": cc("http://varnomen.hgvs.org", "p.Tyr772_Ala775dup"),
            },
        ],
    )


def test_erbb2_variant_from_mcode_genomic_variant() -> None:
    adapted = adapt(PATIENT, variant("HGNC:3430", "LA9633-4"))
    assert adapted.request is not None and adapted.request.erbb2_mutation is not None
    assert adapted.request.erbb2_mutation.status == "positive"
    assert adapted.request.erbb2_mutation.variant == "p.Tyr772_Ala775dup"


def test_a_variant_in_another_gene_says_nothing_about_erbb2() -> None:
    adapted = adapt(PATIENT, variant("HGNC:26144", "LA9633-4"))
    assert adapted.request is not None and adapted.request.erbb2_mutation is None
    assert adapted.issues == ()


def condition(code: str, system: str = ICD) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": code, "code": cc(system, code)}


def test_brain_metastases_and_metastatic_disease_from_conditions() -> None:
    adapted = adapt(PATIENT, condition("94225005", SNOMED), condition("C78.01"))
    assert adapted.request is not None and adapted.request.brain_metastases is not None
    assert adapted.request.brain_metastases.present is True
    assert adapted.request.disease_extent == ["metastatic"]
    assert adapted.request.diagnoses is None  # context, not what the request states


def test_stated_diagnoses_come_from_the_order_reason() -> None:
    order = _order(
        reasonCode=[cc(ICD, "C50.912"), cc(SNOMED, "254837009"), cc(SNOMED, "1234")],
        dosageInstruction=[
            {
                "timing": {
                    "repeat": {
                        "frequency": 1,
                        "period": 3,
                        "periodUnit": "wk",
                        "boundsPeriod": {"start": "2026-11-09"},
                    }
                },
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 3.6,
                            "code": "mg/kg",
                            "system": "http://unitsofmeasure.org",
                        }
                    }
                ],
            }
        ],
    )
    adapted = adapt(PATIENT, order)
    r = adapted.request
    assert r is not None and r.medication.dose is not None
    assert r.diagnoses == ["C50.912"] and r.indications == ["breast_cancer"]
    assert (str(r.medication.dose.value), r.medication.dose.unit) == ("3.6", "mg/kg")
    assert (r.medication.interval_days, str(r.medication.start_date)) == (21, "2026-11-09")
    assert [i.coding for i in adapted.issues if i.kind == "unrecognized-coding"] == [
        "http://snomed.info/sct|1234"
    ]


def _order(**fields: Any) -> dict[str, Any]:
    """An active Kadcyla order (RxNorm) for the patient, with ``fields`` added."""
    return {
        "resourceType": "MedicationRequest",
        "id": "order",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": cc(RXNORM, "1371041"),
        "subject": {"reference": "Patient/p1"},
        **fields,
    }


def _dosage(value: float, unit: str = "mg/kg", weeks: int = 3) -> dict[str, Any]:
    return {
        "timing": {"repeat": {"frequency": 1, "period": weeks, "periodUnit": "wk"}},
        "doseAndRate": [{"doseQuantity": {"value": value, "code": unit}}],
    }


@pytest.mark.parametrize(
    ("dosages", "dose"),
    [
        ([_dosage(3.6)], "3.6"),
        ([_dosage(3.6), _dosage(3.6)], "3.6"),  # the same instruction twice
        ([_dosage(3.6), _dosage(10, weeks=1)], None),  # a second, higher phase: not one dose
        (
            [
                {
                    **_dosage(3.6),
                    "doseAndRate": [*_dosage(3.6)["doseAndRate"], *_dosage(8)["doseAndRate"]],
                }
            ],
            None,
        ),
    ],
)
def test_an_order_of_several_different_doses_is_not_read_as_its_first(
    dosages: list[dict[str, Any]], dose: str | None
) -> None:
    """Reading the first of 3.6 mg/kg every 3 weeks and 10 mg/kg weekly would approve an order
    whose second phase no reviewer would: the dose is asked for, and the adapter says why."""
    order = _order(dosageInstruction=dosages)
    adapted = adapt(PATIENT, order)
    assert adapted.request is not None
    got = adapted.request.medication.dose
    assert (None if got is None else str(got.value)) == dose
    several = [i for i in adapted.issues if "several different" in i.message]
    assert bool(several) == (dose is None)


def test_prior_therapies_listed_by_drug_and_kadcyla_administrations_become_one_course() -> None:
    def given(mid: str, when: str) -> dict[str, Any]:
        return {
            "resourceType": "MedicationAdministration",
            "id": mid,
            "status": "completed",
            "medicationCodeableConcept": cc(RXNORM, "1371046"),
            "effectiveDateTime": when,
        }

    statement = {
        "resourceType": "MedicationStatement",
        "id": "s",
        "status": "active",
        "medicationCodeableConcept": cc(RXNORM, "56946", "PACLitaxel"),
        "effectivePeriod": {"start": "2025-01-10"},
    }
    adapted = adapt(PATIENT, given("a1", "2026-01-05"), given("a2", "2026-03-20"), statement)
    assert adapted.request is not None and adapted.request.prior_therapies is not None
    records = [
        (p.drug, str(p.start_date), str(p.end_date), p.reason_stopped)
        for p in adapted.request.prior_therapies
    ]
    assert records == [
        ("PACLitaxel", "2025-01-10", "None", "ongoing"),
        ("ado-trastuzumab emtansine", "2026-01-05", "2026-03-20", None),
    ]
    assert [i.kind for i in adapted.issues] == ["unrecognized-coding"]


@pytest.mark.parametrize(
    ("system", "code", "line"),
    [
        ("https://nahdo.org/sopt", "111", "medicare_advantage"),
        ("https://nahdo.org/sopt", "122", "medicare_part_d"),
        ("https://medpolicy.dev/fhir/CodeSystem/line-of-business", "fep", "fep"),
    ],
)
def test_line_of_business_from_coverage_type(system: str, code: str, line: str) -> None:
    coverage = {
        "resourceType": "Coverage",
        "id": "c",
        "status": "active",
        "type": cc(system, code),
        "subscriberId": "FB1",
        "beneficiary": {"reference": "Patient/p1"},
        "payor": [{"display": "x"}],
    }
    adapted = adapt(PATIENT, coverage)
    assert adapted.request is not None
    assert adapted.request.member.line_of_business == line
    assert adapted.request.member.id == "FB1"


def test_an_unmapped_coverage_type_is_reported_and_left_for_the_engine_to_ask() -> None:
    coverage = {
        "resourceType": "Coverage",
        "id": "c",
        "status": "active",
        "type": cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "EHCPOL"),
        "beneficiary": {"reference": "Patient/p1"},
        "payor": [{"display": "x"}],
    }
    adapted = adapt(PATIENT, coverage)
    assert adapted.request is not None and adapted.request.member.line_of_business is None
    assert kinds(adapted)[0] == ("unrecognized-coding", "Bundle.entry[1].resource.type.coding[0]")


def test_an_unstated_request_type_is_an_assumption_said_out_loud() -> None:
    adapted = adapt(PATIENT, request_type=None)
    assert adapted.request is not None and adapted.request.request_type == "initiation"
    assert kinds(adapted) == [("assumption", "Bundle")]


def test_validation_problems_point_at_the_fhir_element() -> None:
    adapted = adapt(
        PATIENT,
        obs("w", "29463-7", valueQuantity={"value": 1200, "code": "kg"}),
        obs("i", "85319-2", "2027-01-01", valueString="3+"),
    )
    assert adapted.request is None
    where = {p.field: p.expression for p in adapted.problems}
    assert where == {
        "body_weight.value": "Bundle.entry[1].resource.valueQuantity",
        "her2.ihc[0].date": "Bundle.entry[2].resource",
    }


def test_contained_and_urn_references_resolve() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "x"}},
            {
                "fullUrl": "https://ehr/fhir/Condition/c",
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "m",
                    "contained": [{"resourceType": "Medication", "id": "med"}],
                },
            },
        ],
    }
    index = ResourceIndex.from_bundle(bundle)
    order = index.of_type("MedicationRequest")[0]
    assert index.resolve({"reference": "urn:uuid:1"}) == index.of_type("Patient")[0]
    found = index.resolve({"reference": "#med"}, order)
    assert isinstance(found, Located) and found.path.endswith("contained[0]")
    assert index.resolve({"reference": "https://other/fhir/Patient/x/_history/2"}) is not None


@pytest.mark.parametrize("gender", ["female", "male", "other", "unknown"])
def test_the_patients_gender_is_the_members_sex(gender: str) -> None:
    adapted = adapt({**PATIENT, "gender": gender})
    assert adapted.request is not None and adapted.request.member.sex == gender
    assert adapt(PATIENT).request.member.sex is None  # type: ignore[union-attr]


def test_the_orders_requester_is_the_prescriber() -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "dr",
        "identifier": [
            {"system": "http://example.org/staff", "value": "77"},
            {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"},
        ],
        "name": [{"family": "Ortiz", "given": ["Ana"]}],
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "order",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "requester": {"reference": "Practitioner/dr"},
    }
    adapted = adapt(PATIENT, practitioner, order)
    assert adapted.request is not None and adapted.request.prescriber is not None
    assert adapted.request.prescriber.name == "Ana Ortiz"
    assert adapted.request.prescriber.npi == "1234567893"
    without = adapt(PATIENT, {**order, "requester": {"reference": "Organization/x"}})
    assert without.request is not None and without.request.prescriber is None
