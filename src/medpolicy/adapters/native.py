"""Native request JSON in: every problem reported with the field it concerns, never a traceback."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from medpolicy import strict_json
from medpolicy.definitions import icd10
from medpolicy.errors import FieldError, RequestError
from medpolicy.request import Request

__all__ = ["decode_json", "field_path", "parse_request", "request_schema", "validate_model"]

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
    for i, code in enumerate(r.diagnoses or []):
        if not icd10.is_valid(code):
            errors.append(
                FieldError(
                    f"diagnoses[{i}]",
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


def request_schema() -> dict[str, Any]:
    schema = Request.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://medpolicy.dev/schemas/request.json"
    return schema
