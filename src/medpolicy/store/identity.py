"""One case, one patient: what may not change when information is added to an open case."""

from __future__ import annotations

import json
from typing import Any

from medpolicy.errors import FieldError
from medpolicy.request import Request

__all__ = ["identity_problems"]


def _request_json(request: Request) -> str:
    return request.model_dump_json(exclude_none=True)


# What makes a case one patient's request: none of it may change once the case is open (a
# birth date may be added where none was given). Checked for every surface that adds to a case:
# a REST resubmission, a PAS $submit under an open case's Claim identifier, DTR answers.
_IDENTITY = (("request_id",), ("member", "id"), ("member", "organization"))
_ADDABLE_IDENTITY = (("member", "birth_date"),)


def identity_problems(stored: dict[str, Any], request: Request) -> list[FieldError]:
    """Why ``request`` cannot be added to the case whose request is ``stored``: one problem for
    each identifying fact that differs (none when it is the same patient's request)."""
    sent = json.loads(_request_json(request))
    problems = []
    for path in (*_IDENTITY, *_ADDABLE_IDENTITY):
        before, after = _at(stored, path), _at(sent, path)
        if before != after and not (path in _ADDABLE_IDENTITY and before is None):
            problems.append(FieldError(".".join(path), "cannot change on a resubmission"))
    return problems


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data
