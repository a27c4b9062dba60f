"""CRD responses for one decided order: a coverage-information card and the system action that
records the coverage-information extension on the order, as Da Vinci CRD 2.0.1 defines them
(the version this service declares in its discovery response).

The extension obeys the CRD invariants (crd-ci-q1..q5) and 2.0.1's value sets: a questionnaire
only with documentation needed; ``pa-needed`` whenever the service is not ``not-covered``; no
``info-needed`` (this service never needs performer, location or timeframe); no ``doc-purpose``
when PA is satisfied; ``satisfied-pa-id`` exactly when PA is satisfied; ``doc-needed`` only with
a code of 2.0.1's AdditionalDocumentation value set (clinical | admin | both | conditional: when
nothing more is needed it is left out, 2.0.1 having no "no-doc"); details only with codes of
2.0.1's coverageDetail value set. ``check_invariants`` states the invariants as code.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from medpolicy.adapters.fhir.codes import System
from medpolicy.adapters.fhir.draft import AdapterIssue
from medpolicy.adapters.fhir.resources import Located
from medpolicy.engine.authorize import add_months
from medpolicy.engine.decision import DecisionLike, Outcome
from medpolicy.policy import tree as t
from medpolicy.request import Request

__all__ = [
    "CoverageAssertion",
    "OrderAnswer",
    "card",
    "check_invariants",
    "coverage_extension",
    "guideline_link",
    "system_action",
]

COVERAGE_INFO = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
_TOPIC = {
    "system": System.CDS_CARD_TYPE,
    "code": "coverage-info",
    "display": "Coverage Information",
}


@dataclass(frozen=True)
class OrderAnswer:
    """What CRD says about one order: its decision, and where its links point."""

    order: Located
    request: Request
    decision: DecisionLike
    policy: t.Policy
    coverage: Located | None
    questionnaire: str  # canonical with version
    policy_link: str | None  # the published guideline, when the plan says where it is
    satisfied_id: str | None  # the authorization a satisfied assertion names
    today: date
    issues: tuple[AdapterIssue, ...] = ()  # what in the record was not used, and why


@dataclass(frozen=True)
class CoverageAssertion:
    covered: str
    pa_needed: str
    doc_needed: str | None  # None: nothing more to document


def assertion(answer: OrderAnswer) -> CoverageAssertion | None:
    """The decision as a coverage assertion; None when another program's rules apply."""
    outcome = answer.decision.outcome
    if outcome is Outcome.out_of_scope:
        return None
    if outcome is Outcome.approved:
        return CoverageAssertion("covered", "satisfied", None)
    return CoverageAssertion("conditional", "auth-needed", "clinical")


def _dose_limit(policy: t.Policy) -> Mapping[str, Any] | None:
    for pathway in policy.pathways:
        for node in t.walk(pathway.criteria):
            if isinstance(node, t.Check) and "max_mg_per_kg" in node.params:
                return node.params
    return None


def _allowed_quantity(answer: OrderAnswer) -> dict[str, Any] | None:
    """Per dose interval: the authorized units when approved, else the policy's mg/kg limit."""
    a = answer.decision.authorization
    if a is not None and a.units_per_administration is not None:
        return _detail(
            "allowed-quantity",
            {
                "valueQuantity": {
                    "value": a.units_per_administration,
                    "unit": f"{a.hcpcs} units (1 mg each)",
                }
            },
            f"per administration, every {a.interval_days} days ({a.dose_mg} mg)",
        )
    limit = _dose_limit(answer.policy)
    if limit is None:
        return None
    max_mg = Decimal(str(limit["max_mg_per_kg"]))
    return _detail(
        "allowed-quantity",
        {
            "valueQuantity": {
                "value": float(max_mg),
                "unit": "mg/kg",
                "system": System.UCUM,
                "code": "mg/kg",
            }
        },
        f"at most {max_mg} mg/kg of body weight every {limit['per_days']} days",
    )


def _allowed_period(answer: OrderAnswer) -> dict[str, Any]:
    a = answer.decision.authorization
    if a is not None:
        start, end = a.period_start, a.period_end
    else:
        # The period an approval would carry: inclusive of both ends, as the engine's
        # authorization (and so the PAS itemPreAuthPeriod) counts it.
        start = answer.request.medication.start_date or answer.today
        months = max(p.approval_months for p in answer.policy.pathways)
        end = add_months(start, months) - timedelta(days=1)
    return _detail(
        "allowed-period", {"valuePeriod": {"start": start.isoformat(), "end": end.isoformat()}}
    )


def _detail(code: str, value: dict[str, Any], qualification: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {
            "url": "code",
            "valueCodeableConcept": {"coding": [{"system": System.CDS_CARD_TYPE, "code": code}]},
        },
        {"url": "value", **value},
    ]
    if qualification:
        parts.append({"url": "qualification", "valueString": qualification})
    return {"url": "detail", "extension": parts}


def _reasons(decision: DecisionLike) -> list[str]:
    if decision.outcome is Outcome.missing_information:
        return ["Documentation needed: " + "; ".join(m.label for m in decision.missing_information)]
    return [f"{r.clause}: {r.detail}" for r in decision.reasons]


def coverage_extension(answer: OrderAnswer) -> dict[str, Any] | None:
    claim = assertion(answer)
    if claim is None or answer.coverage is None:
        return None
    d = answer.decision
    parts = [
        {"url": "coverage", "valueReference": {"reference": f"Coverage/{answer.coverage.id}"}},
        {"url": "covered", "valueCode": claim.covered},
        {"url": "pa-needed", "valueCode": claim.pa_needed},
    ]
    if claim.doc_needed is not None:  # crd-ci-q1: a questionnaire only with documentation needed
        parts += [
            {"url": "doc-needed", "valueCode": claim.doc_needed},
            {"url": "doc-purpose", "valueCode": "withpa"},
            {"url": "questionnaire", "valueCanonical": answer.questionnaire},
        ]
    parts += _details(answer)
    parts += [
        {"url": "date", "valueDate": answer.today.isoformat()},
        {"url": "coverage-assertion-id", "valueString": d.decision_id},
    ]
    if claim.pa_needed == "satisfied":  # crd-ci-q5: the id exactly when satisfied
        parts.append(
            {"url": "satisfied-pa-id", "valueString": answer.satisfied_id or d.decision_id}
        )
    return {"url": COVERAGE_INFO, "extension": parts}


def _details(answer: OrderAnswer) -> list[dict[str, Any]]:
    """The billing code, the reasons, the allowed quantity and period (the guideline itself is
    linked from the card: CRD 2.0.1 has no detail code for it)."""
    drug = answer.policy.drug
    parts: list[dict[str, Any]] = [
        {
            "url": "billingCode",
            "valueCoding": {
                "system": System.HCPCS,
                "code": drug.hcpcs,
                "display": drug.hcpcs_description,
            },
        }
    ]
    parts += [
        {"url": "reason", "valueCodeableConcept": {"text": text[:1000]}}
        for text in _reasons(answer.decision)
    ]
    quantity = _allowed_quantity(answer)
    parts += [quantity] if quantity else []
    parts.append(_allowed_period(answer))
    return parts


def system_action(answer: OrderAnswer) -> dict[str, Any] | None:
    """The order, updated with its coverage information (earlier assertions replaced)."""
    extension = coverage_extension(answer)
    if extension is None:
        return None
    order = {k: v for k, v in answer.order.resource.items()}
    kept = [e for e in order.get("extension") or [] if e.get("url") != COVERAGE_INFO]
    order["extension"] = [*kept, extension]
    return {
        "type": "update",
        "description": "Added coverage information to the order.",
        "resource": order,
    }


def _summary(answer: OrderAnswer) -> tuple[str, str]:
    drug, d = f"{answer.policy.drug.brand} ({answer.policy.drug.hcpcs})", answer.decision
    if d.outcome is Outcome.approved:
        return "info", f"{drug}: covered; prior authorization criteria met"
    if d.outcome is Outcome.missing_information:
        return "info", f"{drug}: prior authorization needed; documentation required"
    if d.outcome is Outcome.not_met:
        return "warning", f"{drug}: prior authorization needed; criteria not met as ordered"
    return "info", f"{drug}: reviewed under another program's guidelines"


def _detail_text(answer: OrderAnswer) -> str:
    d = answer.decision
    lines = [d.summary]
    a = d.authorization
    if a is not None:
        lines.append(
            f"Authorization {answer.satisfied_id or d.decision_id}: {a.dose_mg} mg every "
            f"{a.interval_days} days, {a.units_per_administration} {a.hcpcs} units per "
            f"administration, {a.period_start.isoformat()} to {a.period_end.isoformat()}."
        )
    lines += [f"- {m.label}" for m in d.missing_information]
    lines += [f"- {r.clause}: {r.detail}" for r in d.reasons]
    if answer.issues:
        shown = "\n".join(
            f"- {i.expression}: {i.message}" + (f" [{i.coding}]" if i.coding else "")
            for i in answer.issues[:5]
        )
        more = f"\n- and {len(answer.issues) - 5} more" if len(answer.issues) > 5 else ""
        lines.append(f"Noted while reading the record:\n{shown}{more}")
    lines.append(f"Policy {d.policy.id} version {d.policy.version}.")
    return "\n\n".join(lines)


def card(answer: OrderAnswer, payer: str, instance: str) -> dict[str, Any]:
    indicator, summary = _summary(answer)
    order = answer.order
    out: dict[str, Any] = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance}/{order.type}/{order.id}")),
        "summary": summary[:140],
        "indicator": indicator,
        "detail": _detail_text(answer),
        "source": {"label": payer, "topic": _TOPIC},
    }
    if answer.policy_link:
        out["links"] = [guideline_link(answer.policy, answer.policy_link)]
    if order.id:
        out["extension"] = {
            "davinci-crd.associated-resource": [{"reference": f"{order.type}/{order.id}"}]
        }
    return out


def guideline_link(policy: t.Policy, url: str) -> dict[str, str]:
    return {"label": f"{policy.meta.id} {policy.meta.title}", "url": url, "type": "absolute"}


def check_invariants(extension: Mapping[str, Any]) -> list[str]:
    """The CRD coverage-information invariants crd-ci-q1..q5; the ones broken, by name."""
    parts = [p for p in extension.get("extension", []) if isinstance(p, dict)]
    values: dict[str, list[Any]] = {}
    for p in parts:
        value = next((v for k, v in p.items() if k.startswith("value")), None)
        values.setdefault(p.get("url", ""), []).append(value)
    doc, pa = values.get("doc-needed", []), values.get("pa-needed", [])
    broken = []
    if (values.get("questionnaire") or values.get("response")) and (
        not doc or any(v == "no-doc" for v in doc)
    ):
        broken.append("crd-ci-q1")
    if any(v != "not-covered" for v in values.get("covered", [])) and not pa:
        broken.append("crd-ci-q2")
    if values.get("info-needed") and not any(
        v == "conditional"
        for k in ("covered", "pa-needed", "doc-needed")
        for v in values.get(k, [])
    ):
        broken.append("crd-ci-q3")
    if "satisfied" in pa and "PA" in values.get("doc-purpose", []):
        broken.append("crd-ci-q4")
    if ("satisfied" in pa) != bool(values.get("satisfied-pa-id")):
        broken.append("crd-ci-q5")
    for required in ("coverage", "covered", "date", "coverage-assertion-id"):
        if len(values.get(required, [])) != 1:
            broken.append(f"{required} 1..1")
    return broken
