"""Native request JSON in: every problem reported with the field it concerns, never a traceback."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from medpolicy import strict_json
from medpolicy.catalogue import KNOWN_FACTS, FactSpec, shared_catalogue
from medpolicy.catalogue.derive import in_unit
from medpolicy.definitions import icd10
from medpolicy.errors import FieldError, RequestError
from medpolicy.record.model import ClinicalRecord, Observation
from medpolicy.request import Request

__all__ = [
    "FORMAT_RULE",
    "decode_json",
    "field_path",
    "parse_any",
    "parse_record",
    "parse_request",
    "record_schema",
    "request_format",
    "request_schema",
    "validate_model",
]

Model = TypeVar("Model", bound=BaseModel)

MAX_BODY_BYTES = 1_000_000


def decode_json(data: bytes | str) -> Any:
    """JSON text to values (strictly: ``medpolicy.strict_json``), or a ``BodyError`` on
    ``(body)`` saying what is wrong and where."""
    if len(data) > MAX_BODY_BYTES:
        raise RequestError([FieldError("(body)", f"larger than {MAX_BODY_BYTES} bytes")])
    return strict_json.decode(data)


def parse_request(data: bytes | str | dict[str, Any]) -> Request:
    if isinstance(data, bytes | str):
        data = decode_json(data)
    if not isinstance(data, dict):
        raise RequestError([FieldError("(body)", "a request must be a JSON object")])
    request = validate_model(Request, data)
    errors = _semantic_errors(request)
    if errors:
        raise RequestError(errors)
    return request


def parse_record(data: bytes | str | dict[str, Any]) -> ClinicalRecord:
    """A clinical record (the current request format), checked like a request: every bad field
    named, codes that exist, dates no later than the request, plausible weights."""
    if isinstance(data, bytes | str):
        data = decode_json(data)
    record = validate_model(ClinicalRecord, data)
    errors = _record_errors(record)
    if errors:
        raise RequestError(errors)
    return record


# Which format a request is in, by one rule: a clinical record has ``order`` (and no
# ``medication``); a request of the earlier format has ``medication`` (and no ``order``).
RECORD_FIELD, EARLIER_FIELD = "order", "medication"
FORMAT_RULE = (
    f"a request is a clinical record (the current format), which has {RECORD_FIELD}, or a "
    f"request of the earlier format, which has {EARLIER_FIELD}"
)


def request_format(data: dict[str, Any]) -> Literal["record", "request"]:
    """The format of a request's JSON object, by ``FORMAT_RULE``; a ``RequestError`` naming the
    field when it has both shapes or neither."""
    has_order, has_medication = RECORD_FIELD in data, EARLIER_FIELD in data
    if has_order and has_medication:
        both = f"{FORMAT_RULE}: send one of them, not both"
        raise RequestError([FieldError(RECORD_FIELD, both), FieldError(EARLIER_FIELD, both)])
    if not has_order and not has_medication:
        raise RequestError([FieldError(RECORD_FIELD, f"required ({FORMAT_RULE})")])
    return "record" if has_order else "request"


def parse_any(data: bytes | str | dict[str, Any]) -> Request | ClinicalRecord:
    """A request in either format, told apart by ``request_format``."""
    if isinstance(data, bytes | str):
        data = decode_json(data)
    if not isinstance(data, dict):
        raise RequestError([FieldError("(body)", "a request must be a JSON object")])
    return parse_record(data) if request_format(data) == "record" else parse_request(data)


def validate_model(model: type[Model], data: Any) -> Model:
    """``model`` validated from ``data``, or a ``RequestError`` naming every bad field."""
    if not isinstance(data, dict):
        raise RequestError([FieldError("(body)", "expected a JSON object")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestError(
            [FieldError(field_path(e["loc"]), _problem(e)) for e in exc.errors()]
        ) from None


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _problem(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling against the request schema)"
    if error["type"] == "missing":
        return "required"
    got = error.get("input")
    if error["type"] not in ("missing",) and not isinstance(got, dict | list) and got is not None:
        return f"{message} (got {json.dumps(got, default=str)[:60]})"
    return message


def _semantic_errors(r: Request) -> list[FieldError]:
    """Checks no schema can express: real codes, possible dates, plausible weights."""
    errors = []
    coded: list[tuple[str, str | None]] = [
        (f"diagnoses[{i}]", code) for i, code in enumerate(r.diagnoses or [])
    ]
    if r.her2 is not None:  # the condition each finding is about
        coded += [(f"her2.ihc[{i}].condition", t.condition) for i, t in enumerate(r.her2.ihc)]
        coded += [(f"her2.ish[{i}].condition", t.condition) for i, t in enumerate(r.her2.ish)]
    if r.erbb2_mutation is not None:
        coded.append(("erbb2_mutation.condition", r.erbb2_mutation.condition))
    for name, code in coded:
        if code is not None and not icd10.is_valid(code):
            errors.append(
                FieldError(
                    name,
                    f"'{code}' is not an ICD-10-CM code in the {icd10.code_set_version()} code set",
                )
            )
    today = r.submitted_at.date()
    dated = [
        ("member.birth_date", r.member.birth_date),
        ("body_weight.date", r.body_weight.date if r.body_weight else None),
    ]
    if r.her2:
        dated += [(f"her2.ihc[{i}].date", t.date) for i, t in enumerate(r.her2.ihc)]
        dated += [(f"her2.ish[{i}].date", t.date) for i, t in enumerate(r.her2.ish)]
    for i, p in enumerate(r.prior_authorizations or []):
        dated.append((f"prior_authorizations[{i}].approved_on", p.approved_on))
    for i, th in enumerate(r.prior_therapies or []):
        dated.append((f"prior_therapies[{i}].start_date", th.start_date))
        if th.start_date and th.end_date and th.end_date < th.start_date:
            errors.append(FieldError(f"prior_therapies[{i}].end_date", "is before start_date"))
    for name, value in dated:
        if value is not None and value > today:
            errors.append(
                FieldError(
                    name, f"{value.isoformat()} is after the request date {today.isoformat()}"
                )
            )
    w = r.body_weight
    if w is not None:
        limit = {"kg": 400, "lb": 880}[w.unit]
        if w.value > limit:
            errors.append(
                FieldError(
                    "body_weight.value",
                    f"{w.value} {w.unit} is not a plausible "
                    f"body weight (over {limit} {w.unit}); check the unit",
                )
            )
    if r.her2 is not None:
        for i, t in enumerate(r.her2.ish):
            if t.ratio is None and t.copy_number is None:
                errors.append(FieldError(f"her2.ish[{i}]", "needs a ratio, a copy number, or both"))
    return errors


def _record_errors(r: ClinicalRecord) -> list[FieldError]:
    """The checks no schema can express, for a clinical record."""
    errors = []
    coded = [("order.condition", r.order.condition)]
    coded += [(f"conditions[{i}].code", c.code) for i, c in enumerate(r.conditions or [])]
    for name, code in coded:
        if code is not None and not icd10.is_valid(code):
            errors.append(
                FieldError(
                    name,
                    f"'{code}' is not an ICD-10-CM code in the {icd10.code_set_version()} code set",
                )
            )
    today = r.submitted_at.date()
    dated: list[tuple[str, Any]] = [("member.birth_date", r.member.birth_date)]
    for i, c in enumerate(r.conditions or []):
        dated += [(f"conditions[{i}].findings[{j}].date", f.date) for j, f in enumerate(c.findings)]
        dated.append((f"conditions[{i}].recurrence_date", c.recurrence_date))
    dated += [(f"observations[{i}].date", o.date) for i, o in enumerate(r.observations or [])]
    for i, use in enumerate(r.medication_history or []):
        dated.append((f"medication_history[{i}].start_date", use.start_date))
        if use.start_date and use.end_date and use.end_date < use.start_date:
            errors.append(FieldError(f"medication_history[{i}].end_date", "is before start_date"))
    for i, p in enumerate(r.prior_authorizations or []):
        dated.append((f"prior_authorizations[{i}].approved_on", p.approved_on))
    dated += [(f"attestations[{i}].date", a.date) for i, a in enumerate(r.attestations or [])]
    for name, value in dated:
        if value is not None and value > today:
            errors.append(
                FieldError(
                    name, f"{value.isoformat()} is after the request date {today.isoformat()}"
                )
            )
    return errors + _implausible(r)


def _implausible(r: ClinicalRecord) -> list[FieldError]:
    """Observations reporting more than the fact they are read as can plausibly be (the
    catalogue's ``plausible_max``), or zero for a fact only above zero (``positive``: a body
    weight): refused, as the earlier format refuses such a weight, so a unit slip never sizes a
    dose, and no dose is sized by a weight of zero."""
    errors = []
    # the shared catalogue's facts and those of every policy loaded (a policy's own facts)
    for fact in {**shared_catalogue().facts, **KNOWN_FACTS}.values():
        codes = fact.source.get("observation")
        if (fact.plausible_max is None and not fact.positive) or not codes or fact.unit is None:
            continue
        for i, o in enumerate(r.observations or []):
            problem = _implausible_value(fact, o) if o.code in codes else None
            if problem is not None:
                errors.append(FieldError(f"observations[{i}].value", problem))
    return errors


def _implausible_value(fact: FactSpec, o: Observation) -> str | None:
    if fact.positive and o.value <= 0:  # zero in any unit, "-0" too
        return f"{o.value} {o.unit} is not a plausible {fact.name} (it must be more than 0)"
    value = None if fact.unit is None else in_unit(o.value, o.unit, fact.unit)
    if fact.plausible_max is not None and value is not None and value > fact.plausible_max:
        return (
            f"{o.value} {o.unit} is not a plausible {fact.name} (over "
            f"{fact.plausible_max} {fact.unit}); check the unit"
        )
    return None


def record_schema() -> dict[str, Any]:
    schema = ClinicalRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://medpolicy.dev/schemas/record.json"
    return schema


def request_schema() -> dict[str, Any]:
    schema = Request.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://medpolicy.dev/schemas/request.json"
    return schema
