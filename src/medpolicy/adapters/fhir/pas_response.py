"""Decision (or stored case) -> PAS response Bundle, ClaimResponse first.

Per Claim item, an X12 review action on the item's adjudication, as the published PAS examples
place it: **A1** certified in total (with ``itemPreAuthPeriod``, the authorized J9354 units and the
authorization number), **A4** pended (missing information, routed to a clinician reviewer, another
program's request, or an item no policy here covers), and **A3** not certified, only ever after a
clinician reviewer's denial: the engine never denies. Reasons go in ``processNote`` citing the
guideline's clauses; missing facts are also asked for in a CommunicationRequest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from medpolicy.adapters.fhir.bundles import BundleBuilder
from medpolicy.adapters.fhir.codes import X12_REPORT_TYPE, System
from medpolicy.adapters.fhir.draft import AdapterIssue
from medpolicy.adapters.fhir.dtr import questionnaire_canonical
from medpolicy.adapters.fhir.pas import EXT, PasItem
from medpolicy.adapters.fhir.resources import Located, ResourceIndex
from medpolicy.engine.decision import Authorization, DecisionLike, Outcome

__all__ = [
    "ItemState",
    "ResponseContext",
    "Review",
    "ReviewAction",
    "Status",
    "engine_status",
    "response_bundle",
    "review_action",
]

_PROFILE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
_ACTIONS = {"A1": "Certified in total", "A3": "Not Certified", "A4": "Pending"}
ReviewAction = Literal["A1", "A3", "A4"]
Status = Literal[
    "approved",
    "pending_information",
    "in_review",
    "denied",
    "out_of_scope",
    "not_covered",
    "not_found",
]

# What an engine outcome alone means for a case; a reviewer's action can then change it.
_ENGINE_STATUS: dict[Outcome, Status] = {
    Outcome.approved: "approved",
    Outcome.missing_information: "pending_information",
    Outcome.not_met: "in_review",
    Outcome.out_of_scope: "out_of_scope",
}


def engine_status(decision: DecisionLike) -> Status:
    return _ENGINE_STATUS[decision.outcome]


def review_action(status: str) -> ReviewAction:
    """A1 only for an approval, A3 only for a reviewer's denial, A4 for everything open."""
    return "A1" if status == "approved" else "A3" if status == "denied" else "A4"


@dataclass(frozen=True)
class Review:
    action: str  # approve | deny | request_information
    reason: str
    clauses: tuple[str, ...]
    reviewer: str
    at: datetime


@dataclass(frozen=True)
class ItemState:
    item: PasItem
    status: Status
    decision: DecisionLike | None = None
    case_id: str | None = None
    review: Review | None = None
    issues: tuple[AdapterIssue, ...] = ()
    authorization: Authorization | None = None  # a reviewer's approval of what was requested


def authorization_of(state: ItemState) -> Authorization | None:
    """What an approval authorizes: the engine's, or (a reviewer approved) the request's own."""
    if state.authorization is not None:
        return state.authorization
    return state.decision.authorization if state.decision is not None else None


def _questionnaire(d: DecisionLike) -> str:
    return questionnaire_canonical(d.policy.id, d.policy.version, d.policy.content_hash)


# -- notes -------------------------------------------------------------------------------------


def _notes(state: ItemState) -> list[str]:
    d, seq = state.decision, state.item.sequence
    if state.status == "not_covered":
        return [
            f"Item {seq} ({state.item.product}): no coverage guideline in this service "
            "covers this code; not decided here, forwarded for manual review."
        ]
    if state.status == "not_found":
        return [f"Item {seq} ({state.item.product}): no prior authorization request on file."]
    assert d is not None
    notes = _review_notes(state) + _decision_notes(state, d)
    notes += [f"Item {seq}: flagged for the reviewer: {flag}" for flag in d.flags]
    notes += [
        f"Item {seq}: noted while reading the submission ({i.kind}) at {i.expression}: "
        f"{i.message}" + (f" [{i.coding}]" if i.coding else "")
        for i in state.issues
    ]
    return notes


def _review_notes(state: ItemState) -> list[str]:
    r = state.review
    if r is None:
        return []
    verb = {
        "approve": "Certified",
        "deny": "Not certified",
        "request_information": "More information requested",
    }.get(r.action, r.action)
    cited = f" (clauses: {'; '.join(r.clauses)})" if r.clauses else ""
    a = authorization_of(state) if r.action == "approve" else None
    if a is not None:
        cited += (
            f". Authorized {a.units_per_administration} {a.hcpcs} units per administration "
            f"every {a.interval_days} days, {a.total_units} units, "
            f"{a.period_start.isoformat()} to {a.period_end.isoformat()}"
        )
    return [
        f"Item {state.item.sequence}: {verb} by clinician review on {r.at.date().isoformat()}: "
        f"{r.reason}{cited}"
    ]


def _decision_notes(state: ItemState, d: DecisionLike) -> list[str]:
    seq, policy = state.item.sequence, f"{d.policy.id} version {d.policy.version}"
    if d.outcome is Outcome.approved and d.authorization is not None:
        a = d.authorization
        return [
            f"Item {seq}: meets {d.summary.removeprefix('Meets ').rstrip('.')} under {policy}. "
            f"Authorized {a.dose_mg} mg ({a.mg_per_kg} mg/kg at {a.weight_kg} kg) every "
            f"{a.interval_days} days: {a.units_per_administration} {a.hcpcs} units per "
            f"administration, {a.administrations} administrations, {a.total_units} units, "
            f"{a.period_start.isoformat()} to {a.period_end.isoformat()}."
        ]
    if d.outcome is Outcome.out_of_scope:
        return [f"Item {seq}: {d.summary}"]
    notes = [
        f"Item {seq}: criterion not met under {policy}: {r.clause} ({r.text.strip()}): "
        f"{r.detail}. Routed to a clinician reviewer; this is not a denial."
        for r in d.reasons
    ]
    notes += [
        f"Item {seq}: information needed: {m.label}"
        + (f" (for {'; '.join(m.clauses)})" if m.clauses else "")
        + (f"; {m.note}" if m.note else "")
        for m in d.missing_information
    ]
    if d.missing_information:
        notes.append(f"Item {seq}: the documentation questionnaire is {_questionnaire(d)}.")
    return notes


# -- items -------------------------------------------------------------------------------------


def _authorization_number(state: ItemState) -> str | None:
    if state.case_id:
        return state.case_id
    return state.decision.decision_id if state.decision else None


def _review_extension(action: ReviewAction, number: str | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if number and action == "A1":
        parts.append({"url": "number", "valueString": number})
    parts.append(
        {
            "url": f"{EXT}reviewActionCode",
            "valueCodeableConcept": {
                "coding": [
                    {
                        "system": System.X12_REVIEW_ACTION,
                        "code": action,
                        "display": _ACTIONS[action],
                    }
                ]
            },
        }
    )
    return {"url": f"{EXT}reviewAction", "extension": parts}


def _item_extensions(state: ItemState, action: ReviewAction) -> list[dict[str, Any]]:
    d = state.decision
    out: list[dict[str, Any]] = []
    a = authorization_of(state)
    if action == "A1" and d is not None and a is not None:
        issued = state.review.at.date() if state.review else d.evaluated_at.date()
        out += [
            {"url": f"{EXT}itemPreAuthIssueDate", "valueDate": issued.isoformat()},
            {
                "url": f"{EXT}itemPreAuthPeriod",
                "valuePeriod": {
                    "start": a.period_start.isoformat(),
                    "end": a.period_end.isoformat(),
                },
            },
        ]
        if a.total_units is not None:  # the units, when the dose in mg is known
            out.append(
                {
                    "url": f"{EXT}itemAuthorizedDetail",
                    "extension": [
                        {
                            "url": "quantity",
                            "valueQuantity": {
                                "value": a.total_units,
                                "unit": f"{a.hcpcs} billing units",
                            },
                        }
                    ],
                }
            )
    elif action != "A1" and state.case_id:
        out.append({"url": f"{EXT}administrationReferenceNumber", "valueString": state.case_id})
    return out


def _item(state: ItemState, notes: list[int]) -> dict[str, Any]:
    action = review_action(state.status)
    item: dict[str, Any] = {"itemSequence": state.item.sequence}
    extensions = _item_extensions(state, action)
    if extensions:
        item["extension"] = extensions
    if notes:
        item["noteNumber"] = notes
    adjudication: dict[str, Any] = {
        "extension": [_review_extension(action, _authorization_number(state))],
        "category": {"coding": [{"system": System.ADJUDICATION, "code": "submitted"}]},
    }
    reason = _denial_reason(state) if action == "A3" else None
    if reason is not None:
        adjudication["reason"] = reason
    item["adjudication"] = [adjudication]
    return item


def _denial_reason(state: ItemState) -> dict[str, Any] | None:
    """Why a reviewer did not certify, coded: each guideline clause the denial rests on (the
    reviewer's, else the criteria the engine found not met), in the policy's clause system, with
    the reviewer's words as text. (PAS's reviewAction.reasonCode is bound to X12's licensed
    code list 886, none of whose codes could be verified here: it is left out rather than
    guessed.)"""
    d, r = state.decision, state.review
    if d is None or r is None:
        return None
    clauses = list(r.clauses) or list(dict.fromkeys(reason.clause for reason in d.reasons))
    system = f"{System.MEDPOLICY}/CodeSystem/{d.policy.id}-clauses"
    return {
        "coding": [{"system": system, "code": clause} for clause in clauses],
        "text": r.reason,
    }


# -- the Bundle --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseContext:
    """The request Bundle being answered, and how to name what is emitted."""

    bundle: dict[str, Any]
    index: ResourceIndex
    claim: Located
    base_url: str
    response_id: str
    now: datetime
    inquiry: bool = False


def _communication_request(
    ctx: ResponseContext, state: ItemState, refs: _Parties
) -> dict[str, Any] | None:
    """What the provider is asked to send for one pended item, in the PAS 2.0.1 shape: an X12
    PWK01 report type as the category, and one payload per missing fact, each naming the service
    line it is for (``payload.extension:serviceLineNumber``), so a provider system can turn it
    into PWK segments."""
    d = state.decision
    if d is None or not d.missing_information or state.status != "pending_information":
        return None
    line = {"url": f"{EXT}serviceLineNumber", "valuePositiveInt": max(state.item.sequence, 1)}
    payload = [
        {
            "extension": [line],
            "contentString": f"{m.label}" + (f" (for {'; '.join(m.clauses)})" if m.clauses else ""),
        }
        for m in d.missing_information
    ]
    payload.append(
        {
            "extension": [line],
            "contentString": f"Answer with the questionnaire {_questionnaire(d)} "
            "(Questionnaire/$questionnaire-package)",
        }
    )
    ident = f"{ctx.response_id}-info-{state.item.sequence}"
    return {
        "resourceType": "CommunicationRequest",
        "id": ident,
        "meta": {"profile": [f"{_PROFILE}profile-communicationrequest"]},
        "identifier": [{"system": f"{System.MEDPOLICY}/communication-request", "value": ident}],
        "status": "active",
        "category": [{"coding": [dict(X12_REPORT_TYPE)]}],
        "subject": refs.patient,
        "about": [refs.claim],
        "authoredOn": ctx.now.isoformat(),
        "requester": refs.insurer,
        "recipient": [refs.provider],
        "payload": payload,
    }


@dataclass(frozen=True)
class _Parties:
    """The references the emitted resources carry, as the Bundle names them."""

    patient: dict[str, Any]
    insurer: dict[str, Any]
    provider: dict[str, Any]
    claim: dict[str, Any]  # logical: the provider's Claim, by its identifier


def _parties(ctx: ResponseContext, builder: BundleBuilder) -> _Parties:
    claim = ctx.claim
    identifiers = [i for i in claim.resource.get("identifier") or [] if isinstance(i, dict)]
    logical: dict[str, Any] = {"type": "Claim"}
    if identifiers:
        logical["identifier"] = identifiers[0]
    else:
        logical["display"] = f"the submitted Claim {claim.id or ''}".strip()
    return _Parties(
        builder.echo(claim.resource.get("patient"), claim),
        builder.echo(claim.resource.get("insurer"), claim),
        builder.echo(claim.resource.get("provider"), claim),
        logical,
    )


def _claim_response(
    ctx: ResponseContext,
    states: list[ItemState],
    info: list[dict[str, Any]],
    refs: _Parties,
    builder: BundleBuilder,
) -> dict[str, Any]:
    claim = ctx.claim.resource
    notes: list[dict[str, Any]] = []
    items = []
    for state in states:
        first = len(notes) + 1
        notes += [
            {"number": first + k, "type": "display", "text": text}
            for k, text in enumerate(_notes(state))
        ]
        items.append(_item(state, list(range(first, len(notes) + 1))))
    profile = "profile-claiminquiryresponse" if ctx.inquiry else "profile-claimresponse"
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": ctx.response_id,
        "meta": {"profile": [f"{_PROFILE}{profile}"]},
        "identifier": claim.get("identifier") or [],
        "status": "active",
        "type": claim["type"],
        "use": "preauthorization",
        "patient": refs.patient,
        "created": ctx.now.isoformat(),
        "insurer": refs.insurer,
        "requestor": refs.provider,
        "request": refs.claim,
        "outcome": "complete",
        "disposition": _disposition(states),
        "item": items,
        "processNote": notes,
    }
    approved = [s for s in states if review_action(s.status) == "A1"]
    if approved and _authorization_number(approved[0]):
        response["preAuthRef"] = _authorization_number(approved[0])
    if info:
        response["communicationRequest"] = [
            builder.reference_to_new("CommunicationRequest", c["id"]) for c in info
        ]
    return {k: v for k, v in response.items() if v != []}


def _disposition(states: list[ItemState]) -> str:
    words = {"A1": "certified", "A3": "not certified", "A4": "pended"}
    return "; ".join(f"item {s.item.sequence} {words[review_action(s.status)]}" for s in states)


def response_bundle(ctx: ResponseContext, states: list[ItemState]) -> dict[str, Any]:
    """The PAS response Bundle: the ClaimResponse, the CommunicationRequests it points to, and
    the request's patient, insurer and requestor echoed with what they reference."""
    builder = BundleBuilder(ctx.response_id, ctx.bundle)
    refs = _parties(ctx, builder)
    info = [cr for cr in (_communication_request(ctx, s, refs) for s in states) if cr is not None]
    claim_response = _claim_response(ctx, states, info, refs, builder)
    builder.add(claim_response)
    for request in info:
        builder.add(request)
    bundle_profile = (
        "profile-pas-inquiry-response-bundle" if ctx.inquiry else "profile-pas-response-bundle"
    )
    fields: dict[str, Any] = {
        "id": ctx.response_id,
        "meta": {"profile": [f"{_PROFILE}{bundle_profile}"]},
    }
    if isinstance(ctx.bundle.get("identifier"), dict):
        fields["identifier"] = ctx.bundle["identifier"]
    fields.update(type="collection", timestamp=ctx.now.isoformat())
    return builder.bundle(claim_response, **fields)
