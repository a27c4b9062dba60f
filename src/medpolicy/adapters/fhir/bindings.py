"""Required code bindings of FHIR R4: a ``code`` element whose value set is required must hold
one of its codes (``Claim.status`` is active | cancelled | draft | entered-in-error, never
"bogus"; ``Patient.gender`` never "x").

``fhir.resources`` checks structure and types but not code values, so every resource read is
also walked here against ``r4_required_codes.json``: the R4 elements of type code with a
required, enumerable value set, generated from the R4 definitions
(``tests/fhir/conformance/r4_codes.py``; a test keeps it current). Each wrong code is reported at
its element, with the codes allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel

__all__ = ["code_problems"]


@cache
def _table() -> tuple[Mapping[str, frozenset[str]], Mapping[str, str]]:
    text = resources.files(__package__).joinpath("r4_required_codes.json").read_text("utf-8")
    data = json.loads(text)
    codes = {path: frozenset(values) for path, values in data["codes"].items()}
    return codes, dict(data["aliases"])


def code_problems(model: FHIRAbstractModel, expression: str) -> list[tuple[str, str]]:
    """(expression, problem) for every code outside its required value set, in document order."""
    return list(_walk(model, str(model.get_resource_type()), expression))


def _walk(model: FHIRAbstractModel, path: str, expression: str) -> Iterator[tuple[str, str]]:
    codes, aliases = _table()
    for name, field in type(model).model_fields.items():
        if name not in model.model_fields_set:
            continue
        key = field.alias or name
        value = getattr(model, name)
        element = f"{path}.{key}"
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _value(item, element, f"{expression}.{key}[{i}]", codes, aliases)
        else:
            yield from _value(value, element, f"{expression}.{key}", codes, aliases)


def _value(
    value: Any,
    element: str,
    expression: str,
    codes: Mapping[str, frozenset[str]],
    aliases: Mapping[str, str],
) -> Iterator[tuple[str, str]]:
    if isinstance(value, Resource):
        return  # a contained resource: checked as a resource of its own
    if isinstance(value, FHIRAbstractModel):
        yield from _walk(value, _path(value, element, aliases), expression)
    elif isinstance(value, str) and element in codes and value not in codes[element]:
        allowed = sorted(codes[element])
        shown = ", ".join(allowed[:12]) + (", …" if len(allowed) > 12 else "")
        yield expression, f"{value!r} is not a code of the required value set ({shown})"


def _path(value: FHIRAbstractModel, element: str, aliases: Mapping[str, str]) -> str:
    """The definition path of a complex value: its element's own (backbone and nested elements,
    defined inside their resource or type), else its data type's (``Quantity`` for an ``Age``)."""
    cls = type(value)
    if cls.__module__.rsplit(".", 1)[-1] != cls.__name__.lower():
        return aliases.get(element, element)
    return _type_path(cls)


@cache
def _type_path(cls: type) -> str:
    types = {k.split(".", 1)[0] for k in _table()[0]}
    return next((b.__name__ for b in cls.__mro__ if b.__name__ in types), cls.__name__)
