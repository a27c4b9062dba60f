"""The routes served without FastAPI's machinery answer exactly as FastAPI would.

Each request below goes to two apps over identical stores: the service as built (``DirectRoutes``
serving the submission routes) and the same service with that layer taken out, so FastAPI routes
everything. Status, body and the headers a client acts on must match.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medpolicy.api.app import create_app
from medpolicy.api.direct import DirectRoutes
from medpolicy.api.routes import DIRECT_ENDPOINTS, router
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from tests.api.conftest import Tokens, make_tokens
from tests.api.support import approved_request, not_met_request

REQUEST = approved_request("PA-DIRECT-1")


def _app(path: Path, registry: PolicyRegistry, direct: bool) -> FastAPI:
    app = create_app(Settings(database_url=f"sqlite:///{path}"), registry=registry)
    if not direct:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not DirectRoutes]
    return app


@pytest.fixture
def clients(tmp_path: Path, registry: PolicyRegistry) -> Iterator[list[tuple[TestClient, Tokens]]]:
    apps = [_app(tmp_path / f"{d}.db", registry, d) for d in (True, False)]
    with TestClient(apps[0]) as direct, TestClient(apps[1]) as routed:
        pairs = zip((direct, routed), apps, strict=True)
        yield [(client, make_tokens(app.state.services.store)) for client, app in pairs]


def _body(data: Any) -> bytes:
    return data if isinstance(data, bytes) else json.dumps(data).encode()


# (path, token role or a literal Authorization value, body, extra headers)
CASES: dict[str, tuple[str, str | None, Any, dict[str, str]]] = {
    "evaluate: approved": ("/api/v1/evaluate", "provider", REQUEST, {}),
    "evaluate: not met": ("/api/v1/evaluate", "reviewer", not_met_request("PA-DIRECT-2"), {}),
    "evaluate: no token": ("/api/v1/evaluate", None, REQUEST, {}),
    "evaluate: unknown token": ("/api/v1/evaluate", "Bearer nope", REQUEST, {}),
    "evaluate: not a bearer token": ("/api/v1/evaluate", "Basic abc", REQUEST, {}),
    "evaluate: malformed JSON": ("/api/v1/evaluate", "provider", b'{"request_id": ', {}),
    "evaluate: not an object": ("/api/v1/evaluate", "provider", [1, 2], {}),
    "evaluate: invalid fields": (
        "/api/v1/evaluate",
        "provider",
        {**REQUEST, "body_weight": {"value": "-3", "unit": "stone"}},
        {},
    ),
    "evaluate: another organization": (
        "/api/v1/evaluate",
        "provider",
        {**REQUEST, "member": {**REQUEST["member"], "organization": "miami-cancer"}},
        {},
    ),
    "evaluate: too large": ("/api/v1/evaluate", "provider", b"[" + b"0," * 600_000 + b"0]", {}),
    "submit: reviewer token": ("/api/v1/cases", "reviewer", REQUEST, {}),
    "submit: no token": ("/api/v1/cases", None, REQUEST, {}),
    "submit: overlong idempotency key": (
        "/api/v1/cases",
        "provider",
        REQUEST,
        {"Idempotency-Key": "k" * 201},
    ),
    "submit: another drug": (
        "/api/v1/cases",
        "provider",
        {**REQUEST, "medication": {**REQUEST["medication"], "hcpcs": "J9355"}},
        {},
    ),
}


def _authorization(tokens: Tokens, who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    if " " in who:
        return {"Authorization": who}
    return Tokens.auth(getattr(tokens, who))


@pytest.mark.parametrize("name", CASES)
def test_direct_and_routed_answers_are_the_same(
    name: str, clients: list[tuple[TestClient, Tokens]]
) -> None:
    path, who, body, headers = CASES[name]
    answers = [
        client.post(
            path,
            content=_body(body),
            headers={
                "Content-Type": "application/json",
                **_authorization(tokens, who),
                **headers,
            },
        )
        for client, tokens in clients
    ]
    direct, routed = answers
    assert direct.status_code == routed.status_code
    assert direct.content == routed.content
    for header in ("content-type", "www-authenticate", "location", "idempotent-replayed"):
        assert direct.headers.get(header) == routed.headers.get(header), header


def test_a_submission_is_the_same_case_either_way(
    clients: list[tuple[TestClient, Tokens]],
) -> None:
    """Case ids and times differ between two stores; everything else must not."""
    cases = []
    for client, tokens in clients:
        first = client.post(
            "/api/v1/cases",
            json=REQUEST,
            headers={**Tokens.auth(tokens.provider), "Idempotency-Key": "same-key"},
        )
        again = client.post(
            "/api/v1/cases",
            json=REQUEST,
            headers={**Tokens.auth(tokens.provider), "Idempotency-Key": "same-key"},
        )
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.headers["idempotent-replayed"] == "true"
        assert first.headers["location"] == f"/api/v1/cases/{first.json()['id']}"
        cases.append(first.json())
    direct, routed = cases
    assert direct["decision"] == routed["decision"]
    assert direct["request"] == routed["request"]
    different = {"id", "received_at", "due_at", "updated_at", "closed_at", "history", "decisions"}
    assert {k: v for k, v in direct.items() if k not in different} == {
        k: v for k, v in routed.items() if k not in different
    }


def test_the_direct_routes_are_documented_routes_of_the_app(
    clients: list[tuple[TestClient, Tokens]],
) -> None:
    client, _ = clients[0]
    paths = client.get("/openapi.json").json()["paths"]
    layer = DirectRoutes(
        client.app,
        fastapi=client.app,  # type: ignore[arg-type]
        router=router,
        endpoints=DIRECT_ENDPOINTS,
    )
    assert layer.routes == [("POST", "/api/v1/cases"), ("POST", "/api/v1/evaluate")]
    for method, path in layer.routes:
        assert method.lower() in paths[path]
