"""A clinical record projected onto the earlier request format, for what reads a case's request.

A case keeps a request of the earlier format (``medpolicy.request.Request``): its queue row, its
identity columns, the reviewer's page and notices read it. A request sent as a clinical record is
decided on the record itself, and the case keeps the record beside this projection
(``Case.decided_on()`` reads the record); the projection only shows the case and carries what a
resubmission (a merge patch of the request) adds to. It is the inverse of ``record.legacy``: each
fact the earlier format has a field for goes to that field.

Which finding or observation codes mean a fact the earlier format holds is read from the fact
catalogue (the codes beside the name ``record.legacy`` writes, in the ``from:`` of a fact with a
request ``field``), never listed here: a LOINC code added there is projected without a change.

What the earlier format cannot hold is left out of the projection, never forced into a field that
means something else; ``Projection.left_out`` names each such part by its record path:

- the order's setting and the condition it is for; a dose in mg/m2;
- each condition's stage and recurrence date, and which condition an extent belongs to (the
  extents of every condition are the request's one ``disease_extent``);
- findings of no field (an overall HER2 result, residual disease), one not in the field's
  vocabulary (an IHC score other than 0, 1+, 2+ or 3+), and the kind of test a finding states;
- more than one ERBB2 mutation, brain metastases or disease status finding, or more than one
  body weight (the earlier format holds one of each: the projection holds none and names them);
- observations of no field (an LVEF, a body surface area); a body weight in a unit other than
  kg or lb;
- the medication history's setting, cycles and response; a course naming no drug;
- a prior authorization whose plan the earlier format does not name (``florida_blue``,
  ``other``); attestations other than "initiation criteria previously met", and each
  attestation's author and date.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from medpolicy.catalogue import shared_catalogue
from medpolicy.record import legacy
from medpolicy.record import model as m
from medpolicy.request import (
    BodyWeight,
    BrainMetastases,
    Erbb2Mutation,
    Her2Ihc,
    Her2Ish,
    Medication,
    PriorAuthorization,
    PriorTherapy,
    Request,
)

__all__ = ["Projection", "project"]


@dataclass(frozen=True)
class Projection:
    """The earlier-format request of a record, and every record path it could not hold."""

    request: Request
    left_out: tuple[str, ...]


@functools.cache
def _codes(name: str) -> frozenset[str]:
    """The codes the catalogue reads as the same thing as ``name`` (the name ``record.legacy``
    writes), for a fact the earlier format has a field for."""
    found = {name}
    for spec in shared_catalogue().facts.values():
        for form in ("finding", "observation"):
            codes = spec.source.get(form)
            if spec.request_field and isinstance(codes, list) and name in codes:
                found.update(str(c) for c in codes)
    return frozenset(found)


def project(record: m.ClinicalRecord) -> Projection:
    """``record`` as the earlier format, with what it could not hold (see the module)."""
    left: list[str] = []
    member = record.member.model_dump(exclude_none=True)
    data: dict[str, Any] = {
        "request_id": record.request_id,
        "submitted_at": record.submitted_at,
        "request_type": record.request_type,
        "urgency": record.urgency,
        "member": member,
        "medication": _medication(record.order, left),
    }
    if record.order.indications is not None:
        data["indications"] = record.order.indications
    _conditions(record.conditions, data, left)
    _weight(record.observations, data, left)
    _history(record.medication_history, data, left)
    _authorizations(record.prior_authorizations, data, left)
    _attestations(record.attestations, data, left)
    if record.compendium is not None:
        data["compendium"] = record.compendium.model_dump(exclude_none=True)
    return Projection(Request.model_validate(data), tuple(left))


def _fits(model: type[BaseModel], data: Mapping[str, Any]) -> bool:
    """Whether the earlier format's ``model`` holds ``data`` as it is."""
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


def _medication(order: m.Order, left: list[str]) -> dict[str, Any]:
    drug = order.drug
    medication: dict[str, Any] = {
        "hcpcs": drug.hcpcs,
        "drug": drug.name,
        "rxnorm": drug.rxnorm,
        "ndc": drug.ndc,
        "interval_days": order.interval_days,
        "start_date": order.start_date,
        "line_of_therapy": order.line_of_therapy,
        "concurrent_anticancer_drugs": order.concurrent_drugs,
    }
    if order.dose is not None:
        dose = order.dose.model_dump()
        if _fits(Medication, {"hcpcs": drug.hcpcs, "dose": dose}):
            medication["dose"] = dose
        else:
            left.append("order.dose")
    left += [f"order.{f}" for f in ("setting", "condition") if getattr(order, f) is not None]
    return {k: v for k, v in medication.items() if v is not None}


def _conditions(
    conditions: list[m.Condition] | None, data: dict[str, Any], left: list[str]
) -> None:
    """Diagnosis codes, extents, and the findings the earlier format has a field for."""
    if conditions is None:
        return
    codes = [c.code for c in conditions if c.code is not None]
    if codes:  # conditions whose codes were not said report no code (as the catalogue reads them)
        data["diagnoses"] = codes
    extents = [e for c in conditions for e in c.extent or ()]
    if any(c.extent is not None for c in conditions):
        data["disease_extent"] = list(dict.fromkeys(extents))
    her2: dict[str, list[dict[str, Any]]] = {"ihc": [], "ish": []}
    single: dict[str, list[tuple[str, dict[str, Any] | None]]] = {}
    for i, condition in enumerate(conditions):
        left += [
            f"conditions[{i}].{f}"
            for f in ("stage", "recurrence_date")
            if getattr(condition, f) is not None
        ]
        for j, finding in enumerate(condition.findings):
            where = f"conditions[{i}].findings[{j}]"
            if not _finding(finding, condition.code, where, her2, single):
                left.append(where)
            elif finding.test is not None:
                left.append(f"{where}.test")
    if her2["ihc"] or her2["ish"]:
        data["her2"] = her2
    for field, found in single.items():
        if len(found) == 1 and found[0][1] is not None:
            data[field] = found[0][1]
        else:
            left += [where for where, _ in found]


def _finding(
    finding: m.Finding,
    about: str | None,
    where: str,
    her2: dict[str, list[dict[str, Any]]],
    single: dict[str, list[tuple[str, dict[str, Any] | None]]],
) -> bool:
    """Put one finding in its field (``her2``; ``single``: the fields holding one finding, by
    name); False when the earlier format has no place for it."""
    for name, place in _FINDINGS.items():
        if finding.code in _codes(name):
            return place(finding, about, where, her2, single)
    return False


def _ihc(f: m.Finding, about: str | None, where: str, her2: Any, single: Any) -> bool:
    ihc = {"score": f.result, "date": f.date, "specimen_id": f.specimen_id, "condition": about}
    return _add(her2["ihc"], Her2Ihc, ihc)


def _ish(field: str) -> Callable[..., bool]:
    def place(f: m.Finding, about: str | None, where: str, her2: Any, single: Any) -> bool:
        """A ratio and a copy number of the same specimen, date and condition are one report
        (``record.legacy`` writes one report as the two findings)."""
        key = {"date": f.date, "specimen_id": f.specimen_id, "condition": about}
        same = next((r for r in her2["ish"] if _key(r) == key and field not in r), None)
        report = {**key, field: f.value}
        if same is not None:
            if not _fits(Her2Ish, {**same, **report}):
                return False
            same[field] = f.value
            return True
        return _add(her2["ish"], Her2Ish, report)

    return place


def _key(report: Mapping[str, Any]) -> dict[str, Any]:
    return {k: report.get(k) for k in ("date", "specimen_id", "condition")}


def _one(field: str, read: Callable[[m.Finding, str | None], dict[str, Any] | Any]) -> Any:
    """A field of the earlier format that holds one finding."""

    def place(f: m.Finding, about: str | None, where: str, her2: Any, single: Any) -> bool:
        value = read(f, about)
        single.setdefault(field, []).append((where, value))
        return True  # named in ``left_out`` if it is not the only one, or does not fit

    return place


def _erbb2(f: m.Finding, about: str | None) -> dict[str, Any] | None:
    erbb2 = {"status": f.result, "variant": f.variant, "date": f.date, "condition": about}
    return _clean(erbb2) if _fits(Erbb2Mutation, _clean(erbb2)) else None


def _brain(f: m.Finding, _: str | None) -> dict[str, Any] | None:
    brain = (
        {"present": False}
        if f.result == "none"
        else {"present": True, "extent": None if f.result == "unspecified" else f.result}
    )
    return _clean(brain) if _fits(BrainMetastases, _clean(brain)) else None


def _status(f: m.Finding, _: str | None) -> Any:
    statuses = ("progressed", "stable", "improved", "undetermined")
    return f.result if f.result in statuses else None


_HER2_REPORTS = 20  # ``Her2Results``: at most 20 IHC and 20 ISH reports

_FINDINGS: dict[str, Callable[..., bool]] = {
    legacy.HER2_IHC: _ihc,
    legacy.HER2_ISH_RATIO: _ish("ratio"),
    legacy.HER2_ISH_COPY_NUMBER: _ish("copy_number"),
    legacy.ERBB2_MUTATION: _one("erbb2_mutation", _erbb2),
    legacy.BRAIN_METASTASES: _one("brain_metastases", _brain),
    legacy.DISEASE_STATUS: _one("disease_status_on_treatment", _status),
}


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _add(into: list[dict[str, Any]], model: type[BaseModel], data: Mapping[str, Any]) -> bool:
    """Add ``data`` when ``model`` holds it and the list has room (the earlier format holds 20
    HER2 reports of each kind)."""
    item = _clean(data)
    if len(into) >= _HER2_REPORTS or not _fits(model, item):
        return False
    into.append(item)
    return True


def _weight(
    observations: list[m.Observation] | None, data: dict[str, Any], left: list[str]
) -> None:
    """The one body weight in kg or lb; every other observation is named as left out."""
    weights = []
    for i, o in enumerate(observations or ()):
        weight = _clean({"value": o.value, "unit": o.unit, "date": o.date})
        if o.code in _codes(legacy.BODY_WEIGHT) and _fits(BodyWeight, weight):
            weights.append((i, weight))
        else:
            left.append(f"observations[{i}]")
    if len(weights) == 1:
        data["body_weight"] = weights[0][1]
    else:
        left += [f"observations[{i}]" for i, _ in weights]


def _history(history: list[m.MedicationUse] | None, data: dict[str, Any], left: list[str]) -> None:
    if history is None:
        return
    fields = ("drug", "hcpcs", "rxnorm", "ndc", "start_date", "end_date", "line", "reason_stopped")
    data["prior_therapies"] = _each(
        history, "medication_history", PriorTherapy, fields, ("setting", "cycles", "response"), left
    )


def _authorizations(
    authorizations: list[m.PriorAuthorization] | None, data: dict[str, Any], left: list[str]
) -> None:
    if authorizations is None:
        return
    fields = ("plan", "approved_on", "drug_hcpcs", "indication")
    data["prior_authorizations"] = _each(
        authorizations, "prior_authorizations", PriorAuthorization, fields, (), left
    )


def _each(
    items: Iterable[BaseModel],
    name: str,
    model: type[BaseModel],
    fields: tuple[str, ...],
    dropped: tuple[str, ...],
    left: list[str],
) -> list[dict[str, Any]]:
    """Each item as ``model`` (``fields``), those it cannot hold named; ``dropped``: fields of
    an item the earlier format has no place for."""
    out = []
    for i, item in enumerate(items):
        value = _clean({f: getattr(item, f) for f in fields})
        if _fits(model, value):
            out.append(value)
            left += [f"{name}[{i}].{f}" for f in dropped if getattr(item, f) is not None]
        else:
            left.append(f"{name}[{i}]")
    return out


def _attestations(
    attestations: list[m.Attestation] | None, data: dict[str, Any], left: list[str]
) -> None:
    """Whether initiation criteria were previously met, when every such attestation agrees."""
    statement = legacy.INITIATION_CRITERIA_MET
    values = {a.value for a in attestations or () if a.statement == statement}
    if len(values) == 1:
        data["initiation_criteria_previously_met"] = next(iter(values))
    for i, a in enumerate(attestations or ()):
        if a.statement != statement or len(values) > 1:
            left.append(f"attestations[{i}]")
        else:
            left += [f"attestations[{i}].{f}" for f in ("by", "date") if getattr(a, f) is not None]
