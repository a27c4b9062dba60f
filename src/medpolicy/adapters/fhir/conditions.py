"""Conditions -> facts: stated diagnoses (ICD-10-CM), brain metastases, metastatic disease.

The request's diagnoses are those it *states*: the claim's diagnosis list and the order's reason.
Other conditions in the patient's record are clinical context only: a secondary malignant
neoplasm anywhere in the record shows the disease is metastatic, and brain metastases
(ICD-10-CM C79.31, SNOMED 94225005) are reported as present whatever the order says, so that the
engine applies the brain-metastases pathway as well, as the guideline intends.
"""

from __future__ import annotations

from typing import Any

from medpolicy.adapters.fhir import codes as c
from medpolicy.adapters.fhir.codes import System, is_system
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.resources import Coding, Located, ResourceIndex, as_list, codings

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
    if (_system(cd), cd.code) in c.BRAIN_METASTASES:
        draft.set("brain_metastases.present", True, cd.path)
    code = (cd.code or "").upper()
    if is_system(cd.system, System.ICD10CM) and code.startswith(c.SECONDARY_CANCER_PREFIXES):
        _add_extent("metastatic", cd.path, draft)


def _add_extent(extent: str, path: str, draft: Draft) -> None:
    if extent not in (draft.get("disease_extent") or []):
        draft.append("disease_extent", extent, path)


def _system(cd: Coding) -> str | None:
    for system in (System.ICD10CM, System.SNOMED):
        if is_system(cd.system, system):
            return system
    return cd.system


def read_stated_concept(concept: Any, path: str, draft: Draft) -> None:
    """A diagnosis the request states (claim diagnosis, order reason): ICD-10-CM codes become
    the request's diagnoses; a SNOMED disorder in the table states the indication; any other
    coding is reported."""
    for cd in codings(concept, path):
        system = _system(cd)
        if system == System.ICD10CM and cd.code:
            if cd.code.upper() not in (draft.get("diagnoses") or []):
                draft.append("diagnoses", cd.code.upper(), cd.path)
        elif system == System.SNOMED and (cd.code or "") in c.SNOMED_INDICATIONS:
            indication = c.SNOMED_INDICATIONS[cd.code or ""]
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
