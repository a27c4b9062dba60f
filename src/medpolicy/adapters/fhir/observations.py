"""mCODE and US Core observations -> facts: HER2 tumor markers, body weight, disease status, ERBB2.

Which observation codes hold which fact is data: the catalogue's LOINC codes for the fact (its
``from:``), and ``catalogue/fhir.yaml`` for answer codes and the observations that are understood
but not evaluated (``vocabulary``). This module knows how each kind of value is written in FHIR.

HER2 results are passed through one per observation: two IHC scores stay two entries, so the
engine names the conflict for the reviewer instead of the adapter choosing one. A qualitative
result ("Positive") is reported, not turned into a score: the guideline defines HER2-positive by
the IHC score and the ISH ratio and copy number.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from medpolicy.adapters.fhir.codes import System, is_system
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.record_facts import fact_spec, is_record_only, known_facts
from medpolicy.adapters.fhir.resources import (
    Coding,
    Located,
    ResourceIndex,
    as_list,
    codings,
    concept_text,
    effective_date,
    to_decimal,
)
from medpolicy.adapters.fhir.vocabulary import (
    FhirMapping,
    RecordObservation,
    fhir_mapping,
    record_observations,
)

__all__ = ["read_observations"]

_IGNORED_STATUS = frozenset({"entered-in-error", "cancelled"})
# A result not yet final (or whose status is not known) is not decided on: the final one is.
_NOT_FINAL = frozenset({"registered", "preliminary", "unknown"})
_SCORES = ("0", "1+", "2+", "3+")


@dataclass(frozen=True)
class _Measured:
    """One coded value found on an observation or one of its components."""

    code: str
    value_of: dict[str, Any]  # the observation or component holding value[x]
    path: str  # expression of that observation or component
    obs: Located


def read_observations(index: ResourceIndex, draft: Draft) -> None:
    voc = fhir_mapping()
    found: dict[str, list[_Measured]] = {}
    skip = frozenset({str(voc.observations["genomic_variant"]["gene_studied"])})
    for obs in index.of_type("Observation"):
        status = obs.resource.get("status")
        if status in _IGNORED_STATUS:
            continue
        if status in _NOT_FINAL:
            draft.report(
                obs.at("status"),
                "not-usable",
                f"a result whose status is {status!r} is not used: the final result is needed",
            )
            continue
        for m in _measured(obs, skip):
            found.setdefault(m.code, []).append(m)
        _report_unknown_marker(obs, draft, voc)

    def of(name: str) -> list[_Measured]:
        return [m for code in sorted(voc.codes(name)) for m in found.get(code, [])]

    for m in of("her2.ihc_score"):
        _her2_ihc(m, draft)
    _her2_ish(of("her2.ish_ratio"), of("her2.ish_copy_number"), draft)
    for name, entry in voc.observations.items():
        for m in of(name) if "what" in entry else ():
            _not_usable_her2(m, draft, entry)
    _latest(of("body_weight.kg"), draft, _body_weight)
    _latest(of("disease_status_on_treatment"), draft, _disease_status)
    # several variants of the gene may be found the same day: the first reported is read
    _latest(of("genomic_variant"), draft, _erbb2, keep=_is_erbb2, agree=False)
    for kind in record_observations(known_facts()):
        found_kind = [m for code in sorted(kind.codes) for m in found.get(code, [])]
        _latest(found_kind, draft, functools.partial(_record_only, kind=kind))


def _measured(obs: Located, skip: frozenset[str]) -> list[_Measured]:
    out = [
        _Measured(cd.code, obs.resource, obs.path, obs)
        for cd in codings(obs.resource.get("code"), obs.at("code"))
        if is_system(cd.system, System.LOINC) and cd.code
    ]
    for i, comp in enumerate(as_list(obs.resource.get("component"))):
        if not isinstance(comp, dict):
            continue
        here = obs.at("component", i)
        out += [
            _Measured(cd.code, comp, here, obs)
            for cd in codings(comp.get("code"), f"{here}.code")
            if is_system(cd.system, System.LOINC) and cd.code and cd.code not in skip
        ]
    return out


def _specimen(obs: Located) -> str | None:
    spec = obs.resource.get("specimen")
    if not isinstance(spec, dict):
        return None
    ident = spec.get("identifier")
    if isinstance(ident, dict) and isinstance(ident.get("value"), str):
        return str(ident["value"])
    ref = spec.get("reference")
    return ref if isinstance(ref, str) else None


def _dated(entry: dict[str, Any], obs: Located) -> dict[str, Any]:
    day, specimen = effective_date(obs.resource), _specimen(obs)
    if day:
        entry["date"] = day.isoformat()
    if specimen:
        entry["specimen_id"] = specimen[:200]
    return entry


# -- HER2 IHC ---------------------------------------------------------------------------------


def _her2_ihc(m: _Measured, draft: Draft) -> None:
    score = _ihc_score(m, draft)
    if score is not None:
        entry = _dated({"score": score}, m.obs)
        if entry not in (draft.get("her2.ihc") or []):
            draft.append("her2.ihc", entry, m.path)


def _ihc_score(m: _Measured, draft: Draft) -> str | None:
    v = m.value_of
    if isinstance(v.get("valueString"), str):
        text = str(v["valueString"]).replace(" ", "")
        if text in _SCORES:
            return text
    if isinstance(v.get("valueInteger"), int) and v["valueInteger"] in (0, 1, 2, 3):
        return "0" if v["valueInteger"] == 0 else f"{v['valueInteger']}+"
    concept = v.get("valueCodeableConcept")
    voc = fhir_mapping()
    for cd in codings(concept, f"{m.path}.valueCodeableConcept"):
        score = voc.choice("her2.ihc_score", cd.system, cd.code)
        if score is not None:
            return score
        result = voc.qualitative.get((_canonical(cd), cd.code or ""))
        if result is not None:
            draft.report(
                cd.path,
                "not-usable",
                f"HER2 IHC reported as {result} "
                "without its score (0, 1+, 2+ or 3+), which the guideline's HER2 "
                "definition needs",
                cd,
            )
            return None
        draft.unrecognized(cd, "HER2 IHC result")
    text = (concept_text(concept) or "").replace(" ", "")
    if text in _SCORES:
        return text
    if "valueString" in v or "valueQuantity" in v:
        draft.report(m.path, "not-usable", "HER2 IHC value is not a score of 0, 1+, 2+ or 3+")
    return None


def _canonical(cd: Coding) -> str:
    for system in (System.LOINC, System.SNOMED):
        if is_system(cd.system, system):
            return system
    return cd.system or ""


# -- HER2 ISH ---------------------------------------------------------------------------------


def _her2_ish(ratios: list[_Measured], copies: list[_Measured], draft: Draft) -> None:
    """Ratio and copy number measured on the same specimen (or, without one, the same day) form one
    ISH result; more than one value of a kind for the same test stays a separate entry."""
    groups: dict[tuple[str | None, date | None], list[tuple[str, Decimal, _Measured]]] = {}
    for kind, found in (("ratio", ratios), ("copy_number", copies)):
        for m in found:
            number = _number(
                m, draft, "HER2/CEP17 ratio" if kind == "ratio" else "HER2 copy number"
            )
            if number is not None:
                key = (_specimen(m.obs), effective_date(m.obs.resource))
                groups.setdefault(key, []).append((kind, number, m))
    for values in groups.values():
        entries: list[tuple[dict[str, Any], str]] = []
        for kind, number, m in values:
            target = next((e for e in entries if kind not in e[0]), None)
            if target is None:
                entries.append((_dated({kind: str(number)}, m.obs), m.path))
            else:
                target[0][kind] = str(number)
        for entry, path in entries:
            draft.append("her2.ish", entry, path)


def _number(m: _Measured, draft: Draft, what: str) -> Decimal | None:
    v = m.value_of
    if isinstance(v.get("valueQuantity"), dict):
        return to_decimal(v["valueQuantity"].get("value"))
    if isinstance(v.get("valueRatio"), dict):
        num = to_decimal((v["valueRatio"].get("numerator") or {}).get("value"))
        den = to_decimal((v["valueRatio"].get("denominator") or {}).get("value", 1))
        return None if num is None or not den else num / den
    for key in ("valueInteger", "valueString"):
        if key in v:
            number = to_decimal(v[key])
            if number is not None:
                return number
            draft.report(
                f"{m.path}.{key}",
                "not-usable",
                f"{what} {v[key]!r} is not a number; the guideline compares numbers",
            )
            return None
    return None


def _not_usable_her2(m: _Measured, draft: Draft, entry: Mapping[str, Any]) -> None:
    what = entry["what"]
    if "not_used" in entry:
        draft.report(m.path, "not-usable", f"{what} {entry['not_used']}; not used")
        return
    result = _qualitative(m, draft)
    fact = entry.get("fact")
    spec = fact_spec(fact) if isinstance(fact, str) else None
    if spec is not None and result in spec.choices and is_record_only(spec.path):
        # the clinical record holds it: a guideline that reads the laboratory's result reads it
        draft.record_facts.setdefault(spec.path, (result, m.path))
        draft.report(
            m.path,
            "not-usable",
            f"{what} reported as {result}; kept as the {spec.name} a guideline may read, but "
            "a HER2 definition by the IHC score or the ISH ratio and copy number cannot use it",
        )
        return
    draft.report(
        m.path,
        "not-usable",
        f"{what} reported{f' as {result}' if result else ''}; the "
        "guideline's HER2 definition needs the IHC score or the ISH ratio and copy "
        "number, so it is shown to the reviewer but not evaluated",
    )


def _qualitative(m: _Measured, draft: Draft) -> str | None:
    for cd in codings(m.value_of.get("valueCodeableConcept"), f"{m.path}.valueCodeableConcept"):
        result = fhir_mapping().qualitative.get((_canonical(cd), cd.code or ""))
        if result is not None:
            return result
        draft.unrecognized(cd, "HER2 result")
    text = m.value_of.get("valueString")
    return text if isinstance(text, str) else None


def _report_unknown_marker(obs: Located, draft: Draft, voc: FhirMapping) -> None:
    """An observation whose words name a marker the data lists (``unknown_markers``) but that
    carries no code the adapters read (e.g. a LOINC code that does not exist) is reported rather
    than silently skipped."""
    known = voc.observation_codes
    found = codings(obs.resource.get("code"), obs.at("code"))
    if any(cd.code in known and is_system(cd.system, System.LOINC) for cd in found):
        return
    words = " ".join(
        filter(None, [concept_text(obs.resource.get("code")), *(cd.display for cd in found)])
    ).upper()
    for what, names in voc.unknown_markers.items():
        if any(name.upper() in words for name in names):
            for cd in found or [Coding(None, None, None, obs.at("code"))]:
                draft.unrecognized(cd, what)
            return


# -- latest-wins observations -------------------------------------------------------------------


def _latest(
    found: list[_Measured],
    draft: Draft,
    read: Callable[[_Measured, Draft], bool],
    keep: Callable[[_Measured], bool] = lambda m: True,
    *,
    agree: bool = True,
) -> None:
    """Read the most recent observation that yields a value; older ones are not used. With
    ``agree``, observations as recent (the same date, or none) must report the same value: when
    they do not, none is read and the conflict is reported, so the engine asks for the fact
    rather than the adapter choosing one."""
    ordered = sorted(
        (m for m in found if keep(m)),
        key=lambda m: effective_date(m.obs.resource) or date.min,
        reverse=True,
    )
    for m in ordered:
        rivals = _disagreeing(m, ordered) if agree else []
        if rivals:
            draft.report(
                m.path,
                "not-usable",
                "observations as recent report different values ("
                + "; ".join(r.path for r in [m, *rivals])
                + "); none is used",
            )
            return
        if read(m, draft):
            return


def _disagreeing(m: _Measured, ordered: list[_Measured]) -> list[_Measured]:
    """The observations that may be as recent as ``m`` (the same date, or none) with another
    value[x]."""
    day = effective_date(m.obs.resource)
    value = _value(m)
    return [
        o
        for o in ordered
        if o is not m and effective_date(o.obs.resource) in (day, None) and _value(o) != value
    ]


def _value(m: _Measured) -> dict[str, Any]:
    return {k: v for k, v in m.value_of.items() if k.startswith("value")}


def _body_weight(m: _Measured, draft: Draft) -> bool:
    q = m.value_of.get("valueQuantity")
    if not isinstance(q, dict):
        return False
    value, code = to_decimal(q.get("value")), q.get("code")
    unit = fhir_mapping().units["body_weight.kg"].get(code) if isinstance(code, str) else None
    if unit is None and code is None and q.get("unit") in ("kg", "lb", "lbs"):
        unit = "kg" if q["unit"] == "kg" else "lb"  # a unit written out, with no UCUM code
    if unit is None or value is None:
        draft.report(
            f"{m.path}.valueQuantity",
            "not-usable",
            f"body weight unit {code or q.get('unit')!r} is not kg or [lb_av]; not used",
        )
        return False
    day = effective_date(m.obs.resource)
    weight = {"value": str(value), "unit": unit, **({"date": day.isoformat()} if day else {})}
    return draft.set("body_weight", weight, f"{m.path}.valueQuantity")


def _record_only(m: _Measured, draft: Draft, kind: RecordObservation) -> bool:
    """Facts only the clinical record holds, from the latest observation with their value in
    the unit the catalogue reads them in, and its date; kept for the record."""
    q = m.value_of.get("valueQuantity")
    if not isinstance(q, dict):
        return False
    value, unit = to_decimal(q.get("value")), q.get("code") or q.get("unit")
    if value is None or unit != kind.unit:
        draft.report(
            f"{m.path}.valueQuantity",
            "not-usable",
            f"{', '.join(kind.values)}: unit {unit!r} is not {kind.unit!r}; not used",
        )
        return False
    for fact in kind.values:
        draft.record_facts.setdefault(fact, (value, f"{m.path}.valueQuantity"))
    day = effective_date(m.obs.resource)
    for fact in kind.dates if day else ():
        draft.record_facts.setdefault(fact, (day, m.path))
    return True


def _disease_status(m: _Measured, draft: Draft) -> bool:
    for cd in codings(m.value_of.get("valueCodeableConcept"), f"{m.path}.valueCodeableConcept"):
        status = fhir_mapping().choice("disease_status_on_treatment", cd.system, cd.code)
        if status:
            return draft.set("disease_status_on_treatment", status, cd.path)
        draft.unrecognized(cd, "cancer disease status")
    return False


def _is_erbb2(m: _Measured) -> bool:
    """Whether the variant observation's gene studied is the gene the fact is about."""
    voc = fhir_mapping()
    gene_studied = voc.observations["genomic_variant"]["gene_studied"]
    gene = voc.variant_of["erbb2_mutation.status"]
    for i, comp in enumerate(as_list(m.obs.resource.get("component"))):
        if not isinstance(comp, dict):
            continue
        studied = codings(comp.get("code"), m.obs.at("component", i, "code"))
        if any(g.code == gene_studied for g in studied):
            for cd in codings(comp.get("valueCodeableConcept"), ""):
                if any(g.matches(cd.system, cd.code) for g in gene):
                    return True
    return False


def _erbb2(m: _Measured, draft: Draft) -> bool:
    for cd in codings(m.value_of.get("valueCodeableConcept"), f"{m.path}.valueCodeableConcept"):
        status = fhir_mapping().choice("erbb2_mutation.status", cd.system, cd.code)
        if status is None:
            draft.unrecognized(cd, "ERBB2 variant result")
            continue
        day = effective_date(m.obs.resource)
        found = {"status": status, **({"date": day.isoformat()} if day else {})}
        variant = _variant_name(m.obs)
        if variant:
            found["variant"] = variant[:200]
        return draft.set("erbb2_mutation", found, cd.path)
    return False


def _variant_name(obs: Located) -> str | None:
    names = fhir_mapping().observations["genomic_variant"]["variant_name"]
    for comp in as_list(obs.resource.get("component")):
        if not isinstance(comp, dict):
            continue
        if any(cd.code in names for cd in codings(comp.get("code"), "")):
            if isinstance(comp.get("valueString"), str):
                return str(comp["valueString"])
            for cd in codings(comp.get("valueCodeableConcept"), ""):
                return cd.code or cd.display
    return None
