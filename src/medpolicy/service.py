"""The one entry point every surface calls: request in, decision out."""

from __future__ import annotations

from typing import Any

from medpolicy.adapters.native import parse_request
from medpolicy.engine.decide import decide
from medpolicy.engine.decision import Decision
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.request import Request

__all__ = ["evaluate_json", "evaluate_request"]


def evaluate_request(registry: PolicyRegistry, request: Request) -> Decision:
    policy = registry.for_drug(request.medication.hcpcs, request.submitted_at.date())
    return decide(policy, request)


def evaluate_json(registry: PolicyRegistry, data: bytes | str | dict[str, Any]) -> Decision:
    """Raises ``RequestError`` naming every bad field; otherwise always returns a decision."""
    return evaluate_request(registry, parse_request(data))
