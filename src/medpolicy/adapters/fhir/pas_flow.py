"""PAS ``$submit`` and ``$inquire`` over the engine, with cases kept by a ``CaseRecorder``.

The flow is transport- and storage-free: the HTTP routes give it a recorder over the service's
case store; tests and benchmarks use ``EngineOnly``, under which the engine's decision is the
whole answer. Request validation problems come back as ``PasRejected`` at their FHIR elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from medpolicy.adapters.fhir.draft import AdapterIssue
from medpolicy.adapters.fhir.operation_outcome import OutcomeIssue
from medpolicy.adapters.fhir.pas import PasItem, PasSubmission, read_submission
from medpolicy.adapters.fhir.pas_check import PasRejected
from medpolicy.adapters.fhir.pas_response import (
    ItemState,
    ResponseContext,
    Review,
    Status,
    engine_status,
    response_bundle,
)
from medpolicy.adapters.fhir.to_request import FieldProblem
from medpolicy.engine.decision import Authorization, DecisionLike, Determination
from medpolicy.errors import RequestError
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request
from medpolicy.service import check_not_ahead, evaluate_request

__all__ = [
    "CaseRecord",
    "CaseRecorder",
    "EngineOnly",
    "Naming",
    "PasResult",
    "inquire",
    "submit",
]


@dataclass(frozen=True)
class CaseRecord:
    case_id: str | None
    status: Status
    decision: DecisionLike
    review: Review | None = None
    authorization: Authorization | None = None  # set when a reviewer approved


class CaseRecorder(Protocol):
    def record(
        self, request: Request, decision: DecisionLike, record: ClinicalRecord | None = None
    ) -> CaseRecord:
        """Keep ``decision`` on ``request``; ``record``: the clinical record it was made on, when
        that was more than the request (``AdaptedRequest.record``), which must be kept too."""
        ...

    def lookup(self, request_id: str) -> CaseRecord | None: ...


class EngineOnly:
    """No store: each submission is decided and answered, nothing is kept."""

    def record(
        self, request: Request, decision: DecisionLike, record: ClinicalRecord | None = None
    ) -> CaseRecord:
        return CaseRecord(None, engine_status(decision), decision)

    def lookup(self, request_id: str) -> CaseRecord | None:
        return None


@dataclass(frozen=True)
class PasResult:
    bundle: dict[str, Any]
    submission: PasSubmission
    states: tuple[ItemState, ...]


@dataclass(frozen=True)
class Naming:
    """How to name what is emitted: the service's FHIR base, an id, the time, the caller."""

    base_url: str
    response_id: str
    now: datetime
    organization: str | None = None  # the calling provider's, stamped on every request


def _covers(registry: PolicyRegistry) -> Any:
    """Whether a guideline covers the drug on the date; which one decides each item is chosen by
    its member when it is decided (a payer may have one per line of business)."""
    return registry.covers


def _rejected(problems: list[FieldProblem]) -> PasRejected:
    issues = [
        OutcomeIssue("error", "invalid", f"{p.field}: {p.problem}", p.expression) for p in problems
    ]
    return PasRejected(issues, status_code=422)


@dataclass(frozen=True)
class _Decided:
    """A covered item's request, the record the engine decided (None: the request), and the
    decision."""

    request: Request
    record: ClinicalRecord | None
    decision: Determination


def _decide(
    registry: PolicyRegistry, sub: PasSubmission, received: datetime
) -> list[tuple[PasItem, _Decided]]:
    """Every covered item decided, or PasRejected with every item's problems at once (one dated
    after ``received``, when the service received it, among them: ``check_not_ahead``)."""
    problems: list[FieldProblem] = []
    decided = []
    for item in sub.items:
        if not item.covered or item.adapted is None:
            continue
        if item.adapted.request is None:
            problems += item.adapted.problems
            continue
        try:
            check_not_ahead(item.adapted.request, received)
            decision = evaluate_request(registry, item.adapted.for_engine or item.adapted.request)
        except RequestError as exc:
            problems += item.adapted.problems_for(exc)
            continue
        decided.append((item, _Decided(item.adapted.request, item.adapted.record, decision)))
    if problems:
        raise _rejected(problems)
    return decided


def submit(
    registry: PolicyRegistry, data: Any, recorder: CaseRecorder, naming: Naming
) -> PasResult:
    sub = read_submission(data, _covers(registry), naming.organization)
    decided = {id(item): d for item, d in _decide(registry, sub, naming.now)}
    states = []
    for item in sub.items:
        if id(item) not in decided:
            states.append(ItemState(item, "not_covered"))
            continue
        d = decided[id(item)]
        record = recorder.record(d.request, d.decision, d.record)
        issues = item.adapted.issues if item.adapted else ()
        states.append(_state(item, record, issues))
    return PasResult(_bundle(sub, states, naming, inquiry=False), sub, tuple(states))


def _state(item: PasItem, record: CaseRecord, issues: tuple[AdapterIssue, ...] = ()) -> ItemState:
    return ItemState(
        item,
        record.status,
        record.decision,
        record.case_id,
        record.review,
        issues,
        record.authorization,
    )


def inquire(
    registry: PolicyRegistry, data: Any, recorder: CaseRecorder, naming: Naming
) -> PasResult:
    """The current state of each item's case, found by the Claim's identifier."""
    sub = read_submission(data, _covers(registry))
    states = []
    for item in sub.items:
        request_id = item.adapted.data.get("request_id") if item.adapted else None
        record = recorder.lookup(str(request_id)) if item.covered and request_id else None
        if record is None:
            states.append(ItemState(item, "not_covered" if not item.covered else "not_found"))
            continue
        states.append(_state(item, record))
    if not any(s.decision for s in states):
        ident = sub.claim.resource.get("identifier")
        raise PasRejected(
            [
                OutcomeIssue(
                    "error",
                    "not-found",
                    f"no prior authorization request on file for this Claim identifier ({ident})",
                    "Bundle.entry[0].resource.identifier",
                )
            ],
            404,
        )
    return PasResult(_bundle(sub, states, naming, inquiry=True), sub, tuple(states))


def _bundle(
    sub: PasSubmission, states: list[ItemState], naming: Naming, *, inquiry: bool
) -> dict[str, Any]:
    ctx = ResponseContext(
        sub.bundle,
        sub.index,
        sub.claim,
        naming.base_url,
        naming.response_id,
        naming.now,
        inquiry,
    )
    return response_bundle(ctx, states)
