"""One case, one patient: what may not change when information is added to an open case."""

from __future__ import annotations

import json
from typing import Any

from medpolicy.errors import FieldError
from medpolicy.request import Request

__all__ = ["IDENTITY_COLUMNS", "identity_columns", "identity_problems", "refused_changes"]


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
    return [
        FieldError(change["field"], "cannot change on a resubmission")
        for change in refused_changes(stored, request)
    ]


def refused_changes(stored: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    """Each identifying fact ``request`` would change: its field, the case's value and the one
    sent (what the case's history shows of a refused resubmission)."""
    sent = json.loads(_request_json(request))
    changes = []
    for path in (*_IDENTITY, *_ADDABLE_IDENTITY):
        before, after = _at(stored, path), _at(sent, path)
        if before != after and not (path in _ADDABLE_IDENTITY and before is None):
            changes.append({"field": ".".join(path), "stored": before, "sent": after})
    return changes


# The ``cases`` columns copied from the request: who the case is for, and who asked.
IDENTITY_COLUMNS = (
    "member_id",
    "member_birth_date",
    "member_sex",
    "line_of_business",
    "plan",
    "prescriber",
)


def identity_columns(request: dict[str, Any]) -> dict[str, Any]:
    """The ``IDENTITY_COLUMNS`` of a stored request (its JSON, as ``request_json`` holds it)."""
    member = request.get("member") or {}
    prescriber = request.get("prescriber") or {}
    name, npi = prescriber.get("name"), prescriber.get("npi")
    return {
        "member_id": member.get("id"),
        "member_birth_date": member.get("birth_date"),
        "member_sex": member.get("sex"),
        "line_of_business": member.get("line_of_business"),
        "plan": member.get("plan"),
        "prescriber": None if name is None else (f"{name} (NPI {npi})" if npi else name),
    }


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data
