"""The clinical codes the FHIR adapters understand, read from data: the fact catalogue
(``catalogue/oncology.yaml``: the LOINC codes each fact is read from), its FHIR side
(``catalogue/fhir.yaml``: answer codes, question codes, prefill, conditions, coverage types) and
the drug vocabulary (``catalogue/drugs.yaml``: drugs by HCPCS, RxNorm and NDC code).

Nothing here names a code, a fact's value or a drug: a new observation code, drug or coverage
type is a row of data, with its source beside it. A coding the data does not list is *reported*
by the adapter, never guessed at. Protocol vocabularies (code system URIs, X12 and HL7 code lists,
UCUM units) stay in ``codes``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from medpolicy import catalogue
from medpolicy.adapters.fhir.codes import System, is_system
from medpolicy.catalogue import FactSpec, shared_catalogue, shared_drugs
from medpolicy.definitions.drugs import CodeSystem, normalize_code

__all__ = [
    "Coded",
    "ConditionRule",
    "Drug",
    "FhirMapping",
    "RecordObservation",
    "drug_by_code",
    "fhir_mapping",
    "loinc_codes",
    "record_observations",
]

FHIR_YAML = Path(catalogue.__file__).with_name("fhir.yaml")

# The short names the data writes systems by.
_SYSTEMS: Mapping[str, str] = {
    "loinc": System.LOINC,
    "snomed": System.SNOMED,
    "icd-10-cm": System.ICD10CM,
    "hgnc": System.HGNC,
    "sopt": System.SOPT,
}
# A LOINC code: digits, a hyphen, a check digit (the catalogue's other codes are its own names).
_LOINC = re.compile(r"^\d{1,7}-\d$")


@dataclass(frozen=True)
class Coded:
    system: str  # the canonical URI
    code: str
    display: str | None = None

    def matches(self, system: str | None, code: str | None) -> bool:
        return code == self.code and is_system(system, self.system)


@dataclass(frozen=True)
class ConditionRule:
    """A condition coded so, anywhere in the record, states a fact: ``set`` it to ``value``, or
    ``add`` ``value`` to a list fact."""

    fact: str
    value: Any
    adds: bool
    codes: frozenset[tuple[str, str]]  # (system URI, code), the code exactly
    prefixes: Mapping[str, tuple[str, ...]]  # system URI -> code prefixes (upper case)

    def matches(self, system: str | None, code: str | None) -> bool:
        if not code:
            return False
        return any(
            is_system(system, uri)
            and ((uri, code) in self.codes or code.upper().startswith(self.prefixes.get(uri, ())))
            for uri in {uri for uri, _ in self.codes} | set(self.prefixes)
        )


@dataclass(frozen=True)
class Drug:
    """A drug the adapters recognise by code: the name they write for it (its first name in the
    vocabulary) and its HCPCS Level II code, when it has one."""

    name: str
    hcpcs: str | None


@dataclass(frozen=True, eq=False)
class FhirMapping:
    facts: tuple[str, ...]  # the facts with a FHIR side, in the file's order
    # fact -> the code of the concept its question asks about (Questionnaire.item.code)
    questions: Mapping[str, Coded]
    answers: Mapping[str, Mapping[str, Coded]]  # fact -> choice -> its standard coding
    reads: Mapping[str, Mapping[tuple[str, str], str]]  # fact -> (system, code) -> choice read
    choice_displays: Mapping[str, str]  # choice -> the words it is shown with
    prefill: Mapping[str, str]  # fact -> FHIRPath initial expression
    variables: Mapping[str, str]  # x-fhir-query variable -> query
    observations: Mapping[str, Mapping[str, Any]]  # what an observation reports -> its entry
    qualitative: Mapping[tuple[str, str], str]  # (system, code) -> positive | negative | equivocal
    conditions: tuple[ConditionRule, ...]
    indications: Mapping[tuple[str, str], str]  # (system, code) -> the indication it states
    line_of_business: Mapping[str, Mapping[str, str]]  # Coverage.type system -> code -> line
    variant_of: Mapping[str, tuple[Coded, ...]]  # fact -> the gene a variant must be of
    units: Mapping[str, Mapping[str, str]]  # fact -> UCUM unit -> the unit the request names
    unknown_markers: Mapping[str, tuple[str, ...]]  # what is reported -> the words naming it
    any_question: Mapping[str, str]  # list fact -> its "any?" question
    record_heading: Mapping[str, str]  # list fact -> its repeated record group's heading

    @functools.cached_property
    def observation_codes(self) -> tuple[str, ...]:
        """Every LOINC code of an observation the adapters read: the facts' with a FHIR side,
        then every ``observations:`` entry's, then the record-only facts', each group in code
        order."""
        names = [*(f for f in self.facts if f in shared_catalogue()), *self.observations]
        found = [c for name in names for c in sorted(self.codes(name))]
        for kind in record_observations(shared_catalogue().facts):
            found += sorted(kind.codes)
        return tuple(dict.fromkeys(found))

    def codes(self, name: str) -> frozenset[str]:
        """The LOINC codes of an ``observations:`` entry, or of a catalogue fact."""
        return _codes(self.observations, name)

    def choice(self, fact: str, system: str | None, code: str | None) -> str | None:
        """The fact's choice a coding stands for, by its standard or read-only codes."""
        for (uri, known), choice in self.reads.get(fact, {}).items():
            if code == known and is_system(system, uri):
                return choice
        return None


@functools.cache
def loinc_codes(fact: str) -> frozenset[str]:
    """The LOINC codes the catalogue reads a fact from (its ``from:`` observation or finding
    codes, or a ``concurrent`` pair's)."""
    return _loinc(shared_catalogue()[fact].source)


@dataclass(frozen=True)
class RecordObservation:
    """Facts only the clinical record holds (no field in the earlier request format), read from
    one kind of observation: its value in ``unit`` (``values``) or its date (``dates``)."""

    codes: frozenset[str]  # LOINC
    unit: str | None
    values: tuple[str, ...]
    dates: tuple[str, ...]


def record_observations(facts: Mapping[str, FactSpec]) -> tuple[RecordObservation, ...]:
    """The catalogue's record-only facts read from an observation with LOINC codes, grouped by
    the observation they come from (a value and its date are read from the same one)."""
    groups: dict[frozenset[str], tuple[str | None, list[str], list[str]]] = {}
    for path, spec in facts.items():
        codes = _loinc(spec.source) if "observation" in spec.source else frozenset()
        if spec.request_field or not codes:
            continue
        unit, values, dates = groups.setdefault(codes, (None, [], []))
        if spec.source.get("take") == "date":
            dates.append(path)
        else:
            values.append(path)
            unit = str(spec.source.get("unit") or spec.unit or "") or None
            groups[codes] = (unit, values, dates)
    return tuple(
        RecordObservation(codes, unit, tuple(values), tuple(dates))
        for codes, (unit, values, dates) in groups.items()
        if values
    )


def _loinc(source: Mapping[str, Any]) -> frozenset[str]:
    found: list[Any] = []
    for key in ("observation", "finding"):
        found += source.get(key) or []
    for part in (source.get("concurrent") or {}).values():
        found += part
    return frozenset(str(c) for c in found if _LOINC.match(str(c)))


def _codes(observations: Mapping[str, Mapping[str, Any]], name: str) -> frozenset[str]:
    entry = observations.get(name)
    if entry is None:
        return loinc_codes(name)
    if "fact" in entry:
        return loinc_codes(str(entry["fact"]))
    return frozenset(str(c) for c in entry["codes"])


def _coded(raw: Mapping[str, Any]) -> Coded:
    return Coded(_SYSTEMS[str(raw["system"])], str(raw["code"]), raw.get("display"))


def _frozen(table: Mapping[str, Mapping[Any, Any]]) -> Mapping[str, Mapping[Any, Any]]:
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in table.items()})


def _answers(facts: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Coded]]:
    return {
        fact: {str(choice): _coded(c) for choice, c in m["answers"].items()}
        for fact, m in facts.items()
        if "answers" in m
    }


def _reads(
    facts: Mapping[str, Mapping[str, Any]], answers: Mapping[str, Mapping[str, Coded]]
) -> dict[str, dict[tuple[str, str], str]]:
    """Per fact, every coding read as one of its choices: its standard answers, and the codes
    only read (``reads:``)."""
    reads: dict[str, dict[tuple[str, str], str]] = {}
    for fact, m in facts.items():
        table = reads.setdefault(fact, {})
        for choice, coded in answers.get(fact, {}).items():
            table[(coded.system, coded.code)] = choice
        for system, codes in (m.get("reads") or {}).items():
            for code, choice in codes.items():
                table[(_SYSTEMS[system], str(code))] = str(choice)
    return reads


def _expression(template: str, reads: Mapping[tuple[str, str], str]) -> str:
    """A prefill expression; ``{reads}`` stands for the fact's coded answers, each selected as
    the choice it is read as (the same table reads a response back)."""
    coded = " | ".join(
        f"value.ofType(CodeableConcept).coding.where(system = '{system}' and code = '{code}')"
        f".select('{choice}')"
        for (system, code), choice in sorted(reads.items())
    )
    return template.replace("{reads}", coded)


_PATIENT = "patient={{%patient.id}}"


def _query(spec: Mapping[str, Any], observations: Mapping[str, Mapping[str, Any]]) -> str:
    if "query" in spec:
        return str(spec["query"]).replace("{patient}", _PATIENT)
    found = sorted(_codes(observations, str(spec["observation"])))
    codes = ",".join(f"{System.LOINC}|{c}" for c in found)
    latest = "&_sort=-date&_count=1" if spec.get("latest") else ""
    return f"Observation?{_PATIENT}&code={codes}{latest}"


def _condition(raw: Mapping[str, Any]) -> ConditionRule:
    adds = "add" in raw
    return ConditionRule(
        fact=str(raw["add"] if adds else raw["set"]),
        value=raw["to"],
        adds=adds,
        codes=frozenset(
            (_SYSTEMS[system], str(code))
            for system, codes in (raw.get("codes") or {}).items()
            for code in codes
        ),
        prefixes=MappingProxyType(
            {
                _SYSTEMS[system]: tuple(str(p).upper() for p in prefixes)
                for system, prefixes in (raw.get("prefixes") or {}).items()
            }
        ),
    )


def _line_of_business(facts: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Coverage.type system -> code -> line of business: the fact's choices in medpolicy's own
    system, and each payer vocabulary's codes the data lists."""
    lines = shared_catalogue()["member.line_of_business"].choices
    table = {System.LINE_OF_BUSINESS: {line: line for line in lines}}
    for system, by_line in facts["member.line_of_business"]["coverage_type"].items():
        table[_SYSTEMS[system]] = {
            str(code): str(line) for line, codes in by_line.items() for code in codes
        }
    return table


def _per_fact(
    facts: Mapping[str, Mapping[str, Any]], key: str, convert: Callable[[Any], Any]
) -> Mapping[str, Any]:
    """Each fact's ``key`` entry, converted; facts without one left out."""
    return MappingProxyType({f: convert(m[key]) for f, m in facts.items() if key in m})


def _strings(raw: Mapping[Any, Any]) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in raw.items()})


@functools.cache
def fhir_mapping() -> FhirMapping:
    """The FHIR side of the catalogue, read once (KeyError: the file lacks a section)."""
    doc = yaml.safe_load(FHIR_YAML.read_text(encoding="utf-8"))
    facts: Mapping[str, Mapping[str, Any]] = doc["facts"]
    observations: Mapping[str, Mapping[str, Any]] = MappingProxyType(dict(doc["observations"]))
    answers = _answers(facts)
    reads = _reads(facts, answers)
    return FhirMapping(
        facts=tuple(facts),
        questions=_per_fact(facts, "question", _coded),
        answers=_frozen(answers),
        reads=_frozen(reads),
        choice_displays=_strings(doc["choice_displays"]),
        prefill=MappingProxyType(
            {
                f: _expression(str(m["prefill"]["expression"]), reads[f])
                for f, m in facts.items()
                if "expression" in (m.get("prefill") or {})
            }
        ),
        variables=MappingProxyType(
            {name: _query(spec, observations) for name, spec in doc["variables"].items()}
        ),
        observations=observations,
        qualitative=MappingProxyType(
            {
                (_SYSTEMS[str(c["system"])], str(c["code"])): str(result)
                for result, codings in doc["qualitative_results"].items()
                for c in codings
            }
        ),
        conditions=tuple(_condition(r) for r in doc["conditions"]),
        indications=MappingProxyType(
            {
                (_SYSTEMS[system], str(code)): str(indication)
                for system, codes in doc["indications"].items()
                for code, indication in codes.items()
            }
        ),
        line_of_business=_frozen(_line_of_business(facts)),
        variant_of=_per_fact(
            facts,
            "variant_of",
            lambda v: tuple(Coded(_SYSTEMS[str(v["system"])], str(c)) for c in v["codes"]),
        ),
        units=_per_fact(facts, "units", _strings),
        unknown_markers=MappingProxyType(
            {str(k): tuple(str(w) for w in v) for k, v in doc["unknown_markers"].items()}
        ),
        any_question=_per_fact(facts, "any", str),
        record_heading=_per_fact(facts, "record", str),
    )


# -- drugs ------------------------------------------------------------------------------------


@functools.cache
def _drugs() -> Mapping[tuple[CodeSystem, str], Drug]:
    table: dict[tuple[CodeSystem, str], Drug] = {}
    for entry in shared_drugs().values():
        codes: Mapping[str, list[Any]] = entry.get("codes") or {}
        hcpcs = [str(c) for c in codes.get("hcpcs") or []]
        drug = Drug(str(entry["names"][0]), hcpcs[0] if hcpcs else None)
        for system in ("hcpcs", "rxnorm", "ndc"):
            for code in codes.get(system) or []:
                table.setdefault((system, normalize_code(system, str(code))), drug)
    return MappingProxyType(table)


def drug_by_code(system: CodeSystem, code: str) -> Drug | None:
    """The drug the shared vocabulary knows by this code (None: no drug it knows)."""
    return _drugs().get((system, normalize_code(system, code)))
