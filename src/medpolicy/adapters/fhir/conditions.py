"""Conditions -> facts: stated diagnoses (ICD-10-CM), brain metastases, metastatic disease.

The request's diagnoses are those it *states*: the claim's diagnosis list and the order's reason.
Other conditions in the patient's record are clinical context only: a condition the data
(``catalogue/fhir.yaml`` ``conditions:``) says states a fact states it wherever it is, e.g. a
secondary malignant neoplasm shows the disease is metastatic, and brain metastases are reported as
present whatever the order says, so that the engine applies the brain-metastases pathway as well,
as the guideline intends.
"""

from __future__ import annotations

from typing import Any

from medpolicy.adapters.fhir.codes import System, is_system
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.resources import Coding, Located, ResourceIndex, as_list, codings
from medpolicy.adapters.fhir.vocabulary import fhir_mapping

__all__ = ["read_conditions", "read_stated_concept", "read_stated_reference"]

_NOT_A_CONDITION = frozenset({"refuted", "entered-in-error"})


def _verification(condition: Located) -> str | None:
    for cd in codings(condition.resource.get("verificationStatus"), ""):
        return cd.code
    return None


def read_conditions(index: ResourceIndex, draft: Draft) -> None:
    for cond in index.of_type("Condition"):
        if _verification(cond) in _NOT_A_CONDITION:
            continue
        for cd in codings(cond.resource.get("code"), cond.at("code")):
            _clinical_context(cd, draft)


def _clinical_context(cd: Coding, draft: Draft) -> None:
    for rule in fhir_mapping().conditions:
        if not rule.matches(cd.system, cd.code):
            continue
        if not rule.adds:
            draft.set(rule.fact, rule.value, cd.path)
        elif rule.value not in (draft.get(rule.fact) or []):
            draft.append(rule.fact, rule.value, cd.path)


def _system(cd: Coding) -> str | None:
    for system in (System.ICD10CM, System.SNOMED):
        if is_system(cd.system, system):
            return system
    return cd.system


def read_stated_concept(concept: Any, path: str, draft: Draft) -> None:
    """A diagnosis the request states (claim diagnosis, order reason): ICD-10-CM codes become
    the request's diagnoses; a disorder the data says states an indication states it; any other
    coding is reported."""
    indications = fhir_mapping().indications
    for cd in codings(concept, path):
        system = _system(cd)
        indication = indications.get((system or "", cd.code or ""))
        if system == System.ICD10CM and cd.code:
            if cd.code.upper() not in (draft.get("diagnoses") or []):
                draft.append("diagnoses", cd.code.upper(), cd.path)
        elif indication is not None:
            if indication not in (draft.get("indications") or []):
                draft.append("indications", indication, cd.path)
        else:
            draft.unrecognized(cd, "diagnosis")
        _clinical_context(cd, draft)


def read_stated_reference(
    index: ResourceIndex, reference: Any, path: str, draft: Draft, within: Located | None = None
) -> None:
    target = index.resolve(reference, within)
    if target is None:
        draft.report(
            path, "not-usable", f"reference {_ref_text(reference)} is not in what was sent"
        )
        return
    if target.type == "Condition":
        read_stated_concept(target.resource.get("code"), target.at("code"), draft)


def _ref_text(reference: Any) -> str:
    if isinstance(reference, dict):
        return repr(reference.get("reference"))
    return repr(reference)


def stated_in_list(items: Any, key: str, path: str) -> list[tuple[Any, str]]:
    return [
        (item.get(key), f"{path}[{i}].{key}")
        for i, item in enumerate(as_list(items))
        if isinstance(item, dict) and item.get(key) is not None
    ]
