"""CRD: CDS Hooks discovery and the ``order-select`` / ``order-sign`` services.

For each draft MedicationRequest or ServiceRequest that names a drug a policy covers (HCPCS, or
its RxNorm / NDC codes), the prefetched record becomes an engine request and the decision becomes
a coverage-information card and system action. When the prefetched data (including a completed
DTR QuestionnaireResponse) already meet the criteria, the assertion says so: ``pa-needed:
satisfied`` with the authorization's id. Orders no policy here covers get no card: this service
speaks only for the guidelines it carries. A request that is not a well-formed hook call is
rejected with every problem named; a hook request whose clinical data cannot be read gets a card
that says why, never an error the clinician cannot act on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from medpolicy.adapters.fhir.codes import System
from medpolicy.adapters.fhir.crd_cards import OrderAnswer, card, guideline_link, system_action
from medpolicy.adapters.fhir.draft import AdapterIssue
from medpolicy.adapters.fhir.dtr import questionnaire_url, questionnaire_version
from medpolicy.adapters.fhir.medications import DrugMatch, identify, medication_concept
from medpolicy.adapters.fhir.pas_check import resource_issues
from medpolicy.adapters.fhir.pas_flow import CaseRecorder
from medpolicy.adapters.fhir.resources import Located, ResourceIndex
from medpolicy.adapters.fhir.to_request import AdaptedRequest, OrderContext, to_request
from medpolicy.adapters.fhir.vocabulary import fhir_mapping
from medpolicy.errors import RequestError
from medpolicy.policy import tree as t
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request

__all__ = ["CRD_VERSION", "SERVICES", "CrdSettings", "HookRejected", "discovery", "respond"]

CRD_VERSION = "2.0.1"  # the Da Vinci CRD version met, declared in every service's discovery entry
SERVICES = {"medpolicy-order-select": "order-select", "medpolicy-order-sign": "order-sign"}
_PATIENT = "{{context.patientId}}"
# The observations the adapters read (tumor markers, vitals, disease status): the catalogue's codes.
_OBSERVATIONS = ",".join(f"{System.LOINC}|{c}" for c in fhir_mapping().observation_codes)
PREFETCH = {
    "patient": f"Patient/{_PATIENT}",
    "coverage": f"Coverage?patient={_PATIENT}&status=active",
    "conditions": f"Condition?patient={_PATIENT}",
    "observations": f"Observation?patient={_PATIENT}&code={_OBSERVATIONS}",
    "medicationHistory": f"MedicationStatement?patient={_PATIENT}",
    "administrations": f"MedicationAdministration?patient={_PATIENT}",
    "questionnaireResponses": f"QuestionnaireResponse?subject={_PATIENT}&status=completed",
}
_TITLES = {
    "order-select": "Coverage requirements for oncology drug orders (order select)",
    "order-sign": "Coverage requirements for oncology drug orders (order sign)",
}
_EXPEDITED = frozenset({"urgent", "asap", "stat"})


class HookRejected(Exception):
    def __init__(self, problems: list[tuple[str, str]], status_code: int = 400) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
        self.problems = problems
        self.status_code = status_code


@dataclass(frozen=True)
class CrdSettings:
    payer: str
    now: datetime
    # Where the plan publishes a guideline (a card links to it); None: the card has no link.
    policy_link: Callable[[t.Policy], str | None]
    recorder: CaseRecorder | None = None  # records a case when order-sign finds PA satisfied
    organization: str | None = None  # the calling provider organization, stamped on requests


def discovery(registry: PolicyRegistry) -> dict[str, Any]:
    drugs = ", ".join(sorted(f"{p.drug.brand} ({p.drug.hcpcs})" for p in registry.all()))
    options = [
        {
            "code": "coverage-info",
            "type": "boolean",
            "name": "Coverage Information",
            "description": "Whether the ordered drug is covered, needs prior authorization, is "
            "already authorized by the prefetched record, or needs documentation",
            "default": True,
        },
        {
            "code": "max-cards",
            "type": "integer",
            "name": "Maximum cards",
            "description": "The most cards returned",
            "default": 10,
        },
    ]
    return {
        "services": [
            {
                "hook": hook,
                "id": sid,
                "title": _TITLES[hook],
                "description": f"Coverage requirements under this plan's guidelines for "
                f"{drugs}: prior authorization, documentation (DTR), allowed dose and period.",
                "prefetch": PREFETCH,
                "extension": {
                    "davinci-crd.version": [CRD_VERSION],
                    "davinci-crd.configuration-options": options,
                },
            }
            for sid, hook in SERVICES.items()
        ]
    }


def _check(service_id: str, body: Any) -> str:
    problems: list[tuple[str, str]] = []
    hook = SERVICES.get(service_id)
    if hook is None:
        raise HookRejected([("", f"no CDS service {service_id!r}; see GET /cds-services")], 404)
    if not isinstance(body, dict):
        raise HookRejected([("", "a CDS Hooks request must be a JSON object")])
    for key in ("hook", "hookInstance"):
        if not isinstance(body.get(key), str) or not body[key]:
            problems.append((key, "required (a string)"))
    if body.get("hook") and body.get("hook") != hook:
        problems.append(("hook", f"{body['hook']!r} sent to the {hook} service {service_id}"))
    if not isinstance(body.get("context"), dict):
        problems.append(("context", "required (an object)"))
    elif not isinstance(body["context"].get("draftOrders"), dict):
        problems.append(("context.draftOrders", "required (a Bundle of draft orders)"))
    if body.get("prefetch") is not None and not isinstance(body.get("prefetch"), dict):
        problems.append(("prefetch", "must be an object"))
    if problems:
        raise HookRejected(problems)
    return hook


def _index(body: dict[str, Any]) -> tuple[ResourceIndex, list[AdapterIssue]]:
    """The prefetched record and the draft orders; a resource that is not valid R4 is left out
    (and reported on the card), so the adapters read only well-formed resources, as for PAS."""
    parts = [(value, f"prefetch.{key}") for key, value in (body.get("prefetch") or {}).items()]
    parts.append((body["context"]["draftOrders"], "context.draftOrders"))
    index = ResourceIndex.from_parts(parts)
    dropped = []
    for item in index.items:
        problems = [] if ".contained[" in item.path else resource_issues(item.resource, item.path)
        if problems:
            shown = "; ".join(f"{p.expression}: {p.diagnostics}" for p in problems[:3])
            dropped.append(
                AdapterIssue(item.path, "not-usable", f"not valid R4, not read: {shown}")
            )
    return index.without({d.expression for d in dropped}), dropped


def _orders(index: ResourceIndex, body: dict[str, Any], hook: str) -> list[Located]:
    drafts = [
        x
        for x in index.of_type("MedicationRequest", "ServiceRequest")
        if x.path.startswith("context.draftOrders")
    ]
    selections = body["context"].get("selections")
    if hook == "order-select" and isinstance(selections, list) and selections:
        drafts = [x for x in drafts if f"{x.type}/{x.id}" in selections]
    return drafts


def respond(
    registry: PolicyRegistry, service_id: str, body: Any, settings: CrdSettings
) -> dict[str, Any]:
    hook = _check(service_id, body)
    index, dropped = _index(body)
    cards: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for order in _orders(index, body, hook):
        outcome = _answer(registry, index, body, order, hook, settings, dropped)
        if isinstance(outcome, dict):
            cards.append(outcome)
        elif outcome is not None:
            cards.append(card(outcome, settings.payer, body["hookInstance"]))
            action = system_action(outcome)
            if action is not None:
                actions.append(action)
    return {"cards": cards, "systemActions": actions}


def _policy_for(
    registry: PolicyRegistry, hcpcs: str, on: date, member: Mapping[str, Any]
) -> t.Policy | None:
    """The guideline for the member as far as the order's context tells (payer, plan, line of
    business); else the deployment's one for the drug; None when the member must say which."""
    try:
        return registry.select(
            hcpcs, on, member.get("payer"), member.get("plan"), member.get("line_of_business")
        )
    except RequestError:
        pass
    try:
        return registry.for_drug(hcpcs, on)
    except RequestError:
        return None


def _ordered_drug(index: ResourceIndex, order: Located) -> DrugMatch:
    if order.type == "MedicationRequest":
        return identify(*medication_concept(index, order))
    return identify(order.resource.get("code"), order.at("code"))


def _answer(
    registry: PolicyRegistry,
    index: ResourceIndex,
    body: dict[str, Any],
    order: Located,
    hook: str,
    settings: CrdSettings,
    dropped: list[AdapterIssue],
) -> OrderAnswer | dict[str, Any] | None:
    match = _ordered_drug(index, order)
    on = settings.now.date()
    if match.hcpcs is None or not registry.covers(match.hcpcs, on):
        return None  # not a drug this service's guidelines cover: nothing to say
    coverage, unsure = _coverage(index)
    adapted = to_request(index, _context(body, index, order, match, coverage, settings))
    policy = _policy_for(registry, match.hcpcs, on, adapted.data.get("member") or {})
    if policy is None:  # the member's plan or line of business decides which: not told
        return None
    if adapted.request is None:
        return _unreadable(policy, order, adapted, settings, body["hookInstance"])
    try:
        decision = evaluate_request(registry, adapted.for_engine or adapted.request)
    except RequestError as exc:
        return _unreadable(
            policy, order, adapted, settings, body["hookInstance"], adapted.problems_for(exc)
        )
    satisfied = None
    if decision.outcome.value == "approved" and hook == "order-sign" and settings.recorder:
        recorded = settings.recorder.record(adapted.request, decision, adapted.record)
        satisfied = recorded.case_id
    canonical = f"{questionnaire_url(policy)}|{questionnaire_version(policy)}"
    return OrderAnswer(
        order,
        adapted.request,
        decision,
        policy,
        coverage,
        canonical,
        settings.policy_link(policy),
        satisfied,
        settings.now.date(),
        (*dropped, *unsure, *adapted.issues),
    )


def _coverage(index: ResourceIndex) -> tuple[Located | None, list[AdapterIssue]]:
    """The member's coverage: the one sent, or several that agree on who pays and the type of
    coverage. Several that do not (a commercial plan and FEP, say) say nothing of which pays for
    this order: none is used (the engine asks for the line of business), and that is reported."""
    coverages = list(index.of_type("Coverage"))
    told = {
        json.dumps([c.resource.get("type"), c.resource.get("payor")], sort_keys=True)
        for c in coverages
    }
    if len(told) <= 1:
        return (coverages[0] if coverages else None), []
    paths = "; ".join(c.path for c in coverages)
    issue = AdapterIssue(
        coverages[0].path,
        "not-usable",
        f"the Coverage resources ({paths}) name different payers or types of coverage, and "
        "nothing says which pays for this order; none is used",
    )
    return None, [issue]


def _context(
    body: dict[str, Any],
    index: ResourceIndex,
    order: Located,
    match: DrugMatch,
    coverage: Located | None,
    settings: CrdSettings,
) -> OrderContext:
    patient = next(iter(index.of_type("Patient")), None)
    priority = order.resource.get("priority")
    return OrderContext(
        request_id=f"crd-{body['hookInstance']}-{order.type}-{order.id or 'order'}"[:200],
        request_id_source="hookInstance",
        submitted_at=settings.now,
        submitted_at_source="(clock)",
        hcpcs=match.hcpcs or "",
        hcpcs_source=order.path,
        root="context",
        drug_name=match.name,
        urgency="expedited" if priority in _EXPEDITED else None,
        urgency_source=order.at("priority"),
        patient=patient,
        coverage=coverage,
        order=order,
        not_history=frozenset({order.path}),
        organization=settings.organization,
    )


def _unreadable(
    policy: t.Policy,
    order: Located,
    adapted: AdaptedRequest,
    settings: CrdSettings,
    instance: str,
    problems: Any = None,
) -> dict[str, Any]:
    listed = "\n".join(
        f"- {p.expression}: {p.field}: {p.problem}" for p in (problems or adapted.problems)
    )
    out: dict[str, Any] = {
        "uuid": _card_id(instance, order),
        "indicator": "warning",
        "summary": f"{policy.drug.brand} ({policy.drug.hcpcs}): coverage could not be determined "
        "from the record sent"[:140],
        "detail": f"The order's data could not be evaluated:\n{listed}",
        "source": {
            "label": settings.payer,
            "topic": {
                "system": System.CDS_CARD_TYPE,
                "code": "coverage-info",
                "display": "Coverage Information",
            },
        },
    }
    link = settings.policy_link(policy)
    if link:
        out["links"] = [guideline_link(policy, link)]
    return out


def _card_id(instance: str, order: Located) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance}/{order.type}/{order.id}"))
