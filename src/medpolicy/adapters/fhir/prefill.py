"""Prefill for the generated Questionnaire: SDC x-fhir-query variables and FHIRPath initial
expressions, so an EHR can answer from its own data without a CQL engine.

Only facts with a direct, exact FHIRPath over standard codes are prefilled (facts.md §5 codes);
the rest are for the provider's office to answer. Each entry is data (``catalogue/fhir.yaml``,
read through ``vocabulary``): a variable (a query over the catalogue's codes for a fact) and the
FHIRPath that reads the answer from it.
"""

from __future__ import annotations

from typing import Any

from medpolicy.adapters.fhir.vocabulary import Coded, fhir_mapping

__all__ = ["initial_expression", "question_code", "root_extensions"]

_LAUNCH = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-launchContext"
_VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
_INITIAL = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression"


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
        for name, query in fhir_mapping().variables.items()
    ]
    return [launch, *variables]


def question_code(fact: str) -> Coded | None:
    """The code of the concept a fact's question asks about (Questionnaire.item.code)."""
    return fhir_mapping().questions.get(fact)


def initial_expression(fact: str) -> dict[str, Any] | None:
    expression = fhir_mapping().prefill.get(fact)
    if expression is None:
        return None
    return {
        "url": _INITIAL,
        "valueExpression": {"language": "text/fhirpath", "expression": expression},
    }
