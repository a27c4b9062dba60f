"""The reviewer web app's cookie holds a server-side session id, not the API token; the session
ends after its idle or absolute timeout, at sign-out, and when its token is revoked, at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.cli import main
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import Role, TokenStore, open_store
from medpolicy.store.schema import sessions
from tests.api.support import running_server
from tests.hostile.conftest import Hostile

COOKIE = "medpolicy_session"


def sign_in(client: TestClient, token: str) -> httpx.Response:
    response = client.post(
        "/review/login", data={"token": token, "next": "/review/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response


def signed_in(client: TestClient) -> bool:
    response = client.get("/review/", follow_redirects=False)
    return response.status_code == 200


def test_the_cookie_holds_a_session_id_never_the_token(hostile: Hostile) -> None:
    response = sign_in(hostile.client, hostile.tokens.reviewer)
    cookie = response.headers["set-cookie"]
    assert hostile.tokens.reviewer not in cookie
    value = hostile.client.cookies[COOKIE]
    assert value.startswith("ms_") and value != hostile.tokens.reviewer
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert "Max-Age=43200" in cookie  # the absolute timeout, 12 hours by default
    with hostile.app.state.services.store.engine.connect() as conn:
        stored = conn.execute(select(sessions.c.id_sha256)).scalars().all()
    assert len(stored) == 1 and value not in stored[0], "only the id's digest is stored"
    # The token itself is no longer a web credential.
    hostile.client.cookies.set(COOKIE, hostile.tokens.reviewer)
    assert not signed_in(hostile.client)


def test_signing_out_ends_the_session_at_once(hostile: Hostile) -> None:
    client = hostile.client
    sign_in(client, hostile.tokens.reviewer)
    session = client.cookies[COOKIE]
    page = client.get("/review/")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf
    out = client.post("/review/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set(COOKIE, session)  # a copy of the cookie kept from before
    assert not signed_in(client)


def test_revoking_the_token_ends_its_sessions_at_once(hostile: Hostile, database_url: str) -> None:
    client = hostile.client
    sign_in(client, hostile.tokens.reviewer)
    assert signed_in(client)
    reviewer = next(
        t for t in TokenStore(hostile.app.state.services.store).list() if t.name == "Dr Rivera"
    )
    # Revoked by another process's command, so no cache in this one can know of it.
    revoked = CliRunner().invoke(
        main, ["token", "revoke", str(reviewer.id), "--database", database_url]
    )
    assert revoked.exit_code == 0, revoked.output
    assert not signed_in(client)
    with hostile.app.state.services.store.engine.connect() as conn:
        assert conn.execute(select(sessions)).all() == []


@pytest.fixture
def short_sessions(database_url: str, registry: PolicyRegistry) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        session_idle=timedelta(minutes=5),
        session_max=timedelta(hours=1),
    )
    with TestClient(create_app(settings, registry=registry)) as client:
        yield client


def _age_session(client: TestClient, **ages: timedelta) -> None:
    now = datetime.now(UTC)
    store = client.app.state.services.store  # type: ignore[attr-defined]
    with store.engine.begin() as conn:
        conn.execute(update(sessions).values({k: now - v for k, v in ages.items()}))


def test_sessions_end_after_the_configured_idle_and_absolute_timeouts(
    short_sessions: TestClient,
) -> None:
    client = short_sessions
    store = client.app.state.services.store  # type: ignore[attr-defined]
    token, _ = TokenStore(store).create(Role.reviewer, name="Dr Rivera")
    cookie = sign_in(client, token).headers["set-cookie"]
    assert "Max-Age=3600" in cookie
    _age_session(client, last_seen_at=timedelta(minutes=4))
    assert signed_in(client), "idle for less than the idle timeout"
    _age_session(client, last_seen_at=timedelta(minutes=6))
    assert not signed_in(client), "idle for longer than the idle timeout"
    sign_in(client, token)
    _age_session(client, created_at=timedelta(minutes=61), last_seen_at=timedelta(seconds=1))
    assert not signed_in(client), "past the absolute timeout, however active"


def test_secure_cookies_by_option_or_over_https(
    database_url: str, registry: PolicyRegistry, tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=database_url, secure_cookies=True), registry=registry)
    token, _ = TokenStore(app.state.services.store).create(Role.reviewer, name="Dr Rivera")
    with TestClient(app) as client:
        assert "Secure" in sign_in(client, token).headers["set-cookie"]
    plain = create_app(Settings(database_url=database_url), registry=registry)
    with TestClient(plain, base_url="https://testserver") as client:
        assert "Secure" in sign_in(client, token).headers["set-cookie"]


def test_https_behind_a_trusted_proxy_sets_secure(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    store = open_store(url)
    token, _ = TokenStore(store).create(Role.reviewer, name="Dr Rivera")
    store.close()
    with running_server(url, tmp_path / "server.log") as server:
        form = {"token": token, "next": "/review/"}
        direct = httpx.post(f"{server.base_url}/review/login", data=form)
        proxied = httpx.post(
            f"{server.base_url}/review/login", data=form, headers={"X-Forwarded-Proto": "https"}
        )
    assert "Secure" not in direct.headers["set-cookie"]
    assert "Secure" in proxied.headers["set-cookie"]
