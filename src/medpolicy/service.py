"""The one entry point every surface calls: request in, decision out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from medpolicy.adapters.native import parse_request
from medpolicy.catalogue import Catalogue, shared_catalogue
from medpolicy.engine.authorize import authorize
from medpolicy.engine.decide import decide
from medpolicy.engine.decision import Authorization, Decision, Determination
from medpolicy.errors import FieldError, RequestError
from medpolicy.facts import as_record, extract_facts
from medpolicy.policy import tree as t
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request

__all__ = [
    "authorize_as_submitted",
    "check_period_fits",
    "decision_catalogue",
    "evaluate_json",
    "evaluate_request",
    "reviewer_authorization",
]

# What the dose, units and period of an authorization are computed from.
_DOSE_FACTS = ("medication.dose", "body_weight.kg", "medication.interval_days")


def evaluate_request(registry: PolicyRegistry, request: Request | ClinicalRecord) -> Determination:
    """The request (in either format) decided under the one policy for its drug, date, payer,
    plan and line of business (``RequestError`` when none is, or several are: see
    ``PolicyRegistry.select``)."""
    record = as_record(request)
    member = record.member
    policy = registry.select(
        record.order.drug.hcpcs,
        record.submitted_at.date(),
        member.payer,
        member.plan,
        member.line_of_business and member.line_of_business.value,
        "medication.hcpcs" if record is not request else "order.drug.hcpcs",
    )
    check_period_fits(policy, request)
    return decide(policy, request)


# How far a request's own clock may run ahead of the service's (clocks of two machines differ).
CLOCK_SKEW = timedelta(minutes=5)


def check_not_ahead(request: Request | ClinicalRecord, received: datetime) -> None:
    """A ``RequestError`` on ``submitted_at`` when the request says it was made after the service
    received it. Its date is the decision's clock (the policy version in force, how recent a fact
    must be, the window of the start date): a request dated ahead would be decided as of a day
    that has not come, e.g. authorized from a start months beyond the policy's window. A date
    before receipt is a request made earlier (a retrospective one), decided as of that day."""
    made = request.submitted_at
    if made.tzinfo is None:  # a time without its zone is read as UTC, as the decision reads it
        made = made.replace(tzinfo=UTC)
    if made > received + CLOCK_SKEW:
        raise RequestError(
            [
                FieldError(
                    "submitted_at",
                    f"{made.isoformat()} is after the service received the request "
                    f"({received.isoformat(timespec='seconds')}): a request is decided as of "
                    "when it was made, which cannot be later than now",
                )
            ]
        )


def check_period_fits(policy: t.Policy, request: Request | ClinicalRecord) -> None:
    """A ``RequestError`` when an approval's period, from the request's start date (or its date,
    when it gives none), would run past the last date there is (9999-12-31): an approval's dates
    could not be computed, by the engine or for a reviewer, so the request is impossible as sent.
    (Start dates far ahead but within the calendar are the policy's to judge.)"""
    months = max((p.approval_months for p in policy.pathways), default=0)
    record = as_record(request)
    legacy = record is not request
    start = record.order.start_date
    field = "medication.start_date" if legacy else "order.start_date"
    if start is None:
        start, field = record.submitted_at.date(), "submitted_at"
    # The period ends the day before the same day ``months`` later (``engine.authorize``).
    if (start.year * 12 + start.month - 1 + months) // 12 > date.max.year:
        raise RequestError(
            [
                FieldError(
                    field,
                    f"{start.isoformat()}: a {months}-month authorization period from this date "
                    f"would end after {date.max.isoformat()}, the last date there is",
                )
            ]
        )


def evaluate_json(registry: PolicyRegistry, data: bytes | str | dict[str, Any]) -> Determination:
    """Raises ``RequestError`` naming every bad field; otherwise always returns a decision."""
    return evaluate_request(registry, parse_request(data))


def authorize_as_submitted(
    policy: t.Policy, request: Request | ClinicalRecord
) -> Authorization | None:
    """What approving ``request`` as submitted authorizes: its dose, at its interval, billed as
    the engine bills an approval. None when the dose, body weight or interval is not known, or
    when the policy has no pathway of the request's phase; a ``RequestError`` when its period
    cannot exist (``check_period_fits``)."""
    check_period_fits(policy, request)
    facts = extract_facts(request)
    if not all(facts.has(f) for f in _DOSE_FACTS):
        return None
    # A reviewer approves the request, not one pathway of it: take the longest approval period of
    # the pathways of its phase (initiation or continuation). Today every pathway has 6 months.
    months = max(
        (p.approval_months for p in policy.pathways if p.phase == request.request_type),
        default=None,
    )
    return None if months is None else authorize(policy, facts, months)


def reviewer_authorization(
    registry: PolicyRegistry, request: Request | ClinicalRecord, decision: Decision
) -> Authorization | None:
    """A clinician reviewer's approval of ``decision``'s case, under the policy version the engine
    decided it with (None when that version is not loaded or the dose cannot be computed).
    ``request``: what the engine decided (a stored case's ``decided_on()``)."""
    policy = registry.get(decision.policy.id, decision.policy.version)
    return None if policy is None else authorize_as_submitted(policy, request)


def decision_catalogue(registry: PolicyRegistry, decision: Decision) -> Catalogue:
    """The fact catalogue of the policy version ``decision`` was made under (the shared one when
    that version is no longer loaded)."""
    policy = registry.get(decision.policy.id, decision.policy.version)
    return shared_catalogue() if policy is None else policy.catalogue
