"""Medications -> facts: which drug an order or a code names, the ordered dose and schedule, and the
member's prior therapies (MedicationStatement, MedicationAdministration, MedicationRequest).

A drug is recognised by RxNorm, NDC or HCPCS code through the shared drug vocabulary
(``catalogue/drugs.yaml``, read by ``vocabulary``). A prior therapy whose code is not in it is
still listed, under the name it was reported with, and the code is reported: the engine compares
prior-therapy names with the guideline drug's names, so nothing is guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from medpolicy.adapters.fhir.codes import PERIOD_DAYS, System, hcpcs_system, is_system
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.resources import (
    Coding,
    Located,
    ResourceIndex,
    as_list,
    codings,
    concept_text,
    parse_date,
    to_decimal,
)
from medpolicy.adapters.fhir.vocabulary import drug_by_code, fhir_mapping
from medpolicy.definitions.drugs import CodeSystem

__all__ = ["DrugMatch", "identify", "medication_concept", "read_dosage", "read_prior_therapies"]

_NOT_HISTORY = frozenset({"draft", "entered-in-error", "cancelled", "not-taken", "not-done"})
_ONGOING = frozenset({"active", "in-progress"})


@dataclass(frozen=True)
class DrugMatch:
    hcpcs: str | None
    name: str | None
    recognized: bool
    codings: tuple[Coding, ...]


def _vocabulary_system(cd: Coding) -> CodeSystem | None:
    """The drug vocabulary's name for a coding's system (None: not a drug code system)."""
    if is_system(cd.system, System.RXNORM):
        return "rxnorm"
    if hcpcs_system(cd.system):
        return "hcpcs"
    if is_system(cd.system, System.NDC):
        return "ndc"
    return None


def identify(concept: Any, path: str) -> DrugMatch:
    """The drug a CodeableConcept names: the first coding the drug vocabulary knows by its RxNorm
    or NDC code, or the first HCPCS code. An HCPCS code is always recognised as a code; whether a
    policy covers it is the registry's question, not the vocabulary's."""
    found = codings(concept, path)
    for cd in found:
        code, system = (cd.code or "").strip(), _vocabulary_system(cd)
        if system is None or not code:
            continue
        drug = drug_by_code(system, code)
        if system == "hcpcs":
            return DrugMatch(code.upper(), drug.name if drug else cd.display, True, tuple(found))
        if drug is not None:
            return DrugMatch(drug.hcpcs, drug.name, True, tuple(found))
    name = concept_text(concept) or next((cd.display for cd in found if cd.display), None)
    return DrugMatch(None, name, False, tuple(found))


def medication_concept(index: ResourceIndex, med: Located) -> tuple[Any, str]:
    """medicationCodeableConcept, or the code of the Medication that medicationReference names."""
    r = med.resource
    if isinstance(r.get("medicationCodeableConcept"), dict):
        return r["medicationCodeableConcept"], med.at("medicationCodeableConcept")
    target = index.resolve(r.get("medicationReference"), med)
    if target is not None:
        return target.resource.get("code"), target.at("code")
    ref = r.get("medicationReference")
    display = ref.get("display") if isinstance(ref, dict) else None
    return ({"text": display} if isinstance(display, str) else None), med.at("medicationReference")


# -- the ordered dose and schedule ----------------------------------------------------------------


def read_dosage(order: Located, draft: Draft) -> None:
    """Dose, interval and start from the order's dosage instruction. Several instructions, or
    several doses in one, that differ (a loading dose, a second phase) are not one dose and
    schedule: none is read, and the engine asks for them, rather than deciding on the first."""
    dosages = as_list(order.resource.get("dosageInstruction"))
    if not dosages or not isinstance(dosages[0], dict):
        return
    if any(d != dosages[0] for d in dosages[1:]):
        draft.report(
            order.at("dosageInstruction"),
            "not-usable",
            "the order gives several different dosage instructions; the dose and schedule are "
            "not read from it (state the one dose and schedule requested)",
        )
        return
    dosage, path = dosages[0], order.at("dosageInstruction", 0)
    doses = [
        (i, rate["doseQuantity"])
        for i, rate in enumerate(as_list(dosage.get("doseAndRate")))
        if isinstance(rate, dict) and isinstance(rate.get("doseQuantity"), dict)
    ]
    if any(q != doses[0][1] for _, q in doses[1:]):
        draft.report(
            f"{path}.doseAndRate",
            "not-usable",
            "the dosage instruction gives several different doses; the dose is not read from it",
        )
    elif doses:
        i, quantity = doses[0]
        _dose(quantity, f"{path}.doseAndRate[{i}].doseQuantity", draft)
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if isinstance(repeat, dict):
        _interval(repeat, f"{path}.timing.repeat", draft)
        bounds = repeat.get("boundsPeriod")
        start = parse_date(bounds.get("start")) if isinstance(bounds, dict) else None
        if start:
            draft.set(
                "medication.start_date", start.isoformat(), f"{path}.timing.repeat.boundsPeriod"
            )


def _dose(q: dict[str, Any], path: str, draft: Draft) -> None:
    value, code = to_decimal(q.get("value")), q.get("code")
    units = fhir_mapping().units["medication.dose"]
    if code is None and q.get("unit") in units:
        code = q["unit"]  # the unit written out without its UCUM code
    unit = units.get(code) if isinstance(code, str) else None
    if (
        value is None
        or unit is None
        or (q.get("system") and not is_system(q["system"], System.UCUM))
    ):
        draft.report(
            path,
            "not-usable",
            f"dose unit {code or q.get('unit')!r} is not mg or mg/kg (UCUM); the dose is not used",
        )
        return
    draft.set("medication.dose", {"value": str(value), "unit": unit}, path)


def _interval(repeat: dict[str, Any], path: str, draft: Draft) -> None:
    """Days between doses from frequency / period / periodUnit (e.g. 1 per 21 d, 1 per 3 wk)."""
    unit = repeat.get("periodUnit")
    period, per_day = to_decimal(repeat.get("period")), PERIOD_DAYS.get(str(unit))
    frequency = to_decimal(repeat.get("frequency", 1))
    if period is None or per_day is None or not frequency:
        return
    days = period * per_day / frequency
    if days != days.to_integral_value() or days <= 0:
        draft.report(
            path,
            "not-usable",
            f"a schedule of {frequency} per {period} "
            f"{repeat.get('periodUnit')} is not a whole number of days between doses",
        )
        return
    draft.set("medication.interval_days", int(days), path)


# -- prior therapies -------------------------------------------------------------------------------


def read_prior_therapies(index: ResourceIndex, draft: Draft, exclude: frozenset[str]) -> None:
    administered: dict[str, dict[str, Any]] = {}
    for med in index.of_type(
        "MedicationStatement", "MedicationAdministration", "MedicationRequest"
    ):
        if med.path in exclude or med.resource.get("status") in _NOT_HISTORY:
            continue
        record = _therapy(index, med, draft)
        if record is None:
            continue
        if med.type == "MedicationAdministration":
            # Each infusion is one administration: one course per drug, first to last dose.
            _merge(administered.setdefault(record["drug"].casefold(), {}), record, med.path)
        else:
            draft.append("prior_therapies", record, med.path)
    for record in administered.values():
        draft.append(
            "prior_therapies", {k: v for k, v in record.items() if k != "_path"}, record["_path"]
        )


def _therapy(index: ResourceIndex, med: Located, draft: Draft) -> dict[str, Any] | None:
    concept, path = medication_concept(index, med)
    match = identify(concept, path)
    if not match.recognized:
        for cd in match.codings:
            draft.report(
                cd.path,
                "unrecognized-coding",
                "prior therapy code not in the adapter's "
                f"drug tables; listed by its reported name {match.name!r}",
                cd,
            )
    if not match.name:
        draft.report(path, "not-usable", "prior therapy without a drug code or name; not listed")
        return None
    start, end = _period(med.resource)
    record: dict[str, Any] = {"drug": match.name[:200], **_known_codes(match)}
    if start:
        record["start_date"] = start.isoformat()
    if end and (start is None or end >= start):
        record["end_date"] = end.isoformat()
    if med.resource.get("status") in _ONGOING:
        record["reason_stopped"] = "ongoing"
    return record


def _known_codes(match: DrugMatch) -> dict[str, str]:
    """The codes of the drug the vocabulary knows, by system, for the engine to identify the
    drug by (a code it does not know would only make a known name unknown)."""
    found: dict[str, str] = {}
    for cd in match.codings:
        code, system = (cd.code or "").strip(), _vocabulary_system(cd)
        if system is not None and code and drug_by_code(system, code) is not None:
            found.setdefault(system, code.upper() if system == "hcpcs" else code)
    return found


def _period(r: dict[str, Any]) -> tuple[date | None, date | None]:
    for key in ("effectivePeriod",):
        if isinstance(r.get(key), dict):
            return parse_date(r[key].get("start")), parse_date(r[key].get("end"))
    for key in ("effectiveDateTime", "authoredOn", "dateAsserted"):
        day = parse_date(r.get(key))
        if day:
            return day, None
    for dosage in as_list(r.get("dosageInstruction"))[:1]:
        bounds = ((dosage or {}).get("timing") or {}).get("repeat", {}).get("boundsPeriod")
        if isinstance(bounds, dict):
            return parse_date(bounds.get("start")), parse_date(bounds.get("end"))
    return None, None


def _merge(course: dict[str, Any], record: dict[str, Any], path: str) -> None:
    """One course from first to last administration; ongoing if the last one is in progress."""
    dates = [
        d
        for d in (
            course.get("start_date"),
            course.get("end_date"),
            record.get("start_date"),
            record.get("end_date"),
        )
        if d
    ]
    was_last = max(dates) if dates else None
    if not course:
        course.update(record, _path=path)
    if dates:
        course["start_date"] = min(dates)
        if max(dates) != min(dates):
            course["end_date"] = max(dates)
    this = record.get("end_date") or record.get("start_date")
    if this == was_last:
        course.pop("reason_stopped", None)
        if record.get("reason_stopped"):
            course["reason_stopped"] = record["reason_stopped"]
