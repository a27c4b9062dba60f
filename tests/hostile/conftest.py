"""The hostile-input suite: every attack the adversarial run found, on SQLite and PostgreSQL.

Each test drives the real app (``create_app`` over a real store) through ``Hostile``, which
asserts that no response is a 5xx and counts every request by backend; the session's figures are
written to ``test-artifacts/hostile-summary.json`` (requests sent, 5xx seen, and the lock-freeze
and tamper results the tests record).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import Tokens, app, client, database_url, make_tokens, pg_session_url
from tests.support import REPO

__all__ = ["Hostile", "app", "client", "database_url", "hostile", "pg_session_url", "record"]

SUMMARY = REPO / "test-artifacts" / "hostile-summary.json"
_TALLY: dict[str, Counter[str]] = {}
_RESULTS: dict[str, Any] = {}


def backend_of(url: str) -> str:
    return "postgres" if url.startswith("postgres") else "sqlite"


def count(backend: str, status: int, *, by_design_503: bool = False) -> None:
    """Tally one answer. ``by_design_503``: a 503 the test provoked on purpose (the store held
    by another process), counted apart from the 5xx the suite must never see."""
    tally = _TALLY.setdefault(backend, Counter({"5xx": 0}))
    tally["requests"] += 1
    if status == 503 and by_design_503:
        tally["503 by design (store held)"] += 1
    elif status >= 500:
        tally["5xx"] += 1


def record(name: str, result: Any) -> None:
    """Keep a named result (e.g. the lock-freeze figures) for the session's summary."""
    _RESULTS[name] = result


class Hostile:
    """A test client that counts each request and fails on any 5xx (503 only where allowed)."""

    def __init__(self, client: TestClient, tokens: Tokens, backend: str, app: FastAPI) -> None:
        self.client = client
        self.tokens = tokens
        self.backend = backend
        self.app = app

    def request(self, method: str, url: str, *, allow_503: bool = False, **kw: Any) -> Any:
        response = self.client.request(method, url, **kw)
        self.check(response, allow_503=allow_503, where=f"{method} {url}")
        return response

    def check(self, response: httpx.Response, *, allow_503: bool = False, where: str = "") -> None:
        count(self.backend, response.status_code, by_design_503=allow_503)
        if allow_503 and response.status_code == 503:
            return
        assert response.status_code < 500, (where, response.status_code, response.text[:300])

    def post(self, url: str, token: str | None = None, **kw: Any) -> Any:
        headers = {**(kw.pop("headers", None) or {})}
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        return self.request("POST", url, headers=headers, **kw)

    def get(self, url: str, token: str | None = None, **kw: Any) -> Any:
        headers = {**(kw.pop("headers", None) or {})}
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        return self.request("GET", url, headers=headers, **kw)


@pytest.fixture
def hostile(client: TestClient, app: FastAPI, database_url: str) -> Hostile:
    return Hostile(client, make_tokens(app.state.services.store), backend_of(database_url), app)


@pytest.fixture(scope="session", autouse=True)
def _summary() -> Iterator[None]:
    yield
    if not _TALLY and not _RESULTS:
        return
    SUMMARY.parent.mkdir(exist_ok=True)
    figures = {
        "requests": {k: {**{"5xx": 0}, **dict(v)} for k, v in sorted(_TALLY.items())},
        **_RESULTS,
    }
    SUMMARY.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
