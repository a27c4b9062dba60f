"""List facts (prior therapies, prior authorizations, concurrent drugs) as repeating Questionnaire
groups, and back.

The questions for one record are derived from the request model's own fields (their types, their
allowed values, whether they are required), so a field added to ``medpolicy.request`` appears in the
Questionnaire without a second list to keep in step. "None" is a real answer (an empty list means
*reported as none*), so each list is asked as "any?" first and its records only when the answer is
yes.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from medpolicy.adapters.fhir.answers import choice_coding, choice_from_coding, indication_system
from medpolicy.adapters.fhir.vocabulary import fhir_mapping
from medpolicy.policy import tree as t
from medpolicy.request import Request

__all__ = ["read_record", "record_items", "record_model"]


def _strip(annotation: Any) -> Any:
    """The type under Optional[...] and Annotated[...]."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _strip(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _strip(inner[0]) if len(inner) == 1 else annotation
    return annotation


def record_model(fact: str) -> type[BaseModel] | None:
    """The request model class of one record of a list fact (None for a list of names)."""
    field = Request.model_fields[fact.split(".")[0]]
    if fact == "medication.concurrent_anticancer_drugs":
        return None
    element = get_args(_strip(field.annotation))[0]
    return element if isinstance(element, type) and issubclass(element, BaseModel) else None


def _field_item(
    fact: str, name: str, annotation: Any, required: bool, policy: t.Policy
) -> dict[str, Any]:
    link = f"{fact}.record.{name}"
    item: dict[str, Any] = {
        "linkId": link,
        "text": name.replace("_", " ").capitalize(),
        "required": required,
    }
    base = _strip(annotation)
    if name == "indication":
        item.update(
            type="choice",
            answerOption=[
                {
                    "valueCoding": {
                        "system": indication_system(policy.meta.id),
                        "code": i.id,
                        "display": i.label,
                    }
                }
                for i in policy.indications.values()
            ],
        )
    elif get_origin(base) is Literal:
        item.update(
            type="choice",
            answerOption=[{"valueCoding": choice_coding(link, str(v))} for v in get_args(base)],
        )
    elif base is date:
        item["type"] = "date"
    elif base is int:
        item["type"] = "integer"
    elif base is bool:
        item["type"] = "boolean"
    else:
        item["type"] = "string"
    if name == "drug_hcpcs":
        item["initial"] = [{"valueString": policy.drug.hcpcs}]
    return item


def record_items(fact: str, policy: t.Policy) -> list[dict[str, Any]]:
    """A list fact's questions: "any?" (its wording: ``catalogue/fhir.yaml``), then its records,
    under a heading that shows which list a form is adding to."""
    voc = fhir_mapping()
    any_item = {"linkId": f"{fact}.any", "type": "boolean", "text": voc.any_question[fact]}
    when = {"enableWhen": [{"question": f"{fact}.any", "operator": "=", "answerBoolean": True}]}
    model = record_model(fact)
    if model is None:
        names = {
            "linkId": f"{fact}.drug",
            "type": "string",
            "repeats": True,
            "text": "Drug name",
            **when,
        }
        return [any_item, names]
    fields = [
        _field_item(fact, name, info.annotation, info.is_required(), policy)
        for name, info in model.model_fields.items()
    ]
    return [
        any_item,
        {
            "linkId": f"{fact}.record",
            "type": "group",
            "repeats": True,
            "text": voc.record_heading.get(fact, "One record each"),
            "item": fields,
            **when,
        },
    ]


def _answer_value(fact: str, name: str, answer: Mapping[str, Any]) -> Any:
    if "valueCoding" in answer:
        coding = answer["valueCoding"]
        if name == "indication":
            return coding.get("code")
        return choice_from_coding(f"{fact}.record.{name}", coding)
    for key in ("valueDate", "valueInteger", "valueString", "valueBoolean", "valueDecimal"):
        if key in answer:
            return answer[key]
    return None


def read_record(fact: str, group: Mapping[str, Any]) -> dict[str, Any]:
    """One answered record group -> the request's record dict (unanswered fields left out)."""
    record: dict[str, Any] = {}
    prefix = f"{fact}.record."
    for item in group.get("item") or []:
        link = item.get("linkId", "") if isinstance(item, dict) else ""
        answers = item.get("answer") or [] if isinstance(item, dict) else []
        if link.startswith(prefix) and answers and isinstance(answers[0], dict):
            value = _answer_value(fact, link[len(prefix) :], answers[0])
            if value is not None:
                record[link[len(prefix) :]] = value
    return record
