"""When the database goes away, the API answers 503 with Retry-After, never a bare 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import Role
from tests.api.support import approved_request, drop_database, pg_available, pg_database
from tests.support import unavailable

pytestmark = pytest.mark.postgres


def test_a_vanished_database_is_a_503(registry: PolicyRegistry) -> None:
    if not pg_available():
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    with pg_database() as url:
        app = create_app(Settings(database_url=url), registry=registry)
        token, _ = app.state.services.tokens.create(Role.admin, name="ops")
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:
            assert (
                client.post("/api/v1/cases", json=approved_request(), headers=auth).status_code
                == 201
            )
            drop_database(url)
            response = client.post("/api/v1/cases", json=approved_request(), headers=auth)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            assert response.json()["errors"][0]["field"] == "(service)"
