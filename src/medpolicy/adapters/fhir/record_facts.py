"""Facts only the clinical record holds, answered in a DTR QuestionnaireResponse, put in the record.

The earlier request format has no field for some facts the catalogue reads (an LVEF, the overall
HER2 result, the treatment setting, a recurrence date): their questions are generated like any
other, and their answers are placed where the fact's catalogue ``from:`` says the record holds it.
Nothing here names a fact: the place is read from the catalogue, so a fact added there is read
back without a change here.

- ``{member: field}``, ``{order: field}``, ``{compendium: field}``: that field;
- ``{observation: [codes], take: value | date}``: one observation coded with the first code, its
  value in the fact's unit, or its date (a date without its measurement is not used);
- ``{finding: [codes], take: result | value | test}``: one finding coded with the first code, under
  the condition whose code the sender did not say (as the earlier format's findings are);
- ``{condition: field}``: that field of the condition whose code was not said;
- ``{attestation: statement}``: the prescriber's statement.

Any other form is reported and not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from medpolicy.adapters.fhir.answers import choice_from_coding
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.resources import parse_date, to_decimal
from medpolicy.adapters.native import parse_record
from medpolicy.catalogue import KNOWN_FACTS, Catalogue, FactSpec, shared_catalogue
from medpolicy.errors import FieldError, RequestError
from medpolicy.facts import extract_facts
from medpolicy.record.legacy import to_record
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request

__all__ = [
    "answer_value",
    "fact_spec",
    "is_record_only",
    "keep_record_facts",
    "kept_record_facts",
    "known_facts",
    "record_of",
    "with_record_facts",
]

_PLACED = ("member", "order", "compendium", "observation", "finding", "condition", "attestation")


def known_facts() -> Mapping[str, FactSpec]:
    """Every fact the catalogue declares: the shared ones, and each loaded policy's own."""
    shared_catalogue()  # registers the shared facts
    return KNOWN_FACTS


def fact_spec(fact: str) -> FactSpec | None:
    """The fact as the catalogue declares it (None: no such fact)."""
    return known_facts().get(fact)


def is_record_only(fact: str) -> bool:
    """A catalogue fact the earlier request format has no field for."""
    spec = fact_spec(fact)
    return spec is not None and not spec.request_field


def answer_value(fact: str, answer: Any) -> Any:
    """An answer (the value of a QuestionnaireResponse answer) as the fact's value, or None
    when it is not one of the fact's kind."""
    spec = fact_spec(fact)
    if spec is None:
        return None
    if spec.kind == "choice":
        choice = choice_from_coding(fact, answer)
        return choice if choice in spec.choices else None
    if spec.kind == "decimal":
        number = answer.get("value") if isinstance(answer, dict) else answer
        return None if isinstance(number, bool) else to_decimal(number)
    if spec.kind == "integer":
        return answer if isinstance(answer, int) and not isinstance(answer, bool) else None
    if spec.kind == "boolean":
        return answer if isinstance(answer, bool) else None
    if spec.kind == "date":
        return parse_date(answer) if isinstance(answer, str) else None
    return None


def with_record_facts(
    request: Request, answered: Mapping[str, tuple[Any, str]], draft: Draft
) -> tuple[ClinicalRecord | None, list[tuple[str, str, str]]]:
    """The request as the clinical record, with each answered record-only fact placed where the
    catalogue reads it; and every (FHIR expression, field, problem) the record refused."""
    data = to_record(request).model_dump(exclude_none=True)
    sources: dict[str, str] = {}
    pending: dict[str, dict[str, Any]] = {}  # observations by code, until each has its value
    for fact, (value, path) in answered.items():
        spec = fact_spec(fact)
        form = next((k for k in _PLACED if spec is not None and k in spec.source), None)
        if spec is None or form is None:
            draft.report(path, "not-usable", f"{fact}: the record has no place for this answer")
            continue
        sources[_place(data, pending, spec, form, _plain(value))] = path
    for code, observation in pending.items():
        path = sources.pop(f"observations.{code}")
        if "value" in observation:
            observations = data.setdefault("observations", [])
            sources[f"observations.{len(observations)}"] = path
            observations.append(observation)
        else:
            draft.report(path, "not-usable", "a date without its measurement is not used")
    try:  # checked as a record sent as it is: its schema, and dates no later than the request
        return parse_record(data), []
    except RequestError as exc:
        problems = []
        for error in exc.errors:
            where = error.field.replace("[", ".").replace("]", "")
            found = next(
                (s for key, s in sources.items() if f"{where}.".startswith(f"{key}.")), draft.root
            )
            problems.append((found, where, error.problem))
        return None, problems


def kept_record_facts(
    request: Request, record: ClinicalRecord, catalogue: Catalogue, path: str
) -> dict[str, tuple[Any, str]]:
    """The facts only ``record`` holds (what reading ``request`` alone does not give: the DTR
    answers it was built with), each as (value, ``path``), ready for ``with_record_facts`` to
    place again on a request that adds to the case: what a case's record held is kept."""
    held = extract_facts(record, catalogue=catalogue).values
    given = extract_facts(request, catalogue=catalogue).values
    return {
        fact: (value, path)
        for fact, value in held.items()
        if fact not in given and is_record_only(fact) and _placeable(fact)
    }


def keep_record_facts(
    stored: tuple[Request, ClinicalRecord | None], catalogue: Catalogue, draft: Draft
) -> None:
    """A case's stored (request, record): the facts only its record held, put in
    ``draft.record_facts`` before anything that adds to the case is read into ``draft``, so that
    what the case has is kept (a later answer to one of them is reported as superseded)."""
    before, record = stored
    if record is not None:
        for fact, held in kept_record_facts(before, record, catalogue, draft.root).items():
            draft.record_facts.setdefault(fact, held)


def record_of(request: Request, draft: Draft) -> ClinicalRecord | None:
    """``request`` as the clinical record with ``draft.record_facts`` placed (None when there
    are none: the request is the whole of it), or a ``RequestError`` naming each value the
    record refuses."""
    if not draft.record_facts:
        return None
    record, refused = with_record_facts(request, draft.record_facts, draft)
    if refused or record is None:
        raise RequestError([FieldError(where, problem) for _, where, problem in refused])
    return record


def _placeable(fact: str) -> bool:
    spec = fact_spec(fact)
    return spec is not None and any(k in spec.source for k in _PLACED)


def _plain(value: Any) -> Any:
    """A value as the record's JSON holds it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _place(
    data: dict[str, Any],
    pending: dict[str, dict[str, Any]],
    spec: FactSpec,
    form: str,
    value: Any,
) -> str:
    """Put one value where ``form`` says; the record field it went to (an observation: by its
    code, until it is added with its value)."""
    source = spec.source
    if form in ("member", "order", "compendium"):
        *parents, last = str(source[form]).split(".")
        node = data.setdefault(form, {})
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        return f"{form}.{source[form]}"
    if form == "attestation":
        attestations = data.setdefault("attestations", [])
        attestations.append({"statement": str(source[form]), "value": value})
        return f"attestations.{len(attestations) - 1}"
    if form == "observation":
        code = str(source[form][0])
        observation = pending.setdefault(code, {"code": code})
        if source.get("take") == "date":
            observation["date"] = value
        else:
            observation.update(value=value, unit=str(source.get("unit") or spec.unit or "1"))
        return f"observations.{code}"
    at, condition = _unsaid(data)
    if form == "condition":
        condition[str(source[form])] = value
        return f"conditions.{at}.{source[form]}"
    code, findings = str(source[form][0]), condition["findings"]
    i = next((i for i, f in enumerate(findings) if f.get("code") == code), len(findings))
    if i == len(findings):
        findings.append({"code": code})
    take = str(source.get("take", "result"))
    findings[i][take] = value
    return f"conditions.{at}.findings.{i}.{take}"


def _unsaid(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The condition whose code the sender did not say, with its place (added when there is
    none)."""
    conditions = data.setdefault("conditions", [])
    for i, condition in enumerate(conditions):
        if condition.get("code") is None:
            condition.setdefault("findings", [])
            found: dict[str, Any] = condition
            return i, found
    added: dict[str, Any] = {"findings": []}
    conditions.append(added)
    return len(conditions) - 1, added
