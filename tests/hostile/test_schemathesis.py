"""Property-based requests generated from the published OpenAPI (bounded and derandomized), on
SQLite and PostgreSQL: never a 5xx, and every 4xx is JSON naming the field(s) at fault."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import Role, TokenStore
from tests.api.support import approved_request, missing_information_request, not_met_request
from tests.hostile.conftest import backend_of, count

MAX_EXAMPLES = 25


@pytest.fixture
def service(database_url: str, registry: PolicyRegistry) -> Iterator[tuple[FastAPI, str]]:
    app = create_app(Settings(database_url=database_url), registry=registry)
    token, _ = TokenStore(app.state.services.store).create(Role.admin, name="fuzz")
    # Some real cases, so generated case ids and actions also meet existing records.
    with TestClient(app) as client:
        for body in (approved_request(), not_met_request(), missing_information_request()):
            client.post("/api/v1/cases", json=body, headers={"Authorization": f"Bearer {token}"})
    yield app, token
    app.state.services.store.close()


def _operations(api: schemathesis.BaseSchema) -> list[Any]:
    return [result.ok() for result in api.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_4xx_names_fields(
    service: tuple[FastAPI, str], database_url: str, mode: GenerationMode
) -> None:
    """Every operation, with valid (positive) and invalid (negative) generated input."""
    app, token = service
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    auth = {"Authorization": f"Bearer {token}"}
    backend = backend_of(database_url)
    for operation in _operations(api):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=auth)
            count(backend, response.status_code)
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (where, response.text[:500])
            if 400 <= response.status_code < 500:
                errors = response.json()["errors"]
                assert errors and all(e["field"] and e["problem"] for e in errors), response.text

        run()
