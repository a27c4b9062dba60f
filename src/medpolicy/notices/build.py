"""What a determination notice says, assembled from a case's record (no wording of layout here).

Three kinds, by where the case stands:

- ``approval``: the case is approved (by the engine or a reviewer): the authorized period, dose
  and J-code units, from the decision's (or the reviewer's approval's) authorization;
- ``information_request``: the case is pended for information: exactly the facts to send (the
  engine's missing information, or the reviewer's request in the reviewer's words), the clauses
  that need them, and the date to send them by;
- ``denial``: a clinician reviewer has denied the case: the reviewer's reason, and each guideline
  clause the denial cites with the guideline's words and what the request showed.

A case the engine found ``not_met`` is routed to a reviewer and has no notice until the reviewer
decides (``NoNotice``): the engine never denies. Neither has a case of another program.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from medpolicy.engine.decision import Authorization, Decision
from medpolicy.notices.settings import NoticeSettings
from medpolicy.store import Case, CaseStatus, ReviewerAction, ReviewerDecision

__all__ = [
    "AUDIENCES",
    "Audience",
    "ClauseReason",
    "NoNotice",
    "Notice",
    "NoticeKind",
    "RequestedFact",
    "build_notice",
]

Audience = Literal["member", "provider"]
AUDIENCES: tuple[Audience, ...] = ("member", "provider")
NoticeKind = Literal["approval", "information_request", "denial"]


class NoNotice(Exception):
    """The case has no determination to give notice of (yet); the message says why."""


@dataclass(frozen=True)
class ClauseReason:
    """One clause a denial rests on: the guideline's words and what the request showed."""

    clause: str
    text: str  # the guideline's words ("" when the decision does not carry the clause)
    detail: str  # what the engine found (provider notice)


@dataclass(frozen=True)
class RequestedFact:
    label: str  # in words a provider's office understands
    request_field: str
    clauses: tuple[str, ...]


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    audience: Audience
    settings: NoticeSettings
    case_id: str
    request_id: str
    member_id: str
    organization: str | None
    drug: str
    hcpcs: str
    indication: str | None
    issued_at: datetime  # when the determination was made (from the case's record)
    decided_by: str  # "the plan's coverage rules" or the reviewer's name
    policy_id: str
    policy_title: str
    policy_version: str
    policy_content_hash: str
    decision_id: str
    authorization: Authorization | None = None
    requested: tuple[RequestedFact, ...] = ()
    reviewer_reason: str | None = None
    respond_by: date | None = None
    reasons: tuple[ClauseReason, ...] = ()
    appeal_by: date | None = None

    @property
    def title(self) -> str:
        return {
            "approval": "Prior authorization approved",
            "information_request": "More information needed",
            "denial": "Prior authorization denied",
        }[self.kind]


def build_notice(
    case: Case,
    reviews: Sequence[ReviewerDecision],
    audience: Audience,
    settings: NoticeSettings,
    authorization: Authorization | None = None,
) -> Notice:
    """The notice of ``case``'s determination for ``audience``; ``NoNotice`` when it has none.
    ``authorization``: a reviewer's approval's, when the case's decision carries none."""
    decision = case.decision()
    last = reviews[-1] if reviews else None
    kind = _kind(case, last)
    common = _common(case, decision, audience, settings)
    if kind == "approval":
        by_reviewer = last is not None and last.action is ReviewerAction.approve
        return Notice(
            kind=kind,
            issued_at=_issued(case, last if by_reviewer else None),
            decided_by=last.reviewer if by_reviewer and last else "the plan's coverage rules",
            authorization=decision.authorization or authorization,
            **common,
        )
    if kind == "information_request":
        asked = last if _asked_information(case, last) else None
        issued = _issued(case, asked)
        return Notice(
            kind=kind,
            issued_at=issued,
            decided_by=asked.reviewer if asked else "the plan's coverage rules",
            requested=tuple(_requested(decision)) if asked is None else (),
            reviewer_reason=asked.reason if asked else None,
            respond_by=issued.date() + timedelta(days=settings.information_due_days),
            **common,
        )
    assert last is not None  # a denial is a reviewer's
    issued = _issued(case, last)
    return Notice(
        kind=kind,
        issued_at=issued,
        decided_by=last.reviewer,
        reviewer_reason=last.reason,
        reasons=tuple(_clause_reasons(decision, last.clauses)),
        appeal_by=issued.date() + timedelta(days=settings.appeal.deadline_days),
        **common,
    )


def _kind(case: Case, last: ReviewerDecision | None) -> NoticeKind:
    if case.status is CaseStatus.approved:
        return "approval"
    if case.status is CaseStatus.pending_information:
        return "information_request"
    if case.status is CaseStatus.denied and last is not None:
        return "denial"
    if case.status is CaseStatus.in_review:
        raise NoNotice(
            "no determination yet: the case awaits a clinician reviewer (the engine never "
            "denies; a denial notice exists only once a reviewer has denied the case)"
        )
    raise NoNotice(
        f"the case is {case.status.value}: the request belongs to another program, which "
        "gives its own notice"
    )


def _asked_information(case: Case, last: ReviewerDecision | None) -> bool:
    """Is the case pended by the reviewer's request (not by the engine since)?"""
    if last is None or last.action is not ReviewerAction.request_information:
        return False
    return utc_of(last.created_at) >= utc_of(case.updated_at)


def utc_of(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _issued(case: Case, review: ReviewerDecision | None) -> datetime:
    if review is not None:
        return review.created_at
    return case.closed_at or case.updated_at


def _common(
    case: Case, decision: Decision, audience: Audience, settings: NoticeSettings
) -> dict[str, Any]:
    request = case.request_data()
    medication = request.get("medication") or {}
    return {
        "audience": audience,
        "settings": settings,
        "case_id": case.id,
        "request_id": case.request_id,
        "member_id": str((request.get("member") or {}).get("id", "")),
        "organization": case.organization,
        "drug": str(medication.get("drug") or decision.policy.title),
        "hcpcs": str(medication.get("hcpcs") or ""),
        "indication": _indication(decision),
        "policy_id": decision.policy.id,
        "policy_title": decision.policy.title,
        "policy_version": decision.policy.version,
        "policy_content_hash": decision.policy.content_hash,
        "decision_id": decision.decision_id,
    }


def _indication(decision: Decision) -> str | None:
    labels = [p.indication_label for p in decision.pathways if p.applicable and p.indication_label]
    return labels[0] if labels else None


def _requested(decision: Decision) -> Iterator[RequestedFact]:
    for m in decision.missing_information:
        yield RequestedFact(m.label, m.request_field, tuple(m.clauses))


def _clause_reasons(decision: Decision, cited: Sequence[str]) -> Iterator[ClauseReason]:
    """Each clause the reviewer cited, with the guideline's words and what the engine found."""
    found = {r.clause: r for r in decision.reasons}
    words = dict(_clause_texts(decision))
    for clause in dict.fromkeys(cited):
        reason = found.get(clause)
        if reason is not None:
            yield ClauseReason(clause, reason.text, reason.detail)
        else:
            yield ClauseReason(clause, words.get(clause, ""), "")


def _clause_texts(decision: Decision) -> Iterator[tuple[str, str]]:
    """(clause, the guideline's words) of every criterion in the decision's trees (each node a
    model or, as a stored decision reads back, a mapping)."""
    stack: list[Any] = [p.criteria for p in decision.pathways if p.criteria is not None]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        fields = node if isinstance(node, Mapping) else vars(node)
        yield str(fields.get("clause", "")), str(fields.get("text", ""))
        stack.extend(fields.get("children") or ())
