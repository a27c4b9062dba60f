"""100 concurrent submissions with one idempotency key create exactly one case."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from medpolicy.store import open_store
from tests.api.support import approved_request, running_server
from tests.reliability.test_kill9 import provider_token

pytestmark = pytest.mark.slow

CONCURRENT = 100


async def _submit_all(base_url: str, token: str) -> list[httpx.Response]:
    body = approved_request("PA-RACE-1")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "race-key-1"}
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(client.post("/api/v1/cases", json=body, headers=headers) for _ in range(CONCURRENT))
        )


def test_one_key_one_case_under_concurrency(server_database: str, tmp_path: Path) -> None:
    token = provider_token(server_database)
    with running_server(server_database, tmp_path / "server.log") as server:
        responses = asyncio.run(_submit_all(server.base_url, token))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (CONCURRENT - 1) + [201], statuses
    assert len({r.json()["id"] for r in responses}) == 1
    store = open_store(server_database)
    try:
        assert store.count() == 1
        assert store.verify_audit().ok
    finally:
        store.close()
