"""Fixtures for the FHIR tests: the running service over a fresh SQLite store, with tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import Role, TokenStore
from tests.fhir.support import NOW, external
from tests.support import unavailable


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    path = external()
    if not path.exists():
        unavailable(f"the shared external fixtures are not at {path} (set MEDPOLICY_SHARED)")
    return path


@dataclass(frozen=True)
class Service:
    client: TestClient
    provider: str
    other_provider: str
    reviewer: str

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def service(tmp_path: Path, registry: PolicyRegistry) -> Iterator[Service]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cases.db'}", clock=lambda: NOW)
    app = create_app(settings, registry=registry)
    tokens = TokenStore(app.state.services.store)
    with TestClient(app) as client:
        yield Service(
            client,
            tokens.create(Role.provider, name="Tampa", organization="tampa-oncology")[0],
            tokens.create(Role.provider, name="Miami", organization="miami-cancer")[0],
            tokens.create(Role.reviewer, name="Dr Rivera")[0],
        )
