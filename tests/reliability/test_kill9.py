"""Kill -9 the server during a bounded load of submissions: every 2xx-acknowledged case survives."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from medpolicy.store import Role, TokenStore, open_store
from tests.api.support import Server, approved_request, not_met_request

pytestmark = pytest.mark.slow

WORKERS = 8
MAX_PER_WORKER = 60  # bounded: at most 480 submissions
KILL_AFTER_ACKS = 60


def provider_token(url: str) -> str:
    store = open_store(url)
    token, _ = TokenStore(store).create(Role.provider, name="load", organization="tampa-oncology")
    store.close()
    return token


def test_every_acknowledged_submission_survives_sigkill(
    server_database: str, tmp_path: Path
) -> None:
    token = provider_token(server_database)
    server = Server(server_database, tmp_path / "server.log").start()
    acked: dict[str, str] = {}  # case id -> request id
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def worker(n: int) -> None:
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            for i in range(MAX_PER_WORKER):
                if stop.is_set():
                    return
                request_id = f"PA-K9-{n}-{i}"
                body = approved_request(request_id) if i % 2 else not_met_request(request_id)
                try:
                    response = client.post(
                        "/api/v1/cases", json=body, headers={"Idempotency-Key": request_id}
                    )
                except httpx.HTTPError:
                    return  # the server is gone: this submission was never acknowledged
                if response.status_code in (200, 201):
                    with lock:
                        acked[response.json()["id"]] = request_id
                        if len(acked) >= KILL_AFTER_ACKS:
                            enough.set()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(timeout=120), "the server acknowledged too few submissions"
        server.kill()  # SIGKILL with submissions in flight
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        server.kill()
    with lock:
        survivors_expected = dict(acked)
    assert len(survivors_expected) >= KILL_AFTER_ACKS

    restarted = Server(server_database, tmp_path / "server-2.log").start()
    try:
        with httpx.Client(
            base_url=restarted.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            for case_id, request_id in survivors_expected.items():
                response = client.get(f"/api/v1/cases/{case_id}")
                assert response.status_code == 200, (case_id, response.text)
                assert response.json()["request_id"] == request_id
                assert response.json()["decision"]["request_id"] == request_id
    finally:
        restarted.stop()
    store = open_store(server_database)
    try:
        assert store.verify_audit().ok, "the audit chain survives the crash intact"
        assert store.count() >= len(survivors_expected)
    finally:
        store.close()
