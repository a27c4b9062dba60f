"""The work queue's query, from a URL's parameters: the same rules for the REST API and the web app.

Every bad parameter is named at once (``RequestError``: a 4xx naming the field, never a 500): an
unknown parameter, a status or urgency or due window outside its vocabulary, a policy or pathway
no policy in force has, a cursor this queue did not make.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from medpolicy.errors import FieldError, RequestError
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStatus, TokenInfo
from medpolicy.store.queue import UNASSIGNED, DueWindow, QueueQuery, decode_cursor

__all__ = ["FILTERS", "MAX_LIMIT", "parse_queue_query"]

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# parameter -> what it takes (also the web form's fields).
FILTERS = {
    "status": "pending_information | in_review",
    "urgency": "standard | expedited",
    "due": "overdue | 24h | 72h | 7d (due, not yet overdue, within that time)",
    "organization": "the requesting organization",
    "plan": "the member's plan",
    "policy": "a policy id",
    "pathway": "a pathway id (applicable in the latest engine decision)",
    "assignee": "me | none | a reviewer's name",
    "q": "a request id or member id, exactly",
    "cursor": "the next_cursor of the previous page",
    "limit": f"cases per page, 1 to {MAX_LIMIT}",
}
_OPEN = (CaseStatus.pending_information.value, CaseStatus.in_review.value)
_URGENCY = ("standard", "expedited")


def parse_queue_query(
    params: Mapping[str, str], caller: TokenInfo, registry: PolicyRegistry
) -> QueueQuery:
    """The query ``params`` ask for (empty values: no filter), or a ``RequestError`` naming every
    bad parameter."""
    problems = [
        FieldError(k, "unknown parameter")
        if k
        else FieldError("(query)", "a parameter has no name")
        for k in params
        if k not in FILTERS
    ]
    given = {k: v.strip() for k, v in params.items() if k in FILTERS and v.strip()}

    def choice(name: str, allowed: tuple[str, ...]) -> str | None:
        value = given.get(name)
        if value is not None and value not in allowed:
            problems.append(FieldError(name, f"must be one of: {', '.join(allowed)}"))
            return None
        return value

    status = choice("status", _OPEN)
    due = choice("due", tuple(w.value for w in DueWindow))
    urgency = choice("urgency", _URGENCY)
    policy = choice("policy", tuple(sorted({p.meta.id for p in registry.all()})))
    pathway = choice("pathway", _pathways(registry))
    query = QueueQuery(
        status=CaseStatus(status) if status else None,
        urgency=urgency,
        due=DueWindow(due) if due else None,
        organization=given.get("organization"),
        plan=given.get("plan"),
        policy=policy,
        pathway=pathway,
        assignee=_assignee(given.get("assignee"), caller),
        search=given.get("q"),
        after=_cursor(given.get("cursor"), problems),
        limit=_limit(given.get("limit"), problems),
    )
    for name, value in given.items():
        if len(value) > 200:
            problems.append(FieldError(name, "at most 200 characters"))
    if problems:
        raise RequestError(problems)
    return query


def _pathways(registry: PolicyRegistry) -> tuple[str, ...]:
    return tuple(sorted({p.id for policy in registry.all() for p in policy.pathways}))


def _assignee(value: str | None, caller: TokenInfo) -> str | None:
    if value is None:
        return None
    return {"me": caller.name, "none": UNASSIGNED}.get(value, value)


def _cursor(value: str | None, problems: list[FieldError]) -> tuple[datetime, str] | None:
    if value is None:
        return None
    try:
        return decode_cursor(value)
    except ValueError:
        problems.append(FieldError("cursor", "not a cursor this queue made: start from page 1"))
        return None


def _limit(value: str | None, problems: list[FieldError]) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT:
        return int(value)
    problems.append(FieldError("limit", f"a whole number from 1 to {MAX_LIMIT}"))
    return DEFAULT_LIMIT
