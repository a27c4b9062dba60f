"""Property-based requests generated from the published OpenAPI (bounded): never a 5xx, and every
4xx is JSON naming the field(s) at fault."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import Role, TokenStore
from tests.api.support import approved_request, not_met_request

MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, registry: PolicyRegistry
) -> Iterator[tuple[FastAPI, str]]:
    database = tmp_path_factory.mktemp("schemathesis") / "cases.db"
    app = create_app(Settings(database_url=f"sqlite:///{Path(database)}"), registry=registry)
    token, _ = TokenStore(app.state.services.store).create(Role.admin, name="fuzz")
    yield app, token
    app.state.services.store.close()


@pytest.fixture(scope="module")
def api_schema(service: tuple[FastAPI, str]) -> schemathesis.BaseSchema:
    app, token = service
    # Some real cases, so generated case ids and actions also meet existing records.
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        for body in (approved_request(), not_met_request()):
            client.post("/api/v1/cases", json=body, headers={"Authorization": f"Bearer {token}"})
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations(api: schemathesis.BaseSchema) -> list[Any]:
    return [result.ok() for result in api.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_4xx_names_fields(
    api_schema: schemathesis.BaseSchema, service: tuple[FastAPI, str], mode: GenerationMode
) -> None:
    """Every operation, with valid (positive) and invalid (negative) generated input."""
    _, token = service
    auth = {"Authorization": f"Bearer {token}"}
    for operation in _operations(api_schema):

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
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (where, response.text[:500])
            if 400 <= response.status_code < 500:
                errors = response.json()["errors"]
                assert errors and all(e["field"] and e["problem"] for e in errors), response.text

        run()
