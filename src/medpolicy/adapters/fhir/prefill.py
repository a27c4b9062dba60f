"""Prefill for the generated Questionnaire: SDC x-fhir-query variables and FHIRPath initial
expressions, so an EHR can answer from its own data without a CQL engine.

Only facts with a direct, exact FHIRPath over standard codes are prefilled (facts.md §5 codes);
the rest are for the provider's office to answer. Each entry is data: a variable (query) and the
FHIRPath that reads the answer from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medpolicy.adapters.fhir import codes as c

__all__ = ["LOINC_FOR_FACT", "initial_expression", "root_extensions"]

_LAUNCH = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-launchContext"
_VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
_INITIAL = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression"
_PATIENT = "patient={{%patient.id}}"

# The LOINC concept each question asks about (Questionnaire.item.code), facts.md §5.2.
LOINC_FOR_FACT: Mapping[str, tuple[str, str]] = {
    "body_weight.kg": ("29463-7", "Body weight"),
    "her2.ihc_score": ("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain"),
    "her2.ish_ratio": (
        "49683-6",
        "ERBB2 gene copy number/Chromosome 17 copy number in Tissue by FISH",
    ),
    "her2.ish_copy_number": ("74860-8", "ERBB2 gene copy number/nucleus in Tissue by FISH"),
    "erbb2_mutation.status": ("69548-6", "Genetic variant assessment"),
    "disease_status_on_treatment": ("97509-4", "Cancer disease progression"),
}

_IHC_CODES = ",".join(f"{c.System.LOINC}|{code}" for code in sorted(c.HER2_IHC))
_LATEST = "&_sort=-date&_count=1"
_VARIABLES: Mapping[str, str] = {
    "bodyWeight": f"Observation?{_PATIENT}&code=http://loinc.org|29463-7{_LATEST}",
    "her2Ihc": f"Observation?{_PATIENT}&code={_IHC_CODES}{_LATEST}",
    "her2Ratio": f"Observation?{_PATIENT}&code=http://loinc.org|49683-6&_sort=-date&_count=1",
    "her2Copies": f"Observation?{_PATIENT}&code=http://loinc.org|74860-8&_sort=-date&_count=1",
    "diseaseStatus": f"Observation?{_PATIENT}&code=http://loinc.org|97509-4&_sort=-date&_count=1",
    "variants": f"Observation?{_PATIENT}&code=http://loinc.org|69548-6",
    "conditions": f"Condition?{_PATIENT}&clinical-status=active",
}

# The IHC score as the record words it: a string ("3+"), a CodeableConcept's text, or a LOINC
# answer code the adapters understand (codes.HER2_IHC_ANSWERS); the same table reads it back.
_IHC_ANSWERS = " | ".join(
    f"value.ofType(CodeableConcept).coding.where(system = '{system}' and code = '{code}')"
    f".select('{score}')"
    for (system, code), score in sorted(c.HER2_IHC_ANSWERS.items())
)
_IHC_SCORE = (
    "%her2Ihc.entry.resource.select(value.ofType(string) | value.ofType(CodeableConcept).text"
    f" | {_IHC_ANSWERS}).first()"
)
# LHC-Forms (40.1.3) never settles on a Quantity initial value for a quantity item with unit
# options (its item value is the number, compared with the Quantity on every pass): the weight is
# prefilled as a number in the item's first unit option, kg, converted exactly from pounds.
_POUND_KG = "0.45359237"
_WEIGHT_KG = (
    "%bodyWeight.entry.resource.value.ofType(Quantity).select(iif(code = 'kg', value, "
    f"iif(code = '[lb_av]', (value * {_POUND_KG}).round(9), {{}}))).first()"
)

_EXPRESSIONS: Mapping[str, str] = {
    "body_weight.kg": _WEIGHT_KG,
    "her2.ihc_score": "%questionnaire.repeat(item).where(linkId = 'her2.ihc_score')"
    f".answerOption.valueCoding.where(code = {_IHC_SCORE})",
    "her2.ish_ratio": "%her2Ratio.entry.resource.value.ofType(Quantity).value.first()",
    "her2.ish_copy_number": "%her2Copies.entry.resource.value.ofType(Quantity).value.first()",
    "disease_status_on_treatment": "%diseaseStatus.entry.resource.value.ofType(CodeableConcept)"
    ".coding.where(system = 'http://snomed.info/sct').first()",
    "erbb2_mutation.status": "%variants.entry.resource.where(component.where(code.coding.code = "
    "'48018-6' and value.ofType(CodeableConcept).coding.code = "
    "'HGNC:3430').exists()).value.ofType(CodeableConcept).coding"
    ".where(system = 'http://loinc.org').first()",
    "diagnoses": "%conditions.entry.resource.code.coding"
    ".where(system = 'http://hl7.org/fhir/sid/icd-10-cm')",
}


def root_extensions() -> list[dict[str, Any]]:
    launch = {
        "url": _LAUNCH,
        "extension": [
            {
                "url": "name",
                "valueCoding": {
                    "system": "http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext",
                    "code": "patient",
                },
            },
            {"url": "type", "valueCode": "Patient"},
            {"url": "description", "valueString": "The member the prior authorization is for"},
        ],
    }
    variables = [
        {
            "url": _VARIABLE,
            "valueExpression": {
                "name": name,
                "language": "application/x-fhir-query",
                "expression": query,
            },
        }
        for name, query in _VARIABLES.items()
    ]
    return [launch, *variables]


def initial_expression(fact: str) -> dict[str, Any] | None:
    expression = _EXPRESSIONS.get(fact)
    if expression is None:
        return None
    return {
        "url": _INITIAL,
        "valueExpression": {"language": "text/fhirpath", "expression": expression},
    }
