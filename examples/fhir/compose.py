"""Compose the Kadcyla FHIR examples in this folder (PAS Bundles, CRD hook requests, DTR input).

The examples follow the shapes of the published Da Vinci PAS 2.x, CRD and DTR examples and carry
mCODE (STU4) oncology data. They are written by this script so that every example stays valid
and consistent with the others; the JSON files are committed so they can be read and sent as is.

    .venv/bin/python examples/fhir/compose.py          # rewrite the JSON files
    .venv/bin/python examples/fhir/compose.py --check  # exit 1 if any file is out of date

``expected.json`` lists, for every request example, the outcome and X12 review action (or CRD
coverage assertion) the service returns; ``tests/fhir/test_examples.py`` holds it to that.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASE = "https://ehr.tampa-oncology.example/fhir"
PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
LOB = "https://medpolicy.dev/fhir/CodeSystem/line-of-business"
SOPT = "https://nahdo.org/sopt"
QUESTIONNAIRE = "https://medpolicy.dev/fhir/Questionnaire/09-J1000-90"
CREATED = "2026-11-02T14:30:00-05:00"
JSON = dict[str, Any]


def cc(system: str, code: str, display: str | None = None) -> JSON:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def ref(resource: JSON) -> JSON:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


# -- the people and organisations --------------------------------------------------------------

PATIENT = {
    "resourceType": "Patient",
    "id": "kadcyla-member-1",
    "meta": {"profile": [f"{PAS}profile-beneficiary"]},
    "identifier": [{"system": "https://floridablue.example/member-id", "value": "FB100234"}],
    "name": [{"family": "RIVERA", "given": ["ANA"]}],
    "gender": "female",
    "birthDate": "1968-03-14",
    "address": [
        {
            "line": ["415 BAYSHORE BLVD"],
            "city": "TAMPA",
            "state": "FL",
            "postalCode": "33606",
            "country": "US",
        }
    ],
}
REQUESTOR = {
    "resourceType": "Organization",
    "id": "tampa-oncology",
    "meta": {"profile": [f"{PAS}profile-requestor"]},
    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1497758544"}],
    "active": True,
    "type": [cc("https://codesystem.x12.org/005010/98", "X3")],
    "name": "TAMPA ONCOLOGY ASSOCIATES",
    "address": [
        {
            "line": ["2901 W SWANN AVE"],
            "city": "TAMPA",
            "state": "FL",
            "postalCode": "33609",
            "country": "US",
        }
    ],
}
INSURER = {
    "resourceType": "Organization",
    "id": "florida-blue",
    "meta": {"profile": [f"{PAS}profile-insurer"]},
    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
    "active": True,
    "type": [cc("https://codesystem.x12.org/005010/98", "PR")],
    "name": "FLORIDA BLUE",
}
ONCOLOGIST = {
    "resourceType": "Practitioner",
    "id": "dr-okafor",
    "meta": {"profile": [f"{PAS}profile-practitioner"]},
    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1598765432"}],
    "name": [{"family": "OKAFOR", "given": ["CHIOMA"], "prefix": ["DR"]}],
}


def coverage(line: tuple[str, str, str]) -> JSON:
    return {
        "resourceType": "Coverage",
        "id": "kadcyla-coverage-1",
        "meta": {"profile": [f"{PAS}profile-coverage"]},
        "identifier": [
            {
                "type": cc("http://terminology.hl7.org/CodeSystem/v2-0203", "MB"),
                "system": "https://floridablue.example/member-id",
                "value": "FB100234",
            }
        ],
        "status": "active",
        "type": cc(*line),
        "subscriberId": "FB100234",
        "beneficiary": ref(PATIENT),
        "relationship": cc("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self"),
        "payor": [ref(INSURER)],
        "class": [
            {
                "type": cc("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
                "value": "BLUEOPTIONS-05102",
                "name": "BlueOptions",
            }
        ],
    }


COMMERCIAL = (LOB, "commercial", "Commercial")
MEDICARE_ADVANTAGE = (SOPT, "111", "Medicare HMO")
FEP = (LOB, "fep", "Federal Employee Program")


# -- mCODE clinical data ---------------------------------------------------------------------


def condition(cid: str, code: str, display: str, secondary: bool = False) -> JSON:
    profile = "mcode-secondary-cancer-condition" if secondary else "mcode-primary-cancer-condition"
    return {
        "resourceType": "Condition",
        "id": cid,
        "meta": {"profile": [f"{MCODE}{profile}"]},
        "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
        "verificationStatus": cc(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
        ),
        "category": [
            cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")
        ],
        "code": cc(ICD10, code, display),
        "subject": ref(PATIENT),
        "recordedDate": "2026-08-20",
    }


def observation(
    oid: str,
    code: str,
    display: str,
    when: str,
    value: JSON,
    profile: str = "mcode-tumor-marker-test",
    **more: Any,
) -> JSON:
    category = "vital-signs" if code == "29463-7" else "laboratory"
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"profile": [f"{MCODE}{profile}" if "/" not in profile else profile]},
        "status": "final",
        "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category", category)],
        "code": cc(LOINC, code, display),
        "subject": ref(PATIENT),
        "effectiveDateTime": when,
        **value,
        **more,
    }


def her2_ihc(oid: str, when: str, value: JSON, specimen: str | None = None) -> JSON:
    more = {"specimen": {"reference": f"Specimen/{specimen}"}} if specimen else {}
    return observation(
        oid,
        "85319-2",
        "HER2 [Presence] in Breast cancer specimen by Immune stain",
        when,
        value,
        **more,
    )


def her2_ish(oid: str, when: str, ratio: float, copies: float, specimen: str) -> list[JSON]:
    spec = {"specimen": {"reference": f"Specimen/{specimen}"}}
    return [
        observation(
            f"{oid}-ratio",
            "49683-6",
            "ERBB2 gene copy number/Chromosome 17 copy number in Tissue by FISH",
            when,
            {"valueQuantity": {"value": ratio, "system": UCUM, "code": "{ratio}"}},
            **spec,
        ),
        observation(
            f"{oid}-copies",
            "74860-8",
            "ERBB2 gene copy number/nucleus in Tissue by FISH",
            when,
            {
                "valueQuantity": {
                    "value": copies,
                    "unit": "signals/nucleus",
                    "system": UCUM,
                    "code": "{#}/{nucleus}",
                }
            },
            **spec,
        ),
    ]


def body_weight(value: float, unit: str = "kg", when: str = "2026-10-30") -> JSON:
    return observation(
        "weight-2026-10-30",
        "29463-7",
        "Body weight",
        when,
        {
            "valueQuantity": {
                "value": value,
                "unit": unit if unit == "kg" else "lb",
                "system": UCUM,
                "code": unit,
            }
        },
        profile="http://hl7.org/fhir/StructureDefinition/bodyweight",
    )


def disease_status(code: str, display: str) -> JSON:
    return observation(
        "disease-status-2026-10-28",
        "97509-4",
        "Cancer disease progression",
        "2026-10-28",
        {"valueCodeableConcept": cc(SNOMED, code, display)},
        profile="mcode-cancer-disease-status",
        focus=[{"reference": "Condition/primary-cancer"}],
    )


def erbb2_variant() -> JSON:
    return observation(
        "erbb2-variant",
        "69548-6",
        "Genetic variant assessment",
        "2026-09-02",
        {"valueCodeableConcept": cc(LOINC, "LA9633-4", "Present")},
        profile="mcode-genomic-variant",
        component=[
            {
                "code": cc(LOINC, "48018-6", "Gene studied [ID]"),
                "valueCodeableConcept": cc("http://www.genenames.org", "HGNC:3430", "ERBB2"),
            },
            {
                "code": cc(LOINC, "48005-3", "Amino acid change (pHGVS)"),
                "valueCodeableConcept": cc("http://varnomen.hgvs.org", "p.Tyr772_Ala775dup"),
            },
            {
                "code": cc(LOINC, "48002-0", "Genomic source class [Type]"),
                "valueCodeableConcept": cc(LOINC, "LA6684-0", "Somatic"),
            },
        ],
    )


def specimen(sid: str) -> JSON:
    return {
        "resourceType": "Specimen",
        "id": sid,
        "subject": ref(PATIENT),
        "accessionIdentifier": {"system": "https://tampa-path.example/accession", "value": sid},
        "type": cc(SNOMED, "122593002", "Tissue specimen obtained from breast"),
    }


def prior_statement(mid: str, rxnorm: str, display: str, start: str, end: str) -> JSON:
    return {
        "resourceType": "MedicationStatement",
        "id": mid,
        "meta": {"profile": [f"{MCODE}mcode-cancer-related-medication-statement"]},
        "status": "completed",
        "medicationCodeableConcept": cc(RXNORM, rxnorm, display),
        "subject": ref(PATIENT),
        "effectivePeriod": {"start": start, "end": end},
    }


def kadcyla_administration(mid: str, when: str, dose_mg: int) -> JSON:
    return {
        "resourceType": "MedicationAdministration",
        "id": mid,
        "meta": {"profile": [f"{MCODE}mcode-cancer-related-medication-administration"]},
        "status": "completed",
        "medicationCodeableConcept": cc(RXNORM, "1371041", "ado-trastuzumab emtansine"),
        "subject": ref(PATIENT),
        "effectiveDateTime": when,
        "dosage": {
            "route": cc(SNOMED, "47625008", "Intravenous route"),
            "dose": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"},
        },
    }


def kadcyla_order(dose: float, unit: str = "mg/kg", reason: list[JSON] | None = None) -> JSON:
    return {
        "resourceType": "MedicationRequest",
        "id": "kadcyla-order",
        "meta": {"profile": [f"{PAS}profile-medicationrequest"]},
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {"system": RXNORM, "code": "1371041", "display": "ado-trastuzumab emtansine"}
            ],
            "text": "Kadcyla (ado-trastuzumab emtansine) for injection",
        },
        "subject": ref(PATIENT),
        "authoredOn": "2026-11-02",
        "requester": ref(ONCOLOGIST),
        "reasonReference": reason or [{"reference": "Condition/primary-cancer"}],
        "dosageInstruction": [
            {
                "text": f"{dose} {unit} IV every 21 days",
                "timing": {
                    "repeat": {
                        "boundsPeriod": {"start": "2026-11-09"},
                        "frequency": 1,
                        "period": 21,
                        "periodUnit": "d",
                    }
                },
                "route": cc(SNOMED, "47625008", "Intravenous route"),
                "doseAndRate": [
                    {"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}
                ],
            }
        ],
    }


# -- the DTR QuestionnaireResponse ---------------------------------------------------------------


def answer(link: str, *values: JSON, items: list[JSON] | None = None) -> JSON:
    out: JSON = {"linkId": link, "answer": list(values)}
    if items:
        out["item"] = items
    return out


def choice(fact: str, code: str, system: str | None = None) -> JSON:
    return {
        "valueCoding": {
            "system": system or f"https://medpolicy.dev/fhir/CodeSystem/{fact}",
            "code": code,
        }
    }


def indication(code: str) -> JSON:
    return choice("", code, "https://medpolicy.dev/fhir/CodeSystem/09-J1000-90-indications")


def questionnaire_response(items: list[JSON]) -> JSON:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": "dtr-response",
        "meta": {
            "profile": [
                "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse"
            ]
        },
        "questionnaire": QUESTIONNAIRE,
        "status": "completed",
        "subject": ref(PATIENT),
        "authored": "2026-11-02T14:10:00-05:00",
        "author": ref(ONCOLOGIST),
        "item": items,
    }


def prior_therapy(drug: str, start: str, end: str, line: int, why: str) -> JSON:
    fact = "prior_therapies.record"
    return {
        "linkId": fact,
        "item": [
            answer(f"{fact}.drug", {"valueString": drug}),
            answer(f"{fact}.start_date", {"valueDate": start}),
            answer(f"{fact}.end_date", {"valueDate": end}),
            answer(f"{fact}.line", {"valueInteger": line}),
            answer(f"{fact}.reason_stopped", choice(f"{fact}.reason_stopped", why)),
        ],
    }


def initiation_answers(ind: str, extent: list[str] | None = None, **more: Any) -> list[JSON]:
    items = [
        answer("request.type", choice("request.type", "initiation")),
        answer("indications", indication(ind)),
    ]
    if extent:
        items.append(answer("disease_extent", *(choice("disease_extent", e) for e in extent)))
    if more.get("monotherapy", True):
        items.append(answer("medication.concurrent_anticancer_drugs.any", {"valueBoolean": False}))
    return items + more.get("extra", [])


# -- the PAS Claim and Bundle ----------------------------------------------------------------------


@dataclass
class Case:
    name: str
    trace: str
    diagnoses: list[tuple[str, str]]
    clinical: list[JSON]
    answers: list[JSON] | None
    line: tuple[str, str, str] = COMMERCIAL
    certification: tuple[str, str] = ("I", "Initial")
    dose: float = 3.6
    extra_items: list[JSON] = field(default_factory=list)
    inquiry: bool = False


def claim(case: Case, order: JSON, qr: JSON | None) -> JSON:
    item = {
        "extension": [
            {
                "url": f"{PAS}extension-itemTraceNumber",
                "valueIdentifier": {
                    "system": "https://tampa-oncology.example/ITEM_TRACE_NUMBER",
                    "value": f"{case.trace}-1",
                },
            },
            {
                "url": f"{PAS}extension-serviceItemRequestType",
                "valueCodeableConcept": cc(
                    "https://codesystem.x12.org/005010/1525", "HS", "Health Services Review"
                ),
            },
            {
                "url": f"{PAS}extension-certificationType",
                "valueCodeableConcept": cc(
                    "https://codesystem.x12.org/005010/1322", *case.certification
                ),
            },
            {"url": f"{PAS}extension-requestedService", "valueReference": ref(order)},
        ],
        "sequence": 1,
        "careTeamSequence": [1],
        "diagnosisSequence": list(range(1, len(case.diagnoses) + 1)),
        "category": cc("https://codesystem.x12.org/005010/1365", "1", "Medical Care"),
        "productOrService": cc(HCPCS, "J9354", "Injection, ado-trastuzumab emtansine, 1 mg"),
        "servicedPeriod": {"start": "2026-11-09", "end": "2027-05-08"},
        "locationCodeableConcept": cc(
            "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
            "11",
        ),
    }
    out: JSON = {
        "resourceType": "Claim",
        "id": f"kadcyla-{case.name}",
        "meta": {
            "profile": [f"{PAS}profile-claim-inquiry" if case.inquiry else f"{PAS}profile-claim"]
        },
        "identifier": [
            {
                "system": "https://tampa-oncology.example/PATIENT_EVENT_TRACE_NUMBER",
                "value": case.trace,
            }
        ],
        "status": "active",
        "type": cc("http://terminology.hl7.org/CodeSystem/claim-type", "professional"),
        "use": "preauthorization",
        "patient": ref(PATIENT),
        "created": CREATED,
        "insurer": ref(INSURER),
        "provider": ref(REQUESTOR),
        "priority": cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
        "careTeam": [{"sequence": 1, "provider": ref(ONCOLOGIST)}],
        "diagnosis": [
            {"sequence": i + 1, "diagnosisCodeableConcept": cc(ICD10, code, display)}
            for i, (code, display) in enumerate(case.diagnoses)
        ],
        "insurance": [{"sequence": 1, "focal": True, "coverage": ref(coverage(case.line))}],
        "item": [item, *case.extra_items],
    }
    if qr is not None and not case.inquiry:
        out["supportingInfo"] = [
            {
                "sequence": 1,
                "category": cc(
                    "http://terminology.hl7.org/CodeSystem/claiminformationcategory", "info"
                ),
                "valueReference": ref(qr),
            }
        ]
    return out


def pas_bundle(case: Case) -> JSON:
    order = kadcyla_order(case.dose)
    qr = questionnaire_response(case.answers) if case.answers is not None else None
    resources = [
        claim(case, order, qr),
        REQUESTOR,
        INSURER,
        coverage(case.line),
        PATIENT,
        ONCOLOGIST,
        order,
    ]
    if not case.inquiry:
        resources += case.clinical + ([qr] if qr else [])
    else:  # an inquiry carries what its Claim reaches: the order's reasons too
        reached = json.dumps(order)
        resources += [r for r in case.clinical if f'"{r["resourceType"]}/{r["id"]}"' in reached]
    profile = "profile-pas-inquiry-request-bundle" if case.inquiry else "profile-pas-request-bundle"
    return {
        "resourceType": "Bundle",
        "id": f"kadcyla-{case.name}",
        "meta": {"profile": [f"{PAS}{profile}"]},
        "identifier": {
            "system": "https://tampa-oncology.example/SUBMITTER_TRANSACTION_IDENTIFIER",
            "value": f"{case.trace}-T",
        },
        "type": "collection",
        "timestamp": CREATED,
        "entry": [
            {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


# -- the cases -----------------------------------------------------------------------------------

BREAST = ("C50.912", "Malignant neoplasm of unspecified site of left female breast")
LUNG_METS = condition(
    "lung-metastases", "C78.01", "Secondary malignant neoplasm of right lung", secondary=True
)
PRIMARY_BREAST = condition("primary-cancer", *BREAST)
HER2_3PLUS = her2_ihc("her2-ihc-2026-09-18", "2026-09-18", {"valueString": "3+"}, "S26-4471")
PRIOR_LINES = [
    prior_statement("prior-trastuzumab", "224905", "trastuzumab", "2025-01-10", "2026-08-01"),
    prior_statement("prior-paclitaxel", "56946", "PACLitaxel", "2025-01-10", "2025-05-01"),
]
PRIOR_ANSWERS = [
    answer("prior_therapies.any", {"valueBoolean": True}),
    prior_therapy("trastuzumab", "2025-01-10", "2026-08-01", 1, "progression"),
    prior_therapy("paclitaxel", "2025-01-10", "2025-05-01", 1, "completion"),
]


def breast(name: str, trace: str, clinical: list[JSON], **kw: Any) -> Case:
    answers = kw.pop("answers", None) or initiation_answers("breast_cancer", extra=PRIOR_ANSWERS)
    return Case(
        name, trace, [BREAST], [PRIMARY_BREAST, LUNG_METS, *PRIOR_LINES, *clinical], answers, **kw
    )


CASES = [
    breast(
        "breast-metastatic-ihc3-approved",
        "PA-FB-2026-1101",
        [HER2_3PLUS, specimen("S26-4471"), body_weight(68.5)],
    ),
    breast(
        "breast-ish-group3-approved",
        "PA-FB-2026-1102",
        [
            her2_ihc(
                "her2-ihc-2026-09-18",
                "2026-09-18",
                {"valueCodeableConcept": cc(LOINC, "LA11842-4", "2+")},
                "S26-5120",
            ),
            specimen("S26-5120"),
            *her2_ish("her2-ish-2026-09-20", "2026-09-18", 1.8, 6.4, "S26-5120"),
            body_weight(74.2),
        ],
        line=MEDICARE_ADVANTAGE,
    ),
    breast("breast-missing-her2-pended", "PA-FB-2026-1103", [body_weight(68.5)]),
    breast(
        "breast-her2-negative-review",
        "PA-FB-2026-1104",
        [
            her2_ihc("her2-ihc-2026-09-18", "2026-09-18", {"valueString": "1+"}, "S26-6001"),
            specimen("S26-6001"),
            *her2_ish("her2-ish-2026-09-18", "2026-09-18", 1.2, 2.1, "S26-6001"),
            body_weight(68.5),
        ],
    ),
    breast(
        "breast-conflicting-ihc-pended",
        "PA-FB-2026-1105",
        [
            HER2_3PLUS,
            specimen("S26-4471"),
            her2_ihc("her2-ihc-2026-10-02", "2026-10-02", {"valueString": "1+"}),
            body_weight(68.5),
        ],
    ),
    breast(
        "breast-dose-over-limit-review",
        "PA-FB-2026-1106",
        [HER2_3PLUS, specimen("S26-4471"), body_weight(68.5)],
        dose=4.2,
    ),
    breast(
        "breast-fep-out-of-scope",
        "PA-FB-2026-1107",
        [HER2_3PLUS, specimen("S26-4471"), body_weight(68.5)],
        line=FEP,
    ),
    Case(
        "cns-brain-metastases-approved",
        "PA-FB-2026-1108",
        [BREAST, ("C79.31", "Secondary malignant neoplasm of brain")],
        [
            PRIMARY_BREAST,
            condition(
                "brain-metastases",
                "C79.31",
                "Secondary malignant neoplasm of brain",
                secondary=True,
            ),
            HER2_3PLUS,
            specimen("S26-4471"),
            body_weight(61.0),
        ],
        initiation_answers(
            "cns_brain_metastases",
            monotherapy=False,
            extra=[answer("brain_metastases.extent", choice("brain_metastases.extent", "limited"))],
        ),
    ),
    Case(
        "nsclc-erbb2-approved",
        "PA-FB-2026-1109",
        [("C34.12", "Malignant neoplasm of upper lobe, left bronchus or lung")],
        [
            condition(
                "primary-cancer",
                "C34.12",
                "Malignant neoplasm of upper lobe, left bronchus or lung",
            ),
            condition(
                "bone-metastases", "C79.51", "Secondary malignant neoplasm of bone", secondary=True
            ),
            erbb2_variant(),
            body_weight(154.3, "[lb_av]"),
        ],
        initiation_answers(
            "nsclc",
            monotherapy=False,
            extra=[answer("medication.line_of_therapy", {"valueInteger": 2})],
        ),
    ),
    Case(
        "salivary-recurrent-approved",
        "PA-FB-2026-1110",
        [("C08.0", "Malignant neoplasm of submandibular gland")],
        [
            condition("primary-cancer", "C08.0", "Malignant neoplasm of submandibular gland"),
            her2_ihc("her2-ihc-2026-09-18", "2026-09-18", {"valueString": "3+"}),
            body_weight(80.0),
        ],
        initiation_answers("salivary_gland_tumor", ["recurrent"], monotherapy=False),
    ),
    Case(
        "other-nccn-2a-approved",
        "PA-FB-2026-1111",
        [("C16.9", "Malignant neoplasm of stomach, unspecified")],
        [
            condition("primary-cancer", "C16.9", "Malignant neoplasm of stomach, unspecified"),
            body_weight(70.0),
        ],
        initiation_answers(
            "other_fda_or_nccn",
            monotherapy=False,
            extra=[answer("compendium.nccn_category", choice("compendium.nccn_category", "2A"))],
        ),
    ),
    Case(
        "continuation-stable-approved",
        "PA-FB-2026-1112",
        [BREAST],
        [
            PRIMARY_BREAST,
            disease_status("359746009", "Patient's condition stable (finding)"),
            kadcyla_administration("kadcyla-dose-1", "2026-05-11", 247),
            kadcyla_administration("kadcyla-dose-9", "2026-10-19", 247),
            body_weight(68.5),
        ],
        [
            answer("request.type", choice("request.type", "continuation")),
            answer("prior_authorizations.any", {"valueBoolean": True}),
            {
                "linkId": "prior_authorizations.record",
                "item": [
                    answer(
                        "prior_authorizations.record.plan",
                        choice("prior_authorizations.record.plan", "florida_blue"),
                    ),
                    answer("prior_authorizations.record.approved_on", {"valueDate": "2026-05-04"}),
                    answer("prior_authorizations.record.drug_hcpcs", {"valueString": "J9354"}),
                    answer("prior_authorizations.record.indication", indication("breast_cancer")),
                ],
            },
        ],
        certification=("R", "Renewal"),
    ),
    Case(
        "continuation-progressed-review",
        "PA-FB-2026-1113",
        [BREAST],
        [
            PRIMARY_BREAST,
            disease_status("271299001", "Patient's condition worsened (finding)"),
            kadcyla_administration("kadcyla-dose-9", "2026-10-19", 247),
            body_weight(68.5),
        ],
        [answer("initiation_criteria_previously_met", {"valueBoolean": True})],
        certification=("R", "Renewal"),
    ),
    breast(
        "mixed-items-kadcyla-and-administration",
        "PA-FB-2026-1114",
        [HER2_3PLUS, specimen("S26-4471"), body_weight(68.5)],
        extra_items=[
            {
                "sequence": 2,
                "productOrService": cc(
                    "http://www.ama-assn.org/go/cpt",
                    "96413",
                    "Chemotherapy administration, intravenous infusion technique; up to 1 hour",
                ),
                "servicedPeriod": {"start": "2026-11-09", "end": "2027-05-08"},
            }
        ],
    ),
    breast("breast-her2-negative-inquiry", "PA-FB-2026-1104", [], inquiry=True),
]


# -- CRD hook requests ---------------------------------------------------------------------------


def searchset(*resources: JSON) -> JSON:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


def draft(order: JSON) -> JSON:
    out = json.loads(json.dumps(order))
    out["status"] = "draft"
    out.pop("meta", None)
    return out


def service_order() -> JSON:
    return {
        "resourceType": "ServiceRequest",
        "id": "kadcyla-infusion",
        "status": "draft",
        "intent": "order",
        "code": cc(HCPCS, "J9354", "Injection, ado-trastuzumab emtansine, 1 mg"),
        "subject": ref(PATIENT),
        "authoredOn": "2026-11-02",
        "requester": ref(ONCOLOGIST),
        "occurrenceDateTime": "2026-11-09",
        "reasonReference": [{"reference": "Condition/primary-cancer"}],
    }


def hook(
    name: str,
    instance: str,
    order: JSON,
    clinical: list[JSON],
    line: tuple[str, str, str],
    answers: list[JSON] | None = None,
) -> JSON:
    context: JSON = {
        "userId": "Practitioner/dr-okafor",
        "patientId": PATIENT["id"],
        "encounterId": "enc-2026-11-02",
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": order}],
        },
    }
    if name == "order-select":
        context["selections"] = [f"{order['resourceType']}/{order['id']}"]
    by_type = {
        t: [r for r in clinical if r["resourceType"] in t]
        for t in (
            ("Condition",),
            ("Observation",),
            ("MedicationStatement", "MedicationAdministration", "MedicationRequest"),
        )
    }
    prefetch: JSON = {
        "patient": PATIENT,
        "coverage": searchset(coverage(line)),
        "conditions": searchset(*by_type[("Condition",)]),
        "observations": searchset(*by_type[("Observation",)]),
        "medicationHistory": searchset(
            *by_type[("MedicationStatement", "MedicationAdministration", "MedicationRequest")]
        ),
        "questionnaireResponses": searchset(
            *([questionnaire_response(answers)] if answers else [])
        ),
    }
    return {
        "hookInstance": instance,
        "fhirServer": BASE,
        "hook": name,
        "context": context,
        "prefetch": prefetch,
    }


def crd_examples() -> dict[str, JSON]:
    clinical = [PRIMARY_BREAST, LUNG_METS, *PRIOR_LINES, HER2_3PLUS, body_weight(68.5)]
    answers = initiation_answers("breast_cancer", extra=PRIOR_ANSWERS)
    order = draft(kadcyla_order(3.6))
    return {
        "crd-order-sign-breast-satisfied": hook(
            "order-sign",
            "9b3a4d1e-6f0c-4c55-9d8e-2f1a7c3b5e01",
            order,
            clinical,
            COMMERCIAL,
            answers,
        ),
        "crd-order-select-breast-conditional": hook(
            "order-select",
            "9b3a4d1e-6f0c-4c55-9d8e-2f1a7c3b5e02",
            order,
            [PRIMARY_BREAST, body_weight(68.5)],
            COMMERCIAL,
        ),
        "crd-order-sign-fep-out-of-scope": hook(
            "order-sign", "9b3a4d1e-6f0c-4c55-9d8e-2f1a7c3b5e03", order, clinical, FEP, answers
        ),
        "crd-order-sign-servicerequest-conditional": hook(
            "order-sign",
            "9b3a4d1e-6f0c-4c55-9d8e-2f1a7c3b5e04",
            service_order(),
            [PRIMARY_BREAST, HER2_3PLUS],
            MEDICARE_ADVANTAGE,
        ),
    }


def dtr_examples() -> dict[str, JSON]:
    order = draft(kadcyla_order(3.6))
    return {
        "dtr-questionnaire-package-input": {
            "resourceType": "Parameters",
            "id": "kadcyla-questionnaire-package-input",
            "meta": {
                "profile": [
                    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"
                    "dtr-qpackage-input-parameters"
                ]
            },
            "parameter": [
                {"name": "coverage", "resource": coverage(COMMERCIAL)},
                {"name": "order", "resource": order},
            ],
        }
    }


# -- expected results ------------------------------------------------------------------------------

EXPECTED: dict[str, JSON] = {
    "pas-breast-metastatic-ihc3-approved": {"outcome": "approved", "action": "A1"},
    "pas-breast-ish-group3-approved": {"outcome": "approved", "action": "A1"},
    "pas-breast-missing-her2-pended": {"outcome": "missing_information", "action": "A4"},
    "pas-breast-her2-negative-review": {"outcome": "not_met", "action": "A4"},
    "pas-breast-conflicting-ihc-pended": {"outcome": "missing_information", "action": "A4"},
    "pas-breast-dose-over-limit-review": {"outcome": "not_met", "action": "A4"},
    "pas-breast-fep-out-of-scope": {"outcome": "out_of_scope", "action": "A4"},
    "pas-cns-brain-metastases-approved": {"outcome": "approved", "action": "A1"},
    "pas-nsclc-erbb2-approved": {"outcome": "approved", "action": "A1"},
    "pas-salivary-recurrent-approved": {"outcome": "approved", "action": "A1"},
    "pas-other-nccn-2a-approved": {"outcome": "approved", "action": "A1"},
    "pas-continuation-stable-approved": {"outcome": "approved", "action": "A1"},
    "pas-continuation-progressed-review": {"outcome": "not_met", "action": "A4"},
    "pas-mixed-items-kadcyla-and-administration": {"outcome": "approved", "actions": ["A1", "A4"]},
    "pas-inquiry-breast-her2-negative-inquiry": {
        "inquires": "pas-breast-her2-negative-review",
        "action": "A3",
        "after": "a clinician reviewer denies the case",
    },
    "crd-order-sign-breast-satisfied": {"covered": "covered", "pa-needed": "satisfied"},
    "crd-order-select-breast-conditional": {"covered": "conditional", "pa-needed": "auth-needed"},
    "crd-order-sign-fep-out-of-scope": {"cards": "instructions", "system_action": False},
    "crd-order-sign-servicerequest-conditional": {
        "covered": "conditional",
        "pa-needed": "auth-needed",
    },
    "dtr-questionnaire-package-input": {"questionnaire": QUESTIONNAIRE},
}


def examples() -> dict[str, JSON]:
    out = {}
    for case in CASES:
        prefix = "pas-inquiry-" if case.inquiry else "pas-"
        out[prefix + case.name] = pas_bundle(case)
    out.update(crd_examples())
    out.update(dtr_examples())
    out["expected"] = EXPECTED
    return out


def render(data: JSON) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, data in examples().items():
        path = HERE / f"{name}.json"
        text = render(data)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run examples/fhir/compose.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
