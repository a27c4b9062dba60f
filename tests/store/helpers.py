"""Filling a store through its Python API, as the REST and FHIR surfaces do."""

from __future__ import annotations

import copy
from typing import Any

from medpolicy.adapters.fhir.answers import choice_coding
from medpolicy.adapters.fhir.pas import read_submission
from medpolicy.adapters.fhir.to_request import AdaptedRequest
from medpolicy.adapters.native import parse_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from medpolicy.store import Actor, Case, CaseStore, SubmitResult
from tests.fhir.support import example
from tests.support import REPO

PROVIDER = Actor(
    kind="token", name="Tampa", role="provider", organization="tampa-oncology", token_id=1
)
REVIEWER = Actor(kind="token", name="Dr Rivera", role="reviewer", token_id=2)


def submit(
    store: CaseStore, registry: PolicyRegistry, body: dict[str, Any], key: str | None = None
) -> SubmitResult:
    request = parse_request(body)
    return store.submit(
        request,
        evaluate_request(registry, request),
        actor=PROVIDER,
        idempotency_key=key,
        idempotency_scope="tampa-oncology",
    )


def resubmit(store: CaseStore, registry: PolicyRegistry, case: Case, body: dict[str, Any]) -> Case:
    request = parse_request(body)
    return store.resubmit(case.id, request, evaluate_request(registry, request), actor=PROVIDER)


def aetna_registry() -> PolicyRegistry:
    """The policies with Aetna as the deployment's payer: its guideline reads the laboratory's
    overall HER2 result, a fact only the clinical record holds."""
    return PolicyRegistry.load_dir(REPO / "policies", default_payer="aetna")


def aetna_bundle(*, answered: bool) -> dict[str, Any]:
    """The Aetna PAS submission: without a DTR answer the HER2 result is missing; with the
    answers (overall HER2 result positive, second line) it is approved."""
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    if answered:
        patient = next(
            e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
        )
        response = {
            "resourceType": "QuestionnaireResponse",
            "id": "qr",
            "status": "completed",
            "questionnaire": "https://medpolicy.dev/fhir/Questionnaire/CPB-0974",
            "subject": {"reference": f"Patient/{patient['id']}"},
            "item": [
                {
                    "linkId": "every",
                    "item": [
                        {
                            "linkId": "her2.status",
                            "answer": [{"valueCoding": choice_coding("her2.status", "positive")}],
                        },
                        {"linkId": "medication.line_of_therapy", "answer": [{"valueInteger": 2}]},
                    ],
                }
            ],
        }
        bundle["entry"].append(
            {"fullUrl": "urn:uuid:8f0a3c1e-0000-4000-8000-000000000001", "resource": response}
        )
    return bundle


def adapted(bundle: dict[str, Any]) -> AdaptedRequest:
    found = read_submission(bundle, lambda hcpcs, day: True).items[0].adapted
    assert found is not None and found.request is not None
    return found


def submit_adapted(
    store: CaseStore, registry: PolicyRegistry, item: AdaptedRequest
) -> SubmitResult:
    """As PAS ``$submit`` keeps a new case: the request, and the record the engine decided."""
    assert item.request is not None and item.for_engine is not None
    decision = evaluate_request(registry, item.for_engine)
    return store.submit(item.request, decision, actor=PROVIDER, record=item.record)
