"""The case store's vocabulary: statuses, reviewer actions, service levels, returned records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from medpolicy.engine.decision import Authorization, Decision, Outcome
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request
from medpolicy.store.audit import AuditEvent

__all__ = [
    "ENGINE_STATUS",
    "OPEN_STATUSES",
    "Case",
    "CaseAssigned",
    "CaseConflict",
    "CaseFormat",
    "CaseNotFound",
    "CaseRecords",
    "CaseStatus",
    "CaseSummary",
    "IdempotencyConflict",
    "ReviewerAction",
    "ReviewerDecision",
    "ServiceLevel",
    "ServiceLevels",
    "StoredDecision",
    "SubmitResult",
    "decided_on",
]


# The format a case was opened in, as its first audit event records it (``case.submitted``'s
# ``format``): "record" when the provider sent the member's clinical record, whose resubmissions
# then patch that record; "request" for the earlier format, for a record a surface built from a
# request (FHIR PAS and DTR answers), and for every case opened before formats were recorded.
CaseFormat = Literal["record", "request"]


class CaseStatus(StrEnum):
    """Where a case stands: ``pending_information`` and ``in_review`` are open, the rest final."""

    pending_information = "pending_information"  # waiting on the provider for the facts named
    in_review = "in_review"  # waiting on a clinician reviewer
    approved = "approved"  # by the engine or by a reviewer
    denied = "denied"  # by a reviewer only, with the specific reason and clauses
    out_of_scope = "out_of_scope"  # belongs to another program; routed there


OPEN_STATUSES = frozenset({CaseStatus.pending_information, CaseStatus.in_review})

# An engine decision never closes a case as denied: not_met goes to a reviewer.
ENGINE_STATUS: Mapping[Outcome, CaseStatus] = {
    Outcome.approved: CaseStatus.approved,
    Outcome.missing_information: CaseStatus.pending_information,
    Outcome.not_met: CaseStatus.in_review,
    Outcome.out_of_scope: CaseStatus.out_of_scope,
}


class ReviewerAction(StrEnum):
    approve = "approve"
    deny = "deny"
    request_information = "request_information"


REVIEWER_STATUS: Mapping[ReviewerAction, CaseStatus] = {
    ReviewerAction.approve: CaseStatus.approved,
    ReviewerAction.deny: CaseStatus.denied,
    ReviewerAction.request_information: CaseStatus.pending_information,
}


@dataclass(frozen=True)
class ServiceLevel:
    standard: timedelta = timedelta(days=7)
    expedited: timedelta = timedelta(hours=72)


@dataclass(frozen=True)
class ServiceLevels:
    """The plan's decision timeframes from receipt: by default 7 calendar days (standard) and 72
    hours (expedited), optionally different per line of business. For drugs these are the plan's
    own service level: CMS-0057-F's timeframes exclude drugs."""

    default: ServiceLevel = ServiceLevel()
    by_line_of_business: Mapping[str, ServiceLevel] = field(default_factory=dict)

    def due(self, received_at: datetime, urgency: str, line_of_business: str | None) -> datetime:
        level = self.by_line_of_business.get(line_of_business or "", self.default)
        return received_at + (level.expedited if urgency == "expedited" else level.standard)


def utc(value: datetime) -> datetime:
    """Timestamps come back naive from SQLite and in the session zone from PostgreSQL."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class CaseSummary:
    """A case as listed in a queue: everything but the request and decision documents."""

    id: str
    request_id: str
    organization: str | None
    status: CaseStatus
    outcome: Outcome  # the latest engine decision's outcome
    urgency: str
    request_type: str
    pathways: tuple[str, ...]  # applicable pathways of the latest engine decision
    received_at: datetime
    due_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    decision_count: int
    # Who the case is for and who asked (from the request; None when it does not say).
    member_id: str | None
    member_birth_date: date | None
    member_sex: str | None
    line_of_business: str | None
    plan: str | None
    prescriber: str | None  # "name (NPI 1234567890)"
    policy_id: str | None  # of the latest engine decision
    assigned_to: str | None  # the reviewer who claimed it
    assigned_at: datetime | None

    @property
    def final(self) -> bool:
        return self.status not in OPEN_STATUSES

    def overdue(self, now: datetime) -> bool:
        return not self.final and self.due_at < now

    def member_age(self, on: date) -> int | None:
        """The member's age in whole years on ``on``, when the birth date is known."""
        born = self.member_birth_date
        if born is None:
            return None
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    @classmethod
    def from_row(cls, row: Any) -> CaseSummary:
        return cls(**_summary_fields(row))


def _summary_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "request_id": row.request_id,
        "organization": row.organization,
        "status": CaseStatus(row.status),
        "outcome": Outcome(row.outcome),
        "urgency": row.urgency,
        "request_type": row.request_type,
        "pathways": tuple(p for p in row.pathways.split(",") if p),
        "received_at": utc(row.received_at),
        "due_at": utc(row.due_at),
        "updated_at": utc(row.updated_at),
        "closed_at": utc(row.closed_at) if row.closed_at is not None else None,
        "decision_count": int(row.decision_count),
        "member_id": row.member_id,
        "member_birth_date": _date(row.member_birth_date),
        "member_sex": row.member_sex,
        "line_of_business": row.line_of_business,
        "plan": row.plan,
        "prescriber": row.prescriber,
        "policy_id": row.policy_id,
        "assigned_to": row.assigned_to,
        "assigned_at": utc(row.assigned_at) if row.assigned_at is not None else None,
    }


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def decided_on(request_json: str, record_json: str | None) -> Request | ClinicalRecord:
    """What a stored decision was made on: the clinical record when the case keeps one, else the
    request (each read back exactly as stored, so that deciding it again under the same policy
    version gives the same decision, byte for byte)."""
    if record_json is not None:
        return ClinicalRecord.model_validate_json(record_json)
    return Request.model_validate_json(request_json)


@dataclass(frozen=True)
class Case(CaseSummary):
    """A case with its current (merged) request and its latest engine decision, both as JSON, and
    the clinical record that decision was made on when it was more than the request."""

    request_json: str = "{}"
    decision_json: str = "{}"  # exactly as Decision.to_json() produced it
    idempotency_key: str | None = None
    # The record's canonical JSON (``ClinicalRecord.model_dump_json(exclude_none=True)``); None
    # when the latest decision was made on the request alone (and for every case stored before
    # records were kept).
    record_json: str | None = None

    def decision(self) -> Decision:
        return Decision.model_validate_json(self.decision_json)

    def request_data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.request_json)
        return data

    def record(self) -> ClinicalRecord | None:
        """The clinical record the latest decision was made on, when the case keeps one."""
        if self.record_json is None:
            return None
        return ClinicalRecord.model_validate_json(self.record_json)

    def decided_on(self) -> Request | ClinicalRecord:
        """What the latest decision was made on: what re-deciding, authorizing or showing the
        case must read (never the request alone when the case keeps a record)."""
        return decided_on(self.request_json, self.record_json)

    @classmethod
    def from_rows(cls, row: Any, decision_json: str) -> Case:
        return cls(
            **_summary_fields(row),
            request_json=row.request_json,
            decision_json=decision_json,
            idempotency_key=row.idempotency_key,
            record_json=row.record_json,
        )


@dataclass(frozen=True)
class CaseRecords:
    history: list[AuditEvent]
    reviewer_decisions: list[ReviewerDecision]
    decisions: list[StoredDecision]


@dataclass(frozen=True)
class SubmitResult:
    case: Case
    created: bool  # False: an earlier submission with the same idempotency key
    records: CaseRecords | None = None  # a new case's history and decisions, as written


@dataclass(frozen=True)
class StoredDecision:
    number: int  # 1 for the submission, then one per resubmission
    decision_id: str
    outcome: Outcome
    policy_id: str
    policy_version: str
    policy_content_hash: str
    engine_version: str
    decision_json: str | None  # None when only the provenance was read
    created_at: datetime


@dataclass(frozen=True)
class ReviewerDecision:
    id: int
    action: ReviewerAction
    reason: str
    clauses: tuple[str, ...]
    reviewer: str
    created_at: datetime
    # An approval's: what it authorizes (the request as submitted), None when its dose, weight or
    # interval was not known. Kept in the action's audit event, under the hash chain.
    authorization: Authorization | None = None


class CaseNotFound(LookupError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id}")
        self.case_id = case_id


class CaseConflict(Exception):
    """The transition is not allowed in the case's current state (e.g. acting on a closed case)."""

    def __init__(self, case: CaseSummary, message: str) -> None:
        super().__init__(message)
        self.case = case


class CaseAssigned(CaseConflict):
    """The case is claimed by another reviewer: only they may act on it (or release it), unless
    an admin reassigns it."""

    def __init__(self, case: CaseSummary, action: str) -> None:
        super().__init__(
            case,
            f"case {case.id} is claimed by {case.assigned_to}: only they can {action} it "
            "(they can release it, or an admin can reassign it)",
        )
        self.holder = case.assigned_to


class IdempotencyConflict(Exception):
    """The idempotency key was already used for a different request."""

    def __init__(self, case: Case) -> None:
        super().__init__(
            f"this Idempotency-Key was used for a different request (case {case.id}); "
            "use a new key for a new request"
        )
        self.case = case
