"""What the app holds for its lifetime: the policies, the store, tokens, metrics, web sessions."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from medpolicy.api.metrics import Metrics
from medpolicy.api.settings import Settings
from medpolicy.notices import NoticeSettings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStore, TokenStore
from medpolicy.store.sessions import SessionStore

__all__ = ["Services", "app_services", "services"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    registry: PolicyRegistry
    store: CaseStore
    tokens: TokenStore
    metrics: Metrics
    sessions: SessionStore
    notices: NoticeSettings = field(default_factory=NoticeSettings)  # the deployment file's


def app_services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def services(request: Request) -> Services:
    """The dependency (async, so FastAPI calls it in the event loop, not a worker thread)."""
    return app_services(request)
