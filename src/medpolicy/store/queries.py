"""Statements the case store runs on every request, built once, and the readers of their rows.

Building a SQLAlchemy statement (and its cache key) per call costs more than running it, so the
hot paths use these module-level statements with bound parameters.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.sql.elements import BindParameter

from medpolicy.engine.decision import Authorization, Outcome
from medpolicy.store.audit import AuditEvent, row_event
from medpolicy.store.model import CaseFormat, ReviewerAction, ReviewerDecision, StoredDecision, utc
from medpolicy.store.schema import audit_events, cases, decisions, reviewer_actions

__all__ = [
    "INSERT_CASE",
    "INSERT_DECISION",
    "decisions_of",
    "history_of",
    "latest_decision_json",
    "opened_as",
    "reviewer_decisions_of",
]

INSERT_CASE = cases.insert()
INSERT_DECISION = decisions.insert()
_CASE_ID: BindParameter[str] = bindparam("case_id")
_HISTORY = (
    select(audit_events).where(audit_events.c.case_id == _CASE_ID).order_by(audit_events.c.seq)
)
_DECISIONS = {
    with_json: select(*[c for c in decisions.c if with_json or c.name != "decision_json"])
    .where(decisions.c.case_id == _CASE_ID)
    .order_by(decisions.c.number)
    for with_json in (True, False)
}
_REVIEWER_ACTIONS = (
    select(reviewer_actions)
    .where(reviewer_actions.c.case_id == _CASE_ID)
    .order_by(reviewer_actions.c.id)
)
_APPROVAL_EVENTS = select(audit_events.c.data_json).where(
    audit_events.c.case_id == _CASE_ID, audit_events.c.event_type == "review.approve"
)
_LATEST_DECISION = (
    select(decisions.c.decision_json)
    .where(decisions.c.case_id == _CASE_ID)
    .order_by(decisions.c.number.desc())
    .limit(1)
)

_SUBMITTED = (
    select(audit_events.c.data_json)
    .where(audit_events.c.case_id == _CASE_ID, audit_events.c.event_type == "case.submitted")
    .order_by(audit_events.c.seq)
    .limit(1)
)


def history_of(conn: Connection, case_id: str) -> list[AuditEvent]:
    return [row_event(r) for r in conn.execute(_HISTORY, {"case_id": case_id})]


def decisions_of(conn: Connection, case_id: str, *, with_json: bool) -> list[StoredDecision]:
    return [
        StoredDecision(
            number=int(r.number),
            decision_id=r.decision_id,
            outcome=Outcome(r.outcome),
            policy_id=r.policy_id,
            policy_version=r.policy_version,
            policy_content_hash=r.policy_content_hash,
            engine_version=r.engine_version,
            decision_json=r.decision_json if with_json else None,
            created_at=utc(r.created_at),
        )
        for r in conn.execute(_DECISIONS[with_json], {"case_id": case_id})
    ]


def reviewer_decisions_of(conn: Connection, case_id: str) -> list[ReviewerDecision]:
    authorizations = _approval_authorizations(conn, case_id)
    return [
        ReviewerDecision(
            id=int(r.id),
            action=ReviewerAction(r.action),
            reason=r.reason,
            clauses=tuple(json.loads(r.clauses_json)),
            reviewer=r.reviewer,
            created_at=utc(r.created_at),
            authorization=authorizations.get(int(r.id)),
        )
        for r in conn.execute(_REVIEWER_ACTIONS, {"case_id": case_id})
    ]


def _approval_authorizations(conn: Connection, case_id: str) -> dict[int, Authorization]:
    """What each reviewer approval of the case authorized, by action id, from its audit event."""
    found: dict[int, Authorization] = {}
    for (text,) in conn.execute(_APPROVAL_EVENTS, {"case_id": case_id}):
        data = json.loads(text)
        if data.get("authorization") is not None:
            found[int(data["action_id"])] = Authorization.model_validate(data["authorization"])
    return found


def latest_decision_json(conn: Connection, case_id: str) -> str:
    text: str = conn.execute(_LATEST_DECISION, {"case_id": case_id}).scalar_one()
    return text


def opened_as(conn: Connection, case_id: str) -> CaseFormat:
    """The format the case's first audit event (``case.submitted``) records it was opened in:
    "request" when it records none (a case opened before formats were recorded)."""
    data = conn.execute(_SUBMITTED, {"case_id": case_id}).scalar_one_or_none()
    recorded = json.loads(data).get("format") if data is not None else None
    return "record" if recorded == "record" else "request"
