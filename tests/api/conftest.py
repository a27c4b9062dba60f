"""Fixtures for the service tests: every store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStore, Role, TokenStore, open_store
from tests.api.support import pg_available, pg_database
from tests.support import unavailable

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    if not pg_available():
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    with pg_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or a new schema in this run's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
        return
    base = request.getfixturevalue("pg_session_url")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield f"{base}?options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def store(database_url: str) -> Iterator[CaseStore]:
    case_store = open_store(database_url)
    yield case_store
    case_store.close()


@pytest.fixture
def app(database_url: str, registry: PolicyRegistry) -> FastAPI:
    return create_app(Settings(database_url=database_url), registry=registry)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass(frozen=True)
class Tokens:
    provider: str  # tampa-oncology
    other_provider: str  # miami-cancer
    reviewer: str
    admin: str

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def make_tokens(case_store: CaseStore) -> Tokens:
    tokens = TokenStore(case_store)
    return Tokens(
        provider=tokens.create(
            Role.provider, name="Tampa front desk", organization="tampa-oncology"
        )[0],
        other_provider=tokens.create(Role.provider, name="Miami", organization="miami-cancer")[0],
        reviewer=tokens.create(Role.reviewer, name="Dr Rivera")[0],
        admin=tokens.create(Role.admin, name="Ops")[0],
    )


@pytest.fixture
def tokens(app: FastAPI) -> Tokens:
    return make_tokens(app.state.services.store)
