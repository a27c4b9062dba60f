"""Response and request bodies of the REST API (the engine's ``Decision`` is used as it is)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from medpolicy.engine.decision import Authorization, Decision, Outcome
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request
from medpolicy.store import (
    AuditEvent,
    Case,
    CaseStatus,
    CaseSummary,
    ReviewerAction,
    ReviewerDecision,
    StoredDecision,
)

__all__ = [
    "AssignmentIn",
    "CaseList",
    "CaseOut",
    "CaseSummaryOut",
    "ErrorBody",
    "PolicyList",
    "QueueOut",
    "ReviewerActionIn",
    "case_body",
    "request_components",
    "summary_out",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class FieldProblem(_Out):
    field: str = Field(description="The field at fault: a dotted path into the body, or a header.")
    problem: str


class ErrorBody(_Out):
    errors: list[FieldProblem]


class ServiceLevelOut(_Out):
    label: str
    hours: int


class MemberOut(_Out):
    id: str | None
    birth_date: date | None
    age: int | None = Field(description="Whole years today (UTC), when the birth date is known.")
    sex: str | None


class CaseSummaryOut(_Out):
    id: str
    request_id: str
    organization: str | None = Field(description="The requesting provider organization.")
    member: MemberOut
    line_of_business: str | None
    plan: str | None
    prescriber: str | None = Field(description="The prescriber's name (and NPI), as requested.")
    policy_id: str | None = Field(description="The policy of the latest engine decision.")
    assigned_to: str | None = Field(
        description="The reviewer who has claimed the case: only they can act on it."
    )
    assigned_at: datetime | None
    overdue: bool = Field(description="Open and past its due time.")
    status: CaseStatus
    final: bool = Field(description="True once approved, denied or routed out of scope.")
    outcome: Outcome = Field(description="The latest engine decision's outcome.")
    urgency: str
    request_type: str
    pathways: list[str] = Field(description="Pathways that applied in the latest engine decision.")
    received_at: datetime
    due_at: datetime
    service_level: ServiceLevelOut
    updated_at: datetime
    closed_at: datetime | None
    decision_count: int


class ActorOut(_Out):
    kind: str
    name: str
    role: str | None = None
    organization: str | None = None
    token_id: int | None = None


class EventOut(_Out):
    seq: int
    type: str
    at: str
    actor: ActorOut
    data: dict[str, Any]
    hash: str


class ReviewerDecisionOut(_Out):
    action: ReviewerAction
    reason: str
    clauses: list[str]
    reviewer: str
    at: datetime
    authorization: Authorization | None = Field(
        default=None,
        description="An approval's: the period, dose, units and claim lines it authorizes for "
        "the request as submitted; null when the dose, body weight or interval is not known, "
        "and for other actions.",
    )


class DecisionRecordOut(_Out):
    number: int
    decision_id: str
    outcome: Outcome
    policy_id: str
    policy_version: str
    policy_content_hash: str
    engine_version: str
    created_at: datetime


class CaseOut(CaseSummaryOut):
    request: dict[str, Any] = Field(
        description="The current request in the earlier format, with every added fact merged "
        "(of a request sent as a clinical record: what the earlier format holds of it)."
    )
    record: dict[str, Any] | None = Field(
        default=None,
        description=(
            "The clinical record the latest decision was made on: the record sent, or one that "
            "held more than the request (a DTR answer for a fact only the record holds); null "
            "when the decision was made on the request alone."
        ),
    )
    decision: Decision = Field(description="The latest engine decision, as stored.")
    decisions: list[DecisionRecordOut]
    reviewer_decisions: list[ReviewerDecisionOut]
    history: list[EventOut]


class CaseList(_Out):
    cases: list[CaseSummaryOut]


class QueueCountsOut(_Out):
    total: int = Field(description="Open cases matching the query, on every page.")
    status: dict[str, int]
    urgency: dict[str, int]
    due: dict[str, int] = Field(
        description="overdue; due (not yet overdue) within 24h, 72h and 7d (cumulative)."
    )
    organization: dict[str, int]
    plan: dict[str, int]
    policy: dict[str, int]
    pathway: dict[str, int]
    assignee: dict[str, int] = Field(description='By reviewer; "" counts unclaimed cases.')


class QueueOut(_Out):
    cases: list[CaseSummaryOut]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )
    counts: QueueCountsOut | None = Field(
        description="On the first page only (no ``cursor``): every matching case, broken down."
    )


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = Field(description="The reviewer's name (as their token names them); null: unassign.")


Clause = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class ReviewerActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ReviewerAction
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    clauses: list[Clause] = Field(
        default_factory=list,
        max_length=50,
        description="Guideline clauses behind the action; a denial defaults to those of the "
        "engine's reasons.",
    )
    decision_count: StrictInt | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="The case's decision_count when the reviewer read it: required to approve or "
        "deny. If the provider has resubmitted since, the action is refused (409) so the new "
        "decision is seen first.",
    )


class PolicyHistoryOut(_Out):
    date: date
    note: str


class PrecautionSummary(_Out):
    id: str
    kind: str
    clause: str
    text: str


class PolicyOut(_Out):
    id: str
    title: str
    payer: str
    version: str
    effective_date: date
    content_hash: str
    hcpcs: str
    drug: str
    history: list[PolicyHistoryOut]
    precautions: list[PrecautionSummary]


class PolicyList(_Out):
    policies: list[PolicyOut]


def service_level(case: CaseSummary) -> ServiceLevelOut:
    hours = round((case.due_at - case.received_at).total_seconds() / 3600)
    span = f"{hours // 24} calendar days" if hours % 24 == 0 and hours >= 168 else f"{hours} hours"
    return ServiceLevelOut(
        label=f"plan service level ({case.urgency}): decide within {span} of receipt", hours=hours
    )


def summary_out(case: CaseSummary, now: datetime | None = None) -> CaseSummaryOut:
    now = now or datetime.now(UTC)
    return CaseSummaryOut(
        id=case.id,
        request_id=case.request_id,
        organization=case.organization,
        member=MemberOut(
            id=case.member_id,
            birth_date=case.member_birth_date,
            age=case.member_age(now.date()),
            sex=case.member_sex,
        ),
        line_of_business=case.line_of_business,
        plan=case.plan,
        prescriber=case.prescriber,
        policy_id=case.policy_id,
        assigned_to=case.assigned_to,
        assigned_at=case.assigned_at,
        overdue=case.overdue(now),
        status=case.status,
        final=case.final,
        outcome=case.outcome,
        urgency=case.urgency,
        request_type=case.request_type,
        pathways=list(case.pathways),
        received_at=case.received_at,
        due_at=case.due_at,
        service_level=service_level(case),
        updated_at=case.updated_at,
        closed_at=case.closed_at,
        decision_count=case.decision_count,
    )


def case_body(
    case: Case,
    history: list[AuditEvent],
    reviewer_decisions: list[ReviewerDecision],
    decisions: list[StoredDecision],
) -> bytes:
    """The ``CaseOut`` JSON, with the stored request and decision JSON spliced in byte for byte
    (parsing tens of kilobytes only to write them out again is what a case read would cost)."""
    records = {
        "decisions": [
            DecisionRecordOut(
                number=d.number,
                decision_id=d.decision_id,
                outcome=d.outcome,
                policy_id=d.policy_id,
                policy_version=d.policy_version,
                policy_content_hash=d.policy_content_hash,
                engine_version=d.engine_version,
                created_at=d.created_at,
            ).model_dump(mode="json")
            for d in decisions
        ],
        "reviewer_decisions": [
            {
                "action": r.action.value,
                "reason": r.reason,
                "clauses": list(r.clauses),
                "reviewer": r.reviewer,
                "at": r.created_at.isoformat(),
                "authorization": (
                    None if r.authorization is None else r.authorization.model_dump(mode="json")
                ),
            }
            for r in reviewer_decisions
        ],
        "history": [
            {
                "seq": e.seq,
                "type": e.event_type,
                "at": e.at,
                "actor": e.actor,
                "data": e.data,
                "hash": e.hash,
            }
            for e in history
        ],
    }
    return b"".join(
        (
            summary_out(case).model_dump_json().encode()[:-1],
            b",",
            orjson.dumps(records)[1:-1],
            b',"request":',
            case.request_json.encode(),
            b',"record":',
            b"null" if case.record_json is None else case.record_json.encode(),
            b',"decision":',
            case.decision_json.encode().rstrip(),
            b"}",
        )
    )


def request_components() -> dict[str, Any]:
    """The request models' JSON Schemas as OpenAPI components: the clinical record
    (``ClinicalRecord``, its parts prefixed ``Record``: its ``Member``, ``Dose`` and others are not
    the earlier format's) and the earlier format (``PriorAuthorizationRequest``)."""
    schema = Request.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["PriorAuthorizationRequest"] = schema
    record = ClinicalRecord.model_json_schema(ref_template="#/components/schemas/Record{model}")
    components.update({f"Record{name}": part for name, part in record.pop("$defs", {}).items()})
    components["ClinicalRecord"] = record
    action = ReviewerActionIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(action.pop("$defs", {}))
    components["ReviewerActionIn"] = action
    components["AssignmentIn"] = AssignmentIn.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    return components
