"""How each fact's answer choices are coded in the DTR Questionnaire and read back from a response.

One table serves both directions, so the generated answer options and the response reader cannot
drift apart: a fact's ``answers:`` in ``catalogue/fhir.yaml``. Where a standard code exists for a
choice it is used (SNOMED for disease status, the LOINC present/absent answers for a variant), so
an EHR can prefill from its own coded data; otherwise the choice is coded in a medpolicy system
named after the fact.
"""

from __future__ import annotations

from typing import Any

from medpolicy.adapters.fhir.codes import System
from medpolicy.adapters.fhir.vocabulary import fhir_mapping

__all__ = ["choice_coding", "choice_from_coding", "choice_system", "indication_system"]


def choice_system(fact: str) -> str:
    return f"{System.MEDPOLICY}/CodeSystem/{fact}"


def indication_system(policy_id: str) -> str:
    return f"{System.MEDPOLICY}/CodeSystem/{policy_id}-indications"


def _display(fact: str, choice: str) -> str:
    words = fhir_mapping().choice_displays
    return (
        words.get(f"{fact}/{choice}") or words.get(choice) or choice.replace("_", " ").capitalize()
    )


def choice_coding(fact: str, choice: str) -> dict[str, str]:
    standard = fhir_mapping().answers.get(fact, {}).get(choice)
    if standard:
        return {"system": standard.system, "code": standard.code, "display": standard.display or ""}
    return {"system": choice_system(fact), "code": choice, "display": _display(fact, choice)}


def choice_from_coding(fact: str, coding: Any) -> str | None:
    """The fact's choice an answer coding stands for, or None when it is not one of them."""
    if not isinstance(coding, dict):
        return None
    system, code = coding.get("system"), coding.get("code")
    for choice, standard in fhir_mapping().answers.get(fact, {}).items():
        if standard.matches(system, code):
            return choice
    if system == choice_system(fact) and isinstance(code, str):
        return code
    return None
