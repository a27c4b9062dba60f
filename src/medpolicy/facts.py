"""The canonical facts the engine reads, and how a request becomes them.

Policy rules name facts by path (``her2.ihc_score``). This module is the one catalogue of those
paths: what each means in words a provider's office understands, its kind, and where in the
request it comes from. The evaluator, the "what is missing" list, the DTR questionnaire generator
and the SQL compiler all read this catalogue; none keeps its own list.

A fact is either present with a value, absent (not reported: the engine's *unknown*), or in
conflict (reported twice with different values: treated as absent, with the conflict named).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, get_args

from medpolicy.definitions.units import weight_in_kg
from medpolicy.request import (
    DiseaseExtent,
    DiseaseStatus,
    Erbb2Status,
    Her2Ihc,
    Her2Ish,
    IhcScore,
    LineOfBusiness,
    NccnCategory,
    Request,
    RequestType,
)

__all__ = ["FACTS", "FactKind", "FactSpec", "Facts", "extract_facts"]

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
    conflicts: Mapping[str, str] = MappingProxyType({})

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
            "the other anticancer drugs to be given with it (or that there are none)",
            "codes",
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
            "the member's prior anticancer therapies (drug, dates, line, and "
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
    """Flatten a request into the fact paths the catalogue names (absent facts are left out)."""
    r, m = request, request.medication
    lob, compendium, erbb2 = r.member.line_of_business, r.compendium, r.erbb2_mutation
    reported: dict[str, Any] = {
        "request.date": r.submitted_at.date(),
        "request.type": r.request_type,
        "member.line_of_business": lob and lob.value,
        "medication.hcpcs": m.hcpcs,
        "medication.drug": m.drug,
        "medication.dose": m.dose and {"value": m.dose.value, "unit": m.dose.unit},
        "medication.interval_days": m.interval_days,
        "medication.start_date": m.start_date,
        "medication.line_of_therapy": m.line_of_therapy,
        "medication.concurrent_anticancer_drugs": m.concurrent_anticancer_drugs,
        "body_weight.kg": r.body_weight and weight_in_kg(r.body_weight.value, r.body_weight.unit),
        "indications": r.indications,
        "diagnoses": r.diagnoses,
        "disease_extent": r.disease_extent,
        "brain_metastases.extent": _brain(r),
        "erbb2_mutation.status": erbb2 and erbb2.status,
        "prior_therapies": _records(r.prior_therapies),
        "compendium.fda_labeled_indication": compendium and compendium.fda_labeled_indication,
        "compendium.fda_label_requirements_met": (
            compendium and compendium.fda_label_requirements_met
        ),
        "compendium.nccn_category": compendium and compendium.nccn_category,
        "prior_authorizations": _records(r.prior_authorizations),
        "initiation_criteria_previously_met": r.initiation_criteria_previously_met,
        "disease_status_on_treatment": r.disease_status_on_treatment,
    }
    values = {path: value for path, value in reported.items() if value is not None}
    conflicts: dict[str, str] = {}
    her2 = request.her2
    if her2 is not None:
        _her2_facts(her2.ihc, her2.ish, values, conflicts)
    return Facts(values, conflicts)


@dataclass(frozen=True)
class _Conflict:
    description: str


def _brain(r: Request) -> str | None:
    b = r.brain_metastases
    if b is None:
        return None
    if not b.present:
        return "none"
    return b.extent or "unspecified"


def _records(items: list[Any] | None) -> list[dict[str, Any]] | None:
    return None if items is None else [i.model_dump(mode="python") for i in items]


def _agreeing(path: str, reported: list[tuple[Any, date | None]], label: str) -> Any:
    """One value when every report agrees; a conflict naming each report when they do not."""
    if len(reported) <= 1:  # most requests: one report of each test
        return reported[0][0] if reported else None
    if len({str(v) for v, _ in reported}) == 1:
        return reported[0][0]
    listed = "; ".join(f"{v} ({d.isoformat() if d else 'undated'})" for v, d in reported)
    return _Conflict(f"conflicting {label} reported: {listed}")


def _her2_facts(
    ihc: list[Her2Ihc], ish: list[Her2Ish], values: dict[str, Any], conflicts: dict[str, str]
) -> None:
    found = {
        "her2.ihc_score": _agreeing(
            "her2.ihc_score", [(t.score, t.date) for t in ihc], "HER2 IHC scores"
        ),
        "her2.ish_ratio": _agreeing(
            "her2.ish_ratio",
            [(t.ratio, t.date) for t in ish if t.ratio is not None],
            "HER2/CEP17 ratios",
        ),
        "her2.ish_copy_number": _agreeing(
            "her2.ish_copy_number",
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


def _concurrent(ihc: list[Her2Ihc], ish: list[Her2Ish]) -> bool | None:
    """IHC and ISH are concurrent when done on the same specimen, or (no specimen ids) the same day.

    Reading: the guideline says "concurrent" without defining it; ASCO/CAP means the same tissue
    specimen. Unknown when neither specimen ids nor dates let us tell.
    """
    if not ihc or not ish:
        return None
    pairs = [(a, b) for a in ihc for b in ish]
    if any(a.specimen_id and a.specimen_id == b.specimen_id for a, b in pairs):
        return True
    if any(a.date and a.date == b.date and not (a.specimen_id and b.specimen_id) for a, b in pairs):
        return True
    if all((a.specimen_id and b.specimen_id) or (a.date and b.date) for a, b in pairs):
        return False
    return None
