"""The REST API: submit, read, resubmit and decide prior-authorization cases; list policies.

Handlers read the body themselves (so malformed JSON is a 400 naming ``(body)`` and every engine
validation problem is a 422 naming its field). Evaluation and submission run the engine in the event
loop: it is pure computation, and with one worker process a thread would add a hand-off per request
and no parallelism (the interpreter runs one thread at a time). Submissions waiting together are
committed together (``CaseStore.submit_async``: on SQLite by the loop itself, on PostgreSQL by the
store's writer thread while the loop serves other requests). Handlers that read or write the store
directly run in worker threads. The two submission routes are served by ``DirectRoutes``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from medpolicy.adapters.native import FORMAT_RULE, parse_any, validate_model
from medpolicy.api.auth import Caller, apply_organization, authenticate, check_case_access, require
from medpolicy.api.body import JSON_TYPES, MERGE_PATCH_TYPES, json_body
from medpolicy.api.errors import ApiError
from medpolicy.api.notice_routes import record_view
from medpolicy.api.queue_query import FILTERS, parse_queue_query
from medpolicy.api.resubmission import PATCH_RULE, resubmission
from medpolicy.api.schemas import (
    AssignmentIn,
    CaseList,
    CaseOut,
    ErrorBody,
    PolicyHistoryOut,
    PolicyList,
    PolicyOut,
    PrecautionSummary,
    QueueCountsOut,
    QueueOut,
    ReviewerActionIn,
    case_body,
    summary_out,
)
from medpolicy.api.state import Services, app_services, services
from medpolicy.engine.decision import Decision
from medpolicy.errors import FieldError, RequestError
from medpolicy.record.model import ClinicalRecord
from medpolicy.record.projection import project
from medpolicy.request import Request as PaRequest
from medpolicy.service import (
    check_not_ahead,
    evaluate_request,
    reviewer_authorization,
)
from medpolicy.store import Case, CaseRecords, CaseStatus, Role, TokenInfo

__all__ = ["DIRECT_ENDPOINTS", "router"]

log = logging.getLogger("medpolicy.api")
router = APIRouter(prefix="/api/v1")

Svc = Annotated[Services, Depends(services)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422)
}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "description": f"A request in either format: {FORMAT_RULE}. An object with both fields, "
        "or neither, is a 422 naming them.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/ClinicalRecord"},
                        {"$ref": "#/components/schemas/PriorAuthorizationRequest"},
                    ]
                }
            }
        },
    }
}
_PATCH_BODY = {
    "requestBody": {
        "required": True,
        "description": f"{PATCH_RULE} request_id, member.id, member.organization and "
        "member.birth_date cannot change (a birth date may be added).",
        "content": {
            "application/merge-patch+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
_IDEMPOTENCY_KEY = "Idempotency-Key"
_IDEMPOTENCY_MAX = 200
_IDEMPOTENCY_HELP = (
    "Any unique string; a retried submission with the same key and body returns the same case "
    "instead of opening another."
)
# The header as FastAPI would document a declared ``Header`` parameter (see ``_idempotency_key``).
_IDEMPOTENCY_PARAMETER = {
    "name": _IDEMPOTENCY_KEY,
    "in": "header",
    "required": False,
    "description": _IDEMPOTENCY_HELP,
    "schema": {
        "anyOf": [{"type": "string", "maxLength": _IDEMPOTENCY_MAX}, {"type": "null"}],
        "description": _IDEMPOTENCY_HELP,
        "title": _IDEMPOTENCY_KEY,
    },
}


async def _hot_route_caller(request: Request) -> tuple[Services, TokenInfo]:
    """The services and the authenticated caller, for the two routes every submission takes.

    Those routes declare no FastAPI dependencies or parameters, so that they can be served
    without FastAPI's machinery (``medpolicy.api.direct``; ``DIRECT_ENDPOINTS`` below)."""
    svc = app_services(request)
    return svc, await authenticate(request, svc)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(_IDEMPOTENCY_KEY)
    if key is not None and not key.strip():
        # An empty key would be one key shared by every client that sends one.
        raise ApiError(400, _IDEMPOTENCY_KEY, "empty: send a unique key, or no header at all")
    if key is not None and len(key) > _IDEMPOTENCY_MAX:
        raise ApiError(
            422, _IDEMPOTENCY_KEY, f"String should have at most {_IDEMPOTENCY_MAX} characters"
        )
    return key


async def _request_object(
    request: Request, accepted: tuple[str, ...] = JSON_TYPES
) -> dict[str, Any]:
    data = await json_body(request, accepted)
    if not isinstance(data, dict):
        raise RequestError([FieldError("(body)", "a request must be a JSON object")])
    return data


def _parsed(svc: Services, caller: TokenInfo, data: dict[str, Any]) -> PaRequest | ClinicalRecord:
    """A submitted request in either format (``adapters.native.request_format``), checked as
    every request is: the provider's organization, and no date after its receipt."""
    apply_organization(caller, data)
    parsed = parse_any(data)
    check_not_ahead(parsed, svc.settings.clock())
    return parsed


def _as_submitted(parsed: PaRequest | ClinicalRecord) -> tuple[PaRequest, ClinicalRecord | None]:
    """What a case keeps of a submission: its request of the earlier format (which its queue row
    and views read) and, for a clinical record, the record itself, which its decisions read
    (``Case.decided_on()``). A record's request is its projection (``record.projection``)."""
    if isinstance(parsed, ClinicalRecord):
        return project(parsed).request, parsed
    return parsed, None


def _json(content: bytes | str, status_code: int = 200, **headers: str) -> Response:
    return Response(
        content, status_code=status_code, media_type="application/json", headers=headers
    )


@router.post(
    "/evaluate",
    summary="Evaluate a request without storing it",
    response_model=Decision,
    responses=_ERRORS,
    openapi_extra=_REQUEST_BODY,
    tags=["decisions"],
)
async def evaluate(request: Request) -> Response:
    """The engine's decision for a request (a clinical record, or the earlier format), as a
    what-if: nothing is stored or recorded."""
    svc, caller = await _hot_route_caller(request)
    parsed = _parsed(svc, caller, await _request_object(request))
    return _json(evaluate_request(svc.registry, parsed).to_json())


@router.post(
    "/cases",
    summary="Submit a prior-authorization request",
    status_code=201,
    response_model=CaseOut,
    responses={
        **_ERRORS,
        201: {
            "description": "The case, opened and committed.",
            "headers": {
                "Location": {"description": "The case's URL.", "schema": {"type": "string"}}
            },
        },
        200: {
            "model": CaseOut,
            "description": "An idempotent retry: the case the first submission opened.",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "Always true on this status.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
        },
    },
    openapi_extra={**_REQUEST_BODY, "parameters": [_IDEMPOTENCY_PARAMETER]},
    tags=["cases"],
)
async def submit_case(request: Request) -> Response:
    """Open a case: the engine decides at once (approved, pended for information, routed to a
    reviewer, or out of scope) and the case and decision are committed before the response.
    A clinical record is decided as sent, and the case keeps it (``record``) beside its request
    of the earlier format."""
    svc, caller = await _hot_route_caller(request)
    require(caller, Role.provider)
    idempotency_key = _idempotency_key(request)
    started = time.perf_counter()
    parsed = _parsed(svc, caller, await _request_object(request))
    submitted, record = _as_submitted(parsed)
    result = await svc.store.submit_async(
        submitted,
        evaluate_request(svc.registry, parsed),
        actor=caller.actor(),
        idempotency_key=idempotency_key,
        idempotency_scope=caller.organization or f"token:{caller.id}",
        record=record,
        opened_as="request" if record is None else "record",
    )
    case, created = result.case, result.created
    if result.records is not None:
        body = _case_body(svc, case, result.records)
    else:  # an idempotent retry: the case as it stands now, a view (recorded) like a GET
        body = await run_in_threadpool(_replayed_body, svc, case, caller)
    if created:
        svc.metrics.decisions.labels(case.outcome.value, "submission").inc()
        svc.metrics.latency.labels("submission").observe(time.perf_counter() - started)
        log.info(
            "case submitted case=%s outcome=%s organization=%s",
            case.id,
            case.outcome.value,
            case.organization,
        )
    headers = {"Location": f"/api/v1/cases/{case.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return _json(body, 201 if created else 200, **headers)


# Served by ``medpolicy.api.direct.DirectRoutes`` (the app's exception handlers still apply).
DIRECT_ENDPOINTS = (evaluate, submit_case)


def _case_body(svc: Services, case: Case, records: CaseRecords | None = None) -> bytes:
    records = records or svc.store.records(case.id)
    return case_body(case, records.history, records.reviewer_decisions, records.decisions)


def _replayed_body(svc: Services, case: Case, caller: TokenInfo) -> bytes:
    record_view(svc, case.id, caller.actor(), "POST /api/v1/cases (idempotent replay)")
    return _case_body(svc, case)


def _load(svc: Services, caller: TokenInfo, case_id: str) -> Case:
    case = svc.store.get(case_id)
    if case is None:
        raise ApiError(404, "case_id", f"no case {case_id}")
    check_case_access(caller, case)
    return case


@router.get(
    "/cases/{case_id}",
    summary="A case with its decision trace and history",
    response_model=CaseOut,
    responses=_ERRORS,
    tags=["cases"],
)
def get_case(case_id: str, caller: Caller, svc: Svc) -> Response:
    """Each answer is recorded in the read audit (``medpolicy audit reads``)."""
    case = _load(svc, caller, case_id)
    record_view(svc, case.id, caller.actor(), "GET /api/v1/cases/{case_id}")
    return _json(_case_body(svc, case))


@router.get(
    "/cases",
    summary="List cases, newest first",
    response_model=CaseList,
    responses=_ERRORS,
    tags=["cases"],
)
def list_cases(
    caller: Caller,
    svc: Svc,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    request_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CaseList:
    """A provider sees only its organization's cases."""
    organization = caller.organization if caller.role is Role.provider else None
    if request_id is not None:
        found = svc.store.find_by_request_id(request_id, organization)
        chosen = [c for c in found if not status or c.status in status][offset : offset + limit]
        return CaseList(cases=[summary_out(c) for c in chosen])
    rows = svc.store.list_cases(
        organization=organization, statuses=status, limit=limit, offset=offset
    )
    return CaseList(cases=[summary_out(c) for c in rows])


_QUEUE_PARAMETERS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
    for name, d in FILTERS.items()
]


@router.get(
    "/queue",
    summary="The reviewer work queue, soonest due first, filtered and paged",
    response_model=QueueOut,
    responses=_ERRORS,
    openapi_extra={"parameters": _QUEUE_PARAMETERS},
    tags=["review"],
)
def queue(request: Request, caller: Caller, svc: Svc) -> QueueOut:
    """Open cases (pended for information or routed to review), soonest due first, in pages: pass
    a page's ``next_cursor`` as ``cursor`` for the next. Every filter narrows the query; ``counts``
    (first page only) break down every case it matches. An unknown parameter or value is a 422
    naming it.
    """
    require(caller, Role.reviewer)
    query = parse_queue_query(dict(request.query_params), caller, svc.registry)
    page = svc.store.queue_page(query)
    now = datetime.now(UTC)
    return QueueOut(
        cases=[summary_out(c, now) for c in page.cases],
        next_cursor=page.next_cursor,
        counts=None if page.counts is None else QueueCountsOut(**asdict(page.counts)),
    )


def _assignment(case_id: str, caller: TokenInfo, svc: Services, verb: str, to: str | None) -> bytes:
    store = svc.store
    if verb == "claim":
        case = store.claim(case_id, actor=caller.actor())
    elif verb == "release":
        case = store.release(case_id, actor=caller.actor())
    else:
        case = store.reassign(case_id, to, actor=caller.actor())
    log.info("case %s case=%s by=%s", verb, case_id, caller.name)
    return _case_body(svc, case)


@router.post(
    "/cases/{case_id}/claim",
    summary="Claim a case: only you can then act on it",
    response_model=CaseOut,
    responses=_ERRORS,
    tags=["review"],
)
async def claim_case(case_id: str, caller: Caller, svc: Svc) -> Response:
    """The case is yours until you release it or an admin reassigns it; claiming your own case
    again changes nothing. A case another reviewer holds is a 409 naming them."""
    require(caller, Role.reviewer)
    return _json(await run_in_threadpool(_assignment, case_id, caller, svc, "claim", None))


@router.post(
    "/cases/{case_id}/release",
    summary="Release a case you hold back to the queue",
    response_model=CaseOut,
    responses=_ERRORS,
    tags=["review"],
)
async def release_case(case_id: str, caller: Caller, svc: Svc) -> Response:
    """Only its holder (or an admin) can release a case: else a 409 naming who holds it."""
    require(caller, Role.reviewer)
    return _json(await run_in_threadpool(_assignment, case_id, caller, svc, "release", None))


@router.put(
    "/cases/{case_id}/assignment",
    summary="Reassign a case (admin)",
    response_model=CaseOut,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/AssignmentIn"}}
            },
        }
    },
    tags=["review"],
)
async def reassign_case(case_id: str, request: Request, caller: Caller, svc: Svc) -> Response:
    """An admin gives an open case to a reviewer who holds a valid reviewer or admin token (by
    its name), or to no one (``reviewer``: null)."""
    require(caller, Role.admin)
    body = validate_model(AssignmentIn, await json_body(request))
    if body.reviewer is not None and not any(
        t.name == body.reviewer and t.role in (Role.reviewer, Role.admin) and not t.revoked
        for t in await run_in_threadpool(svc.tokens.list)
    ):
        raise ApiError(422, "reviewer", f"no reviewer token is named {body.reviewer!r}")
    return _json(
        await run_in_threadpool(_assignment, case_id, caller, svc, "reassign", body.reviewer)
    )


_ACTION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ReviewerActionIn"}}
        },
    }
}


@router.post(
    "/cases/{case_id}/actions",
    summary="A reviewer's decision: approve, deny or request information",
    response_model=CaseOut,
    responses=_ERRORS,
    openapi_extra=_ACTION_BODY,
    tags=["review"],
)
async def reviewer_action(case_id: str, request: Request, caller: Caller, svc: Svc) -> Response:
    """Only a reviewer decides, and always with a reason. A denial cites the clauses not met
    (by default the clauses of the engine's reasons). Approve and deny close the case, and must
    name the ``decision_count`` they were made on (a resubmission since is a 409). An approval
    authorizes the request as submitted: see ``reviewer_decisions[].authorization``."""
    require(caller, Role.reviewer)
    action = validate_model(ReviewerActionIn, await json_body(request))

    def work() -> bytes:
        case = svc.store.record_reviewer_action(
            case_id,
            action.action,
            action.reason,
            actor=caller.actor(),
            clauses=action.clauses,
            seen_decisions=action.decision_count,
            authorize=partial(reviewer_authorization, svc.registry),
        )
        log.info("reviewer action case=%s action=%s", case.id, action.action.value)
        return _case_body(svc, case)

    body = await run_in_threadpool(work)
    svc.metrics.reviewer_actions.labels(action.action.value).inc()
    return _json(body)


@router.post(
    "/cases/{case_id}/resubmissions",
    summary="Add information to a case and decide it again",
    response_model=CaseOut,
    responses=_ERRORS,
    openapi_extra=_PATCH_BODY,
    tags=["cases"],
)
async def resubmit(case_id: str, request: Request, caller: Caller, svc: Svc) -> Response:
    """The provider's added facts are merged into the case in the format it was opened in (JSON
    Merge Patch): into its clinical record when it was opened with one, which is then decided on
    as patched; else into its request, with the facts only its record held (DTR answers) kept.
    The engine decides the same case again (``api.resubmission``)."""
    require(caller, Role.provider)
    started = time.perf_counter()
    patch = await _request_object(request, MERGE_PATCH_TYPES)

    def work() -> tuple[bytes, Case]:
        case = _load(svc, caller, case_id)
        patched = resubmission(svc, caller, case, patch)
        updated = svc.store.resubmit(
            case_id,
            patched.request,
            patched.decision,
            actor=caller.actor(),
            seen_decisions=case.decision_count,
            record=patched.record,
        )
        return _case_body(svc, updated), updated

    body, case = await run_in_threadpool(work)
    svc.metrics.decisions.labels(case.outcome.value, "resubmission").inc()
    svc.metrics.latency.labels("resubmission").observe(time.perf_counter() - started)
    log.info("case resubmitted case=%s outcome=%s", case.id, case.outcome.value)
    return _json(body)


@router.get(
    "/policies",
    summary="Policies in force and their versions",
    response_model=PolicyList,
    tags=["policies"],
)
def list_policies(svc: Svc) -> PolicyList:
    return PolicyList(
        policies=[
            PolicyOut(
                id=p.meta.id,
                title=p.meta.title,
                payer=p.meta.payer,
                version=p.meta.version,
                effective_date=p.meta.effective_date,
                content_hash=p.content_hash,
                hcpcs=p.drug.hcpcs,
                drug=p.drug.name,
                history=[PolicyHistoryOut(date=d, note=n) for d, n in p.meta.history],
                precautions=[
                    PrecautionSummary(
                        id=x.id, kind=x.kind, clause=x.citation.section, text=x.citation.text
                    )
                    for x in p.precautions
                ],
            )
            for p in svc.registry.all()
        ]
    )
