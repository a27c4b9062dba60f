"""How each fact's answer choices are coded in the DTR Questionnaire and read back from a response.

One table serves both directions, so the generated answer options and the response reader cannot
drift apart. Where a standard code exists for a choice it is used (SNOMED for disease status, the
LOINC present/absent answers for a variant), so an EHR can prefill from its own coded data;
otherwise the choice is coded in a medpolicy system named after the fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medpolicy.adapters.fhir.codes import System, is_system

__all__ = ["choice_coding", "choice_from_coding", "choice_system", "indication_system"]

_STANDARD: Mapping[str, Mapping[str, tuple[str, str, str]]] = {
    "disease_status_on_treatment": {
        "progressed": (System.SNOMED, "271299001", "Patient's condition worsened (finding)"),
        "stable": (System.SNOMED, "359746009", "Patient's condition stable (finding)"),
        "improved": (System.SNOMED, "268910001", "Patient's condition improved (finding)"),
        "undetermined": (System.SNOMED, "709137006", "Patient condition undetermined (finding)"),
    },
    "erbb2_mutation.status": {
        "positive": (System.LOINC, "LA9633-4", "Present"),
        "negative": (System.LOINC, "LA9634-2", "Absent"),
    },
}
_WORDS: Mapping[str, str] = {
    "0": "0",
    "1+": "1+",
    "2+": "2+",
    "3+": "3+",
    "1": "Category 1",
    "2A": "Category 2A",
    "2B": "Category 2B",
    "3": "Category 3",
    "none": "None",
    "florida_blue": "Florida Blue",
    "other": "Another health plan",
}


def choice_system(fact: str) -> str:
    return f"{System.MEDPOLICY}/CodeSystem/{fact}"


def indication_system(policy_id: str) -> str:
    return f"{System.MEDPOLICY}/CodeSystem/{policy_id}-indications"


def _display(choice: str) -> str:
    return _WORDS.get(choice) or choice.replace("_", " ").capitalize()


def choice_coding(fact: str, choice: str) -> dict[str, str]:
    standard = _STANDARD.get(fact, {}).get(choice)
    if standard:
        return {"system": standard[0], "code": standard[1], "display": standard[2]}
    return {"system": choice_system(fact), "code": choice, "display": _display(choice)}


def choice_from_coding(fact: str, coding: Any) -> str | None:
    """The fact's choice an answer coding stands for, or None when it is not one of them."""
    if not isinstance(coding, dict):
        return None
    system, code = coding.get("system"), coding.get("code")
    for choice, (s, k, _) in _STANDARD.get(fact, {}).items():
        if is_system(system, s) and code == k:
            return choice
    if system == choice_system(fact) and isinstance(code, str):
        return code
    return None
