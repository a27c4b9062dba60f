"""What the app holds for its lifetime: the policies, the store, the tokens, the metrics."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from medpolicy.api.metrics import Metrics
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStore, TokenStore

__all__ = ["Services", "services"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    registry: PolicyRegistry
    store: CaseStore
    tokens: TokenStore
    metrics: Metrics


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
