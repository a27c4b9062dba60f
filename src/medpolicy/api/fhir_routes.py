"""HL7 FHIR routes: Da Vinci PAS ($submit, $inquire), DTR ($questionnaire-package, answers to a
case) and CRD (CDS Hooks discovery and services), thin over ``medpolicy.adapters.fhir``.

Every FHIR error is an OperationOutcome naming the element (``expression``); CDS Hooks errors are
an OperationOutcome too, since CDS clients log rather than show them. Cases are kept in the
service's case store: a PAS Bundle whose Claim identifier matches an open case adds its
information to that case (the PAS way to answer a request for more information).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from medpolicy import __version__
from medpolicy.adapters.fhir.capability import capability_statement
from medpolicy.adapters.fhir.crd import CrdSettings, HookRejected, discovery, respond
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.dtr import (
    generate_questionnaire,
    questionnaire_url,
)
from medpolicy.adapters.fhir.dtr import questionnaire_package as package_parameters
from medpolicy.adapters.fhir.dtr_response import read_questionnaire_response
from medpolicy.adapters.fhir.medications import identify
from medpolicy.adapters.fhir.operation_outcome import OutcomeIssue, operation_outcome
from medpolicy.adapters.fhir.pas_check import PasRejected, resource_issues
from medpolicy.adapters.fhir.pas_flow import (
    CaseRecord,
    Naming,
    inquire,
    submit,
)
from medpolicy.adapters.fhir.pas_response import Review, Status
from medpolicy.adapters.fhir.record_facts import keep_record_facts, record_of
from medpolicy.adapters.fhir.resources import Located
from medpolicy.adapters.native import parse_request
from medpolicy.api.auth import bearer_token
from medpolicy.api.body import FHIR_TYPES, JSON_TYPES, json_body
from medpolicy.api.errors import MAX_ERRORS
from medpolicy.api.state import Services, services
from medpolicy.engine.decision import DecisionLike
from medpolicy.errors import RequestError
from medpolicy.policy import tree as t
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request as PaRequest
from medpolicy.service import decision_catalogue, evaluate_request, reviewer_authorization
from medpolicy.store import Case, CaseConflict, CaseStore, Role, TokenInfo
from medpolicy.store.cases import record_json, request_json

__all__ = ["StoreRecorder", "router"]

FHIR_JSON = "application/fhir+json"
# FHIR and CDS Hooks clients discover these through GET /fhir/metadata and GET /cds-services;
# they stay out of the REST API's OpenAPI document (and its golden file).
router = APIRouter(include_in_schema=False)
Svc = Annotated[Services, Depends(services)]


class _Refused(Exception):
    def __init__(
        self, status: int, issues: list[OutcomeIssue], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(issues[0].diagnostics if issues else "refused")
        self.status = status
        self.issues = issues
        self.headers = headers or {}


def _fhir(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type=FHIR_JSON,
        headers=headers,
    )


def _outcome(
    status: int, issues: list[OutcomeIssue], headers: dict[str, str] | None = None
) -> Response:
    if len(issues) > MAX_ERRORS:  # bounded, as every error body is (``api.errors.bounded``)
        more = len(issues) - MAX_ERRORS + 1
        issues = [
            *issues[: MAX_ERRORS - 1],
            OutcomeIssue("error", issues[0].code, f"{more} more issues not listed"),
        ]
    return _fhir(operation_outcome(issues), status, headers)


def _authenticated(request: Request, svc: Services, *roles: Role) -> TokenInfo:
    token = bearer_token(request)
    info = svc.tokens.authenticate(token) if token else None
    if info is None:
        raise _Refused(
            401,
            [OutcomeIssue("error", "login", "Authorization header: a valid bearer token needed")],
            {"WWW-Authenticate": 'Bearer realm="medpolicy"'},
        )
    if roles and info.role not in roles and info.role is not Role.admin:
        allowed = " or ".join(r.value for r in roles)
        raise _Refused(
            403,
            [OutcomeIssue("error", "forbidden", f"Authorization header: needs a {allowed} token")],
        )
    return info


async def _body(request: Request, accepted: tuple[str, ...] = FHIR_TYPES) -> Any:
    try:
        return await json_body(request, accepted)
    except RequestError as exc:
        issues = [OutcomeIssue("error", "structure", e.problem, e.field) for e in exc.errors]
        raise _Refused(400, issues) from None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _policy_link(request: Request) -> Any:
    """Where the plan publishes each guideline (MEDPOLICY_POLICY_LINK, a template with {id} and
    {version}); unset, CRD cards carry no link rather than one to this service's JSON API."""
    template = os.environ.get("MEDPOLICY_POLICY_LINK")

    def link(policy: t.Policy) -> str | None:
        if template:
            return template.format(id=policy.meta.id, version=policy.meta.version)
        return None

    return link


# -- cases: the PAS recorder over the service's store ---------------------------------------------


_STATUS: dict[str, Status] = {
    s: s for s in ("approved", "pending_information", "in_review", "denied", "out_of_scope")
}


_SUBMIT_REPLAY = "POST /fhir/Claim/$submit (the same request again)"


class StoreRecorder:
    """Keeps PAS and CRD decisions as cases; a request for an open case adds to that case."""

    def __init__(self, registry: PolicyRegistry, store: CaseStore, caller: TokenInfo) -> None:
        self.registry = registry
        self.store = store
        self.caller = caller
        self.organization = caller.organization if caller.role is Role.provider else None

    def record(
        self, request: PaRequest, decision: DecisionLike, record: ClinicalRecord | None = None
    ) -> CaseRecord:
        """A retried submission (the same request, and the same clinical record: see below)
        returns its case; more information for an open case is added to it; anything else opens
        a new case. ``record``: what the engine decided, when more than the request; kept too.

        The record must match as well as the request: the same Claim sent again with a DTR
        answer the first lacked (the PAS way to answer a request for information about a fact
        only the record holds) has the same request, and is more information, not a retry."""
        found = self.store.find_by_request_id(request.request_id, self.organization)
        sent = (request_json(request), record_json(record))
        same = [c for c in found if (c.request_json, c.record_json) == sent]
        if same:  # the case as it stands now, perhaps decided since: a view, recorded
            self.store.reads.record(same[-1].id, self.caller.actor(), _SUBMIT_REPLAY)
            return self._record(same[-1])
        open_cases = [c for c in found if not c.final]
        if open_cases:
            case = self.store.resubmit(
                open_cases[0].id, request, decision, actor=self.caller.actor(), record=record
            )
        else:
            actor = self.caller.actor()
            case = self.store.submit(request, decision, actor=actor, record=record).case
        return self._record(case)

    def lookup(self, request_id: str) -> CaseRecord | None:
        found = self.store.find_by_request_id(request_id, self.organization)
        if not found:
            return None
        latest = max(found, key=lambda c: c.received_at)
        # An inquiry shows the case's decision: a view, recorded (``medpolicy.store.reads``).
        self.store.reads.record(latest.id, self.caller.actor(), "POST /fhir/Claim/$inquire")
        return self._record(latest)

    def _record(self, case: Case) -> CaseRecord:
        reviews = self.store.reviewer_decisions(case.id)
        review, authorization = None, None
        decision = case.decision()
        if reviews:
            r = reviews[-1]
            review = Review(r.action.value, r.reason, tuple(r.clauses), r.reviewer, r.created_at)
        if case.status.value == "approved" and decision.authorization is None:
            # A reviewer approved: what the approval recorded (computed again for an approval
            # recorded without it: the same request, as decided, under the same policy version).
            authorization = reviews[-1].authorization if reviews else None
            if authorization is None:
                with contextlib.suppress(RequestError):  # its period cannot exist: none stated
                    authorization = reviewer_authorization(
                        self.registry, case.decided_on(), decision
                    )
        return CaseRecord(case.id, _STATUS[case.status.value], decision, review, authorization)


# -- PAS ------------------------------------------------------------------------------------------


def _naming(request: Request, caller: TokenInfo) -> Naming:
    organization = caller.organization if caller.role is Role.provider else None
    return Naming(_base(request), str(uuid.uuid4()), datetime.now(UTC), organization)


async def _pas(request: Request, svc: Services, operation: Any) -> Response:
    try:
        caller = _authenticated(request, svc, Role.provider)
        data = await _body(request)
        naming = _naming(request, caller)
        recorder = StoreRecorder(svc.registry, svc.store, caller)
        result = await run_in_threadpool(lambda: operation(svc.registry, data, recorder, naming))
    except _Refused as exc:
        return _outcome(exc.status, exc.issues, exc.headers)
    except PasRejected as exc:
        return _outcome(exc.status_code, exc.issues)
    except CaseConflict as exc:
        return _outcome(409, [OutcomeIssue("error", "conflict", str(exc), "Bundle")])
    except RequestError as exc:  # e.g. another patient under an open case's Claim identifier
        issues = [
            OutcomeIssue("error", "business-rule", f"{e.field}: {e.problem}", "Claim.identifier")
            for e in exc.errors
        ]
        return _outcome(422, issues)
    return _fhir(result.bundle)


@router.post(
    "/fhir/Claim/$submit",
    tags=["fhir"],
    summary="Da Vinci PAS: submit a prior authorization request Bundle",
    response_class=Response,
)
async def claim_submit(request: Request, svc: Svc) -> Response:
    """A PAS request Bundle in; a PAS response Bundle out, its ClaimResponse first (X12 review
    action per item: A1 certified, A4 pended, A3 only after a clinician reviewer's denial)."""
    return await _pas(request, svc, submit)


@router.post(
    "/fhir/Claim/$inquire",
    tags=["fhir"],
    summary="Da Vinci PAS: the current state of a prior authorization",
    response_class=Response,
)
async def claim_inquire(request: Request, svc: Svc) -> Response:
    """A PAS inquiry Bundle (the Claim's identifier names the request); the case as it stands,
    including a clinician reviewer's decision made since the submission."""
    return await _pas(request, svc, inquire)


# -- DTR ------------------------------------------------------------------------------------------


def _package_policies(svc: Services, params: Any) -> tuple[list[t.Policy], list[OutcomeIssue]]:
    """The policies whose Questionnaires a $questionnaire-package call asks for: by its orders'
    codes, or by the canonicals it names, or (neither given) every policy in force."""
    if not isinstance(params, dict) or params.get("resourceType") != "Parameters":
        raise _Refused(
            400,
            [OutcomeIssue("error", "structure", "expected a Parameters resource", "Parameters")],
        )
    issues = resource_issues(params, "Parameters")
    if issues:
        raise _Refused(400, issues)
    chosen: list[t.Policy] = []
    notes: list[OutcomeIssue] = []
    today = datetime.now(UTC).date()
    for i, p in enumerate(params.get("parameter") or []):
        path = f"Parameters.parameter[{i}]"
        if p.get("name") == "order" and isinstance(p.get("resource"), dict):
            order = p["resource"]
            concept = order.get("medicationCodeableConcept") or order.get("code")
            match = identify(concept, f"{path}.resource")
            # each of the payer's policies for the drug: which applies is the member's plan and
            # line of business to say, and each has its own Questionnaire
            found = svc.registry.of_payer(match.hcpcs or "", today)
            chosen += found
            if not found:
                notes.append(
                    OutcomeIssue(
                        "information",
                        "not-found",
                        "no Questionnaire: the order's code is not covered by these guidelines",
                        path,
                    )
                )
        elif p.get("name") == "questionnaire" and isinstance(p.get("valueCanonical"), str):
            wanted = p["valueCanonical"].split("|")[0]
            chosen += [pol for pol in svc.registry.all() if questionnaire_url(pol) == wanted]
    named = any(p.get("name") in ("order", "questionnaire") for p in params.get("parameter") or [])
    if not named:
        chosen = svc.registry.all()
    return list({id(p): p for p in chosen}.values()), notes


@router.post(
    "/fhir/Questionnaire/$questionnaire-package",
    tags=["fhir"],
    summary="Da Vinci DTR: the Questionnaire for an order, generated from the policy",
    response_class=Response,
)
async def questionnaire_package(request: Request, svc: Svc) -> Response:
    """Parameters in (coverage, order, or questionnaire canonicals); Parameters out with a
    PackageBundle per Questionnaire. The Questionnaire is generated from the policy's criteria
    tree: one question per fact the criteria read."""
    try:
        _authenticated(request, svc)
        policies, notes = _package_policies(svc, await _body(request))
    except _Refused as exc:
        return _outcome(exc.status, exc.issues, exc.headers)
    if not policies:  # DTR 2.0.1 output carries at least one PackageBundle: none, not found
        issues = [OutcomeIssue("error", "not-found", n.diagnostics, n.expression) for n in notes]
        return _outcome(404, issues or [OutcomeIssue("error", "not-found", "no Questionnaire")])
    return _fhir(package_parameters(policies, _base(request), notes))


@router.get(
    "/fhir/Questionnaire/{questionnaire_id}",
    tags=["fhir"],
    summary="A generated DTR Questionnaire",
    response_class=Response,
)
def read_questionnaire(questionnaire_id: str, svc: Svc) -> Response:
    for policy in svc.registry.all():
        if f"medpolicy-{policy.meta.id}" == questionnaire_id:
            return _fhir(generate_questionnaire(policy))
    return _outcome(
        404,
        [
            OutcomeIssue(
                "error", "not-found", f"no Questionnaire {questionnaire_id!r}", "Questionnaire.id"
            )
        ],
    )


@router.post(
    "/api/v1/cases/{case_id}/questionnaire-response",
    tags=["fhir"],
    summary="Add a DTR QuestionnaireResponse's answers to a case",
    response_class=Response,
)
async def case_questionnaire_response(case_id: str, request: Request, svc: Svc) -> Response:
    """The answers fill the facts the case does not have yet (what it has is kept, and each
    answer not used is reported); the engine decides again on the merged request."""
    try:
        caller = _authenticated(request, svc, Role.provider)
        qr = await _body(request)
        case = svc.store.get(case_id)
        if case is None or (
            caller.role is Role.provider and case.organization != caller.organization
        ):
            raise _Refused(404, [OutcomeIssue("error", "not-found", f"no case {case_id}")])
        body = await run_in_threadpool(lambda: _answer_case(svc, caller, case, qr))
    except _Refused as exc:
        return _outcome(exc.status, exc.issues, exc.headers)
    except CaseConflict as exc:
        return _outcome(409, [OutcomeIssue("error", "conflict", str(exc))])
    return Response(json.dumps(body), media_type="application/json")


def _checked_response(qr: Any) -> dict[str, Any]:
    if not (isinstance(qr, dict) and qr.get("resourceType") == "QuestionnaireResponse"):
        raise _Refused(
            400,
            [
                OutcomeIssue(
                    "error",
                    "structure",
                    "expected a QuestionnaireResponse",
                    "QuestionnaireResponse",
                )
            ],
        )
    issues = resource_issues(qr, "QuestionnaireResponse")
    if issues:
        raise _Refused(400, issues)
    return qr


def _answer_case(svc: Services, caller: TokenInfo, case: Case, qr: Any) -> dict[str, Any]:
    """The answers read into the case's request, and into its clinical record: the facts only the
    record holds, the case's (kept) and the answers' (added), placed where the catalogue reads
    them; the engine decides on the record when there is one, and the case keeps it."""
    draft = Draft("QuestionnaireResponse")
    draft.data = case.request_data()
    stored = (PaRequest.model_validate_json(case.request_json), case.record())
    keep_record_facts(stored, decision_catalogue(svc.registry, case.decision()), draft)
    located = Located(_checked_response(qr), "QuestionnaireResponse")
    if not read_questionnaire_response(located, draft):
        raise _Refused(
            422,
            [OutcomeIssue("error", "not-supported", i.message, i.expression) for i in draft.issues],
        )
    try:
        merged = parse_request(draft.data)
        record = record_of(merged, draft)
        decision = evaluate_request(svc.registry, record or merged)
    except RequestError as exc:
        raise _Refused(
            422,
            [
                OutcomeIssue(
                    "error", "invalid", f"{e.field}: {e.problem}", draft.expression_for(e.field)
                )
                for e in exc.errors
            ],
        ) from None
    updated = svc.store.resubmit(case.id, merged, decision, actor=caller.actor(), record=record)
    return {
        "case_id": updated.id,
        "status": updated.status.value,
        "outcome": decision.outcome.value,
        "answers_not_used": [i.as_dict() for i in draft.issues],
        "decision": json.loads(decision.to_json()),
    }


# -- CRD ------------------------------------------------------------------------------------------


@router.get("/cds-services", tags=["fhir"], summary="CDS Hooks discovery (Da Vinci CRD)")
def cds_services(svc: Svc) -> dict[str, Any]:
    return discovery(svc.registry)


@router.post(
    "/cds-services/{service_id}",
    tags=["fhir"],
    summary="A CRD CDS Hooks service",
    response_class=Response,
)
async def cds_service(service_id: str, request: Request, svc: Svc) -> Response:
    """order-select / order-sign: cards and a coverage-information system action for each draft
    order of a drug these guidelines cover."""
    try:
        # A hook can open a case (an order signed with the criteria met), so, like a PAS
        # submission, it needs a provider's token: the case is that provider organization's.
        caller = _authenticated(request, svc, Role.provider)
        body = await _body(request, JSON_TYPES)
        settings = CrdSettings(
            _payer(svc),
            svc.settings.clock(),
            _policy_link(request),
            StoreRecorder(svc.registry, svc.store, caller),
            caller.organization if caller.role is Role.provider else None,
        )
        answer = await run_in_threadpool(lambda: respond(svc.registry, service_id, body, settings))
    except _Refused as exc:
        return _outcome(exc.status, exc.issues, exc.headers)
    except HookRejected as exc:
        return _outcome(
            exc.status_code, [OutcomeIssue("error", "invalid", m, p) for p, m in exc.problems]
        )
    return Response(json.dumps(answer, ensure_ascii=False), media_type="application/json")


def _payer(svc: Services) -> str:
    payers = sorted({p.meta.payer for p in svc.registry.all()})
    return ", ".join(payers) or "medpolicy"


@router.get(
    "/fhir/metadata", tags=["fhir"], summary="The FHIR CapabilityStatement", response_class=Response
)
def metadata(request: Request) -> Response:
    return _fhir(capability_statement(__version__, _base(request), datetime.now(UTC).date()))
