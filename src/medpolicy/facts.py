"""The canonical facts the engine reads, and how a request becomes them.

Policy rules name facts by path (``her2.ihc_score``). This module is the one catalogue of those
paths: what each means in words a provider's office understands, its kind, and where in the
request it comes from. The evaluator, the "what is missing" list, the DTR questionnaire generator
and the SQL compiler all read this catalogue; none keeps its own list.

A fact is either present with a value, absent (not reported: the engine's *unknown*), or in
conflict (reported twice with different values, contradicted by the request's own record, or too
old to use: treated as absent, with the reason named). A present fact may carry a note saying why
part of it cannot settle a criterion (a prior therapy whose drug the policy does not know).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, get_args

from medpolicy.definitions.units import weight_in_kg
from medpolicy.request import (
    BodyWeight,
    BrainMetastases,
    Compendium,
    DiseaseExtent,
    DiseaseStatus,
    DrugRef,
    Erbb2Status,
    Her2Ihc,
    Her2Ish,
    IhcScore,
    LineOfBusiness,
    Medication,
    NccnCategory,
    PriorAuthorization,
    PriorTherapy,
    Request,
    RequestType,
)

__all__ = ["FACTS", "FactKind", "FactSpec", "Facts", "extract_facts", "her2_facts"]

FactKind = Literal[
    "code", "codes", "decimal", "integer", "boolean", "date", "choice", "choices", "records"
]


@dataclass(frozen=True)
class FactSpec:
    path: str
    label: str  # the words a provider's office reads in "missing information"
    kind: FactKind
    choices: tuple[str, ...] = ()
    request_field: str = ""  # where a provider supplies it in the native request JSON
    unit: str | None = None
    name: str = ""  # a short name for quoting a reported value


class Facts(NamedTuple):
    """Flat, read-only view of one request's facts (made for every request: a tuple is cheap)."""

    values: Mapping[str, Any]
    conflicts: Mapping[str, str] = MappingProxyType({})  # absent facts: why they cannot be used
    notes: Mapping[str, str] = MappingProxyType({})  # present facts: why part of one is unusable

    def get(self, path: str) -> Any:  # None when absent
        return self.values.get(path)

    def has(self, path: str) -> bool:
        return self.values.get(path) is not None


def _spec(path: str, label: str, kind: FactKind, request_field: str, **kw: Any) -> FactSpec:
    return FactSpec(path, label, kind, request_field=request_field, name=_NAMES[path], **kw)


# Short names, for reasons that quote what was reported ("reported: HER2 IHC score 1+").
_NAMES = {
    "request.date": "request date",
    "request.type": "request type",
    "member.line_of_business": "line of business",
    "medication.hcpcs": "HCPCS code",
    "medication.drug": "drug name",
    "medication.dose": "dose",
    "medication.interval_days": "days between doses",
    "medication.start_date": "start date",
    "medication.line_of_therapy": "line of therapy",
    "medication.concurrent_anticancer_drugs": "concurrent anticancer drugs",
    "body_weight.kg": "body weight (kg)",
    "body_weight.date": "date of the body weight",
    "indications": "indications",
    "diagnoses": "diagnosis codes",
    "disease_extent": "disease extent",
    "brain_metastases.extent": "brain metastases",
    "her2.ihc_score": "HER2 IHC score",
    "her2.ish_ratio": "HER2/CEP17 ratio",
    "her2.ish_copy_number": "average HER2 copy number",
    "her2.concurrent": "IHC and ISH concurrent",
    "erbb2_mutation.status": "ERBB2 mutation",
    "prior_therapies": "prior therapies",
    "compendium.fda_labeled_indication": "FDA-labeled indication",
    "compendium.fda_label_requirements_met": "label requirements met",
    "compendium.nccn_category": "NCCN category",
    "prior_authorizations": "prior authorizations",
    "initiation_criteria_previously_met": "initiation criteria previously met",
    "disease_status_on_treatment": "disease status on treatment",
}


FACTS: dict[str, FactSpec] = {
    s.path: s
    for s in [
        _spec("request.date", "the date of the request", "date", "submitted_at"),
        _spec(
            "request.type",
            "whether this is initiation or continuation of therapy",
            "choice",
            "request_type",
            choices=get_args(RequestType),
        ),
        _spec(
            "member.line_of_business",
            "the member's line of business (commercial, Medicare "
            "Advantage, Medicare Part D, FEP, State Account Organization, Medicaid)",
            "choice",
            "member.line_of_business",
            choices=tuple(lob.value for lob in LineOfBusiness),
        ),
        _spec(
            "medication.hcpcs", "the HCPCS code of the requested drug", "code", "medication.hcpcs"
        ),
        _spec(
            "medication.drug",
            "the name of the requested drug, as ordered (it must be the drug its HCPCS code names)",
            "code",
            "medication.drug",
        ),
        _spec(
            "medication.dose",
            "the requested dose per administration, with its unit (mg or mg/kg)",
            "decimal",
            "medication.dose",
        ),
        _spec(
            "medication.interval_days",
            "the number of days between doses",
            "integer",
            "medication.interval_days",
            unit="d",
        ),
        _spec("medication.start_date", "the planned start date", "date", "medication.start_date"),
        _spec(
            "medication.line_of_therapy",
            "the line of therapy this request is for (first line, or subsequent therapy)",
            "integer",
            "medication.line_of_therapy",
        ),
        _spec(
            "medication.concurrent_anticancer_drugs",
            "the other anticancer drugs to be given with it, by name or code (or that there are "
            "none)",
            "records",
            "medication.concurrent_anticancer_drugs",
        ),
        _spec(
            "body_weight.kg",
            "the member's current body weight, with its unit (kg or lb)",
            "decimal",
            "body_weight",
            unit="kg",
        ),
        _spec(
            "body_weight.date",
            "the date the member's body weight was measured",
            "date",
            "body_weight.date",
        ),
        _spec(
            "indications",
            "what the drug is requested for (the diagnosis being treated)",
            "choices",
            "indications",
        ),
        _spec(
            "diagnoses",
            "the ICD-10-CM diagnosis code(s) for the condition being treated",
            "codes",
            "diagnoses",
        ),
        _spec(
            "disease_extent",
            "the extent of disease (locally advanced, inflammatory, early "
            "stage, advanced, metastatic, or recurrent)",
            "choices",
            "disease_extent",
            choices=get_args(DiseaseExtent),
        ),
        _spec(
            "brain_metastases.extent",
            "whether brain metastases are present, and if so whether limited or extensive",
            "choice",
            "brain_metastases",
            choices=("none", "limited", "extensive", "unspecified"),
        ),
        _spec(
            "her2.ihc_score",
            "the HER2 immunohistochemistry (IHC) score (0, 1+, 2+ or 3+)",
            "choice",
            "her2.ihc",
            choices=get_args(IhcScore),
        ),
        _spec("her2.ish_ratio", "the dual-probe ISH HER2/CEP17 ratio", "decimal", "her2.ish"),
        _spec(
            "her2.ish_copy_number",
            "the dual-probe ISH average HER2 copy number (signals per cell)",
            "decimal",
            "her2.ish",
            unit="signals/cell",
        ),
        _spec(
            "her2.concurrent",
            "whether the IHC and ISH tests were done concurrently (same "
            "specimen or same date), with their dates",
            "boolean",
            "her2",
        ),
        _spec(
            "erbb2_mutation.status",
            "the ERBB2 (HER2) mutation test result",
            "choice",
            "erbb2_mutation",
            choices=get_args(Erbb2Status),
        ),
        _spec(
            "prior_therapies",
            "the member's prior anticancer therapies (drug by name or code, dates, line, and "
            "why each was stopped), or that there were none",
            "records",
            "prior_therapies",
        ),
        _spec(
            "compendium.fda_labeled_indication",
            "whether the condition is an indication in the FDA-approved prescribing information",
            "boolean",
            "compendium.fda_labeled_indication",
        ),
        _spec(
            "compendium.fda_label_requirements_met",
            "whether the member meets the label's additional Indications and Usage requirements",
            "boolean",
            "compendium.fda_label_requirements_met",
        ),
        _spec(
            "compendium.nccn_category",
            "the NCCN Drugs and Biologics Compendium category of recommendation for this use",
            "choice",
            "compendium.nccn_category",
            choices=get_args(NccnCategory),
        ),
        _spec(
            "prior_authorizations",
            "prior authorizations of this drug by Florida Blue or "
            "another health plan (plan, approval date, indication), or that there were none",
            "records",
            "prior_authorizations",
        ),
        _spec(
            "initiation_criteria_previously_met",
            "whether the member previously met all indication-specific initiation criteria",
            "boolean",
            "initiation_criteria_previously_met",
        ),
        _spec(
            "disease_status_on_treatment",
            "whether the disease has progressed during "
            "treatment with this drug (progressed, stable, improved)",
            "choice",
            "disease_status_on_treatment",
            choices=get_args(DiseaseStatus),
        ),
    ]
}


def extract_facts(request: Request) -> Facts:
    """Flatten a request into the fact paths the catalogue names (absent facts are left out).

    This runs on every decision, so it adds each fact only when it was reported rather than
    building every path and filtering. Absent stays absent (never a default), and the paths come
    in the catalogue's order, which readers of ``values`` may iterate. ``tests/test_facts.py``
    holds it equal to the plain reading of the catalogue on every example, case and generated
    request.
    """
    r = request
    v: Any  # each reported value passed through as it stands
    values: dict[str, Any] = {"request.date": r.submitted_at.date(), "request.type": r.request_type}
    lob = r.member.line_of_business
    if lob is not None:
        values["member.line_of_business"] = lob._value_  # plain str; `.value` is a slow property
    _medication(r.medication, values)
    if (weight := r.body_weight) is not None:
        values["body_weight.kg"] = _kg(weight)
        if weight.date is not None:
            values["body_weight.date"] = weight.date
    if (v := r.indications) is not None:
        values["indications"] = v
    if (v := r.diagnoses) is not None:
        values["diagnoses"] = v
    if (v := r.disease_extent) is not None:
        values["disease_extent"] = v
    if (brain := r.brain_metastases) is not None:
        values["brain_metastases.extent"] = _brain(brain)
    if (erbb2 := r.erbb2_mutation) is not None:
        values["erbb2_mutation.status"] = erbb2.status
    if (therapies := r.prior_therapies) is not None:
        values["prior_therapies"] = _records(therapies)
    if (compendium := r.compendium) is not None:
        _compendium(compendium, values)
    if (authorizations := r.prior_authorizations) is not None:
        values["prior_authorizations"] = _records(authorizations)
    if (v := r.initiation_criteria_previously_met) is not None:
        values["initiation_criteria_previously_met"] = v
    if (v := r.disease_status_on_treatment) is not None:
        values["disease_status_on_treatment"] = v
    conflicts: dict[str, str] = {}
    if (her2 := r.her2) is not None:
        _her2_facts(her2.ihc, her2.ish, values, conflicts)
    return _facts((values, conflicts, _NO_NOTES))


# ``Facts((values, conflicts, notes))`` without the named tuple's ``__new__`` (a Python
# function): facts are extracted for every request.
_facts = functools.partial(tuple.__new__, Facts)
_NO_NOTES: Mapping[str, str] = MappingProxyType({})


def her2_facts(ihc: list[Her2Ihc], ish: list[Her2Ish]) -> tuple[dict[str, Any], dict[str, str]]:
    """The HER2 facts (values, conflicts) of these reports alone: for a request some of whose
    reports are about another condition than the one it is for."""
    values: dict[str, Any] = {}
    conflicts: dict[str, str] = {}
    _her2_facts(ihc, ish, values, conflicts)
    return values, conflicts


def _medication(m: Medication, values: dict[str, Any]) -> None:
    v: Any  # each reported value passed through as it stands
    values["medication.hcpcs"] = m.hcpcs
    if (v := m.drug) is not None:
        values["medication.drug"] = v
    if (dose := m.dose) is not None:
        values["medication.dose"] = {"value": dose.value, "unit": dose.unit}
    if (v := m.interval_days) is not None:
        values["medication.interval_days"] = v
    if (v := m.start_date) is not None:
        values["medication.start_date"] = v
    if (v := m.line_of_therapy) is not None:
        values["medication.line_of_therapy"] = v
    if (drugs := m.concurrent_anticancer_drugs) is not None:
        values["medication.concurrent_anticancer_drugs"] = [_drug_record(d) for d in drugs]


def _drug_record(drug: str | DrugRef) -> dict[str, Any]:
    """A concurrent drug as a record of what was reported: its name, or its codes and name."""
    if isinstance(drug, str):
        return {"drug": drug}
    return {k: v for k, v in drug.__dict__.items() if v is not None}


def _kg(weight: BodyWeight) -> Decimal:
    # The request model has already required a finite Decimal above zero (pydantic rejects NaN
    # and infinities for Decimal fields), so a weight in kilograms is used as it stands and only
    # pounds go through the conversion, which checks its input again.
    if weight.unit == "kg":
        return weight.value
    return weight_in_kg(weight.value, weight.unit)


def _brain(b: BrainMetastases) -> str:
    if not b.present:
        return "none"
    return b.extent or "unspecified"


def _compendium(c: Compendium, values: dict[str, Any]) -> None:
    v: Any  # each reported value passed through as it stands
    if (v := c.fda_labeled_indication) is not None:
        values["compendium.fda_labeled_indication"] = v
    if (v := c.fda_label_requirements_met) is not None:
        values["compendium.fda_label_requirements_met"] = v
    if (v := c.nccn_category) is not None:
        values["compendium.nccn_category"] = v


def _records(items: list[PriorTherapy] | list[PriorAuthorization]) -> list[dict[str, Any]]:
    # Each record's fields as a plain dict: what ``model_dump(mode="python")`` returns for these
    # flat models (strings, dates, ints, None; no nested models, aliases or serializers), without
    # its cost. A shallow copy, so a reader cannot change the request through the facts.
    return [dict(item.__dict__) for item in items]


@dataclass(frozen=True)
class _Conflict:
    description: str


def _her2_facts(
    ihc: list[Her2Ihc], ish: list[Her2Ish], values: dict[str, Any], conflicts: dict[str, str]
) -> None:
    if len(ihc) <= 1 and len(ish) <= 1:  # most requests: nothing to compare, so no conflict
        _single_her2_facts(ihc[0] if ihc else None, ish[0] if ish else None, values)
        return
    found = {
        "her2.ihc_score": _agreeing([(t.score, t.date) for t in ihc], "HER2 IHC scores"),
        "her2.ish_ratio": _agreeing(
            [(t.ratio, t.date) for t in ish if t.ratio is not None], "HER2/CEP17 ratios"
        ),
        "her2.ish_copy_number": _agreeing(
            [(t.copy_number, t.date) for t in ish if t.copy_number is not None],
            "average HER2 copy numbers",
        ),
        "her2.concurrent": _concurrent(ihc, ish),
    }
    for path, value in found.items():
        if isinstance(value, _Conflict):
            conflicts[path] = value.description
        elif value is not None:
            values[path] = value


def _single_her2_facts(ihc: Her2Ihc | None, ish: Her2Ish | None, values: dict[str, Any]) -> None:
    """At most one IHC and one ISH report: the same facts as the general path, in its order."""
    if ihc is not None:
        values["her2.ihc_score"] = ihc.score
    if ish is None:
        return
    if (v := ish.ratio) is not None:
        values["her2.ish_ratio"] = v
    if (v := ish.copy_number) is not None:
        values["her2.ish_copy_number"] = v
    if ihc is not None:
        concurrent = _concurrent_pair(ihc, ish)
        if concurrent is not None:
            values["her2.concurrent"] = concurrent


def _agreeing(reported: list[tuple[Any, date | None]], label: str) -> Any:
    """One value when every report agrees; a conflict naming each report when they do not."""
    if len(reported) <= 1:
        return reported[0][0] if reported else None
    if len({str(v) for v, _ in reported}) == 1:
        return reported[0][0]
    listed = "; ".join(f"{v} ({d.isoformat() if d else 'undated'})" for v, d in reported)
    return _Conflict(f"conflicting {label} reported: {listed}")


def _concurrent(ihc: list[Her2Ihc], ish: list[Her2Ish]) -> bool | None:
    """IHC and ISH are concurrent when done on the same specimen, or (no specimen ids) the same day.

    Reading: the guideline says "concurrent" without defining it; ASCO/CAP means the same tissue
    specimen. Concurrent when any pair of reports is; not concurrent when every pair can be told
    apart; otherwise unknown (neither specimen ids nor dates let us tell).
    """
    found = {_concurrent_pair(a, b) for a in ihc for b in ish}
    if True in found:
        return True
    if found == {False}:
        return False
    return None


def _concurrent_pair(ihc: Her2Ihc, ish: Her2Ish) -> bool | None:
    """One IHC and one ISH report: the same specimen; else, when not both have specimen ids, the
    same date. Not concurrent when their specimen ids or their dates tell them apart."""
    both_have_specimens = ihc.specimen_id is not None and ish.specimen_id is not None
    if both_have_specimens and ihc.specimen_id == ish.specimen_id:
        return True
    both_dated = ihc.date is not None and ish.date is not None
    if both_dated and ihc.date == ish.date and not both_have_specimens:
        return True
    if both_have_specimens or both_dated:
        return False
    return None
