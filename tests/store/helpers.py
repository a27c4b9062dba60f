"""Filling a store through its Python API, as the REST and FHIR surfaces do."""

from __future__ import annotations

from typing import Any

from medpolicy.adapters.native import parse_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from medpolicy.store import Actor, Case, CaseStore, SubmitResult

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
