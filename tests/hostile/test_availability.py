"""Availability against real processes: another process holding SQLite's write lock (or a
PostgreSQL session holding the lock every write needs) must not freeze ``medpolicy serve``.
Reads, ``/health`` and the web app keep answering; a write waits ``--lock-timeout`` and answers
503 with Retry-After; ``/health`` says the server is not ready until the lock is free. Every view
of a case is still recorded in the read audit: on PostgreSQL in the chain (it has its own lock),
on SQLite, whose one write lock the other process holds, in the read spool beside the database,
chained in order at the next server start or view. Only when the spool cannot be written either
is a view refused (503 with Retry-After).

Before this, the event loop itself waited on SQLite's busy handler (30 s), so every request
stalled behind one submission."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from medpolicy.store import Role, TokenStore, open_store
from medpolicy.store.read_spool import SPOOL_SUFFIX
from tests.api.support import approved_request, not_met_request, pg_available, pg_database
from tests.api.support import running_server as _running_server
from tests.hostile.conftest import count, record
from tests.support import sqlite_lock_held, unavailable


@contextmanager
def pg_lock_held(url: str) -> Iterator[None]:
    """Another session holds the audit chain's head row, which every write locks."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE").fetchall()
        try:
            yield
        finally:
            conn.rollback()


def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait (polling, at most a minute) until ``check()``: a hang detector, not a timing test."""
    for _ in range(1200):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


class Counted:
    """An httpx client over a live server that counts every answer for the suite's figures."""

    def __init__(self, base_url: str, backend: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=120)
        self.backend = backend

    def __call__(self, method: str, url: str, **kw: Any) -> httpx.Response:
        response = self.http.request(method, url, **kw)
        count(self.backend, response.status_code, by_design_503=True)
        assert response.status_code < 500 or response.status_code == 503, response.text
        return response


def _tokens(url: str) -> tuple[str, str]:
    store = open_store(url)
    tokens = TokenStore(store)
    provider, _ = tokens.create(Role.provider, name="Tampa", organization="tampa-oncology")
    reviewer, _ = tokens.create(Role.reviewer, name="Dr Rivera")
    store.close()
    return provider, reviewer


def _waiting_in_postgres(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0] >= 1)


def _held_back(call: Counted) -> bool:
    metrics = call("GET", "/metrics").text
    line = next(ln for ln in metrics.splitlines() if ln.startswith("medpolicy_store_writes_held"))
    return float(line.split()[-1]) >= 1


@contextmanager
def spool_unwritable(path: Path) -> Iterator[None]:
    """The read spool's path taken by a directory (what it holds set aside meanwhile)."""
    spool, aside = Path(f"{path}{SPOOL_SUFFIX}"), Path(f"{path}.aside")
    if spool.exists():
        spool.rename(aside)
    spool.mkdir()
    try:
        yield
    finally:
        spool.rmdir()
        if aside.exists():
            aside.rename(spool)


def _pending_views(url: str) -> int:
    store = open_store(url)
    try:
        return len(store.reads.pending()[0])
    finally:
        store.close()


def _views_recorded(url: str, case_id: str, backend: str) -> list[str]:
    """The case's views, each read back from the chain (none left pending) and verified."""
    store = open_store(url)
    try:
        result = store.verify_audit()
        assert result.ok and result.pending_reads == 0, result.problems
        views = store.reads.reads(case_id=case_id)
    finally:
        store.close()
    assert [v.seq for v in views] == sorted(v.seq for v in views if v.seq is not None)
    spooled = [v.spool_id is not None for v in views]
    assert spooled == ([True, True, True, False] if backend == "sqlite" else [False] * 4)
    return [v.route for v in views]


def _lock_freeze(
    backend: str, url: str, tmp_path: Path, holding: Callable[[], Any], waiting: Callable[..., bool]
) -> dict[str, Any]:
    provider, reviewer = _tokens(url)
    as_provider = {"Authorization": f"Bearer {provider}"}
    as_reviewer = {"Authorization": f"Bearer {reviewer}"}
    figures: dict[str, Any] = {}
    # 1. A long lock timeout: a write waits as long as the lock is held, and the server keeps
    #    answering everything else meanwhile.
    long_waits = ("--lock-timeout", "600", "--statement-timeout", "600")
    with _running_server(url, tmp_path / "server-1.log", *long_waits) as server:
        call = Counted(server.base_url, backend)
        case = call("POST", "/api/v1/cases", json=not_met_request(), headers=as_provider).json()
        web = httpx.Client(base_url=server.base_url, timeout=120)
        signed = web.post("/review/login", data={"token": reviewer}, follow_redirects=False)
        assert signed.status_code == 303
        with ThreadPoolExecutor(1) as pool, holding():
            pending: Future[httpx.Response] = pool.submit(
                call, "POST", "/api/v1/cases", json=approved_request(), headers=as_provider
            )
            eventually(lambda: waiting(call), "the submission waits for the lock")
            answers = {
                "GET /health/live": call("GET", "/health/live").status_code,
                "GET /health": call("GET", "/health").status_code,
                "GET /api/v1/cases/{id}": call(
                    "GET", f"/api/v1/cases/{case['id']}", headers=as_reviewer
                ).status_code,
                "GET /api/v1/queue": call("GET", "/api/v1/queue", headers=as_reviewer).status_code,
                "GET /review/": web.get("/review/").status_code,
                "GET /review/cases/{id}": web.get(f"/review/cases/{case['id']}").status_code,
                "GET /metrics": call("GET", "/metrics").status_code,
            }
            assert not pending.done(), "the write is still waiting for the lock"
        assert answers == {
            "GET /health/live": 200,
            "GET /health": 503,
            "GET /api/v1/cases/{id}": 200,
            "GET /api/v1/queue": 200,
            "GET /review/": 200,
            "GET /review/cases/{id}": 200,
            "GET /metrics": 200,
        }, answers
        released = pending.result(timeout=120)
        assert released.status_code == 201, released.text
        eventually(lambda: call("GET", "/health").status_code == 200, "ready again")
        figures["answered while a write waited for the lock"] = answers
        figures["the waiting write, once the lock was free"] = released.status_code
    # The two views made while the lock was held wait in the read spool (SQLite) ...
    assert _pending_views(url) == (2 if backend == "sqlite" else 0)
    # 2. A short lock timeout: the write gives up and says when to retry.
    with _running_server(url, tmp_path / "server-2.log", "--lock-timeout", "1") as server:
        call = Counted(server.base_url, backend)
        assert _pending_views(url) == 0, "... until the next server's start chains them"
        with holding():
            refused = {
                "POST /api/v1/cases": call(
                    "POST", "/api/v1/cases", json=approved_request(), headers=as_provider
                ),
                "POST /actions": call(
                    "POST",
                    f"/api/v1/cases/{case['id']}/actions",
                    json={"action": "deny", "reason": "HER2-negative", "decision_count": 1},
                    headers=as_reviewer,
                ),
                "GET /health": call("GET", "/health"),
            }
            for name, response in refused.items():
                assert response.status_code == 503, (name, response.text)
                assert response.headers["retry-after"] == "5", name
            assert refused["GET /health"].json()["ready"] is False
            assert refused["POST /api/v1/cases"].json()["errors"][0]["field"] == "(service)"
            still = call("GET", f"/api/v1/cases/{case['id']}", headers=as_reviewer)
            assert still.status_code == 200 and still.json()["status"] == "in_review"
            if backend == "sqlite":  # neither the store nor the spool can record a view
                with spool_unwritable(Path(url.removeprefix("sqlite:///"))):
                    unrecorded = call("GET", f"/api/v1/cases/{case['id']}", headers=as_reviewer)
                assert unrecorded.status_code == 503, unrecorded.text
                assert unrecorded.headers["retry-after"] == "5"
                figures["a case view with the read spool unwritable too"] = 503
        eventually(lambda: call("GET", "/health").status_code == 200, "ready again")
        after = call("POST", "/api/v1/cases", json=approved_request(), headers=as_provider)
        assert after.status_code == 201
        viewed = call("GET", f"/api/v1/cases/{case['id']}", headers=as_reviewer)
        assert viewed.status_code == 200
        figures["with --lock-timeout 1 while the lock is held"] = {
            k: v.status_code for k, v in refused.items()
        }
        figures["a write once the lock was free"] = after.status_code
    # Each view answered was recorded once, in order: on SQLite the three made while the lock
    # was held went through the spool (chained at the second server's start and its last view).
    assert _views_recorded(url, case["id"], backend) == [
        "GET /api/v1/cases/{case_id}",
        "GET /review/cases/{case_id}",
        "GET /api/v1/cases/{case_id}",
        "GET /api/v1/cases/{case_id}",
    ]
    figures["case views recorded (chain, after the spool drained)"] = 4
    return figures


def test_sqlite_write_lock_held_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    url = f"sqlite:///{path}"
    figures = _lock_freeze("sqlite", url, tmp_path, lambda: sqlite_lock_held(path), _held_back)
    record("lock_freeze_sqlite", figures)


@pytest.mark.postgres
def test_postgresql_lock_held_by_another_session(tmp_path: Path) -> None:
    if not pg_available():
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    with pg_database() as url:
        figures = _lock_freeze(
            "postgres",
            url,
            tmp_path,
            lambda: pg_lock_held(url),
            lambda _: _waiting_in_postgres(url),
        )
    record("lock_freeze_postgres", figures)


@pytest.mark.postgres
def test_postgresql_statements_have_a_timeout() -> None:
    if not pg_available():
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    with pg_database() as url:
        store = open_store(url, statement_timeout=1, lock_timeout=1)
        try:
            with store.connect() as conn:
                timeouts = {
                    name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                    for name in ("statement_timeout", "lock_timeout")
                }
                assert timeouts == {"statement_timeout": "1s", "lock_timeout": "1s"}
                with pytest.raises(OperationalError, match="statement timeout"):
                    conn.exec_driver_sql("SELECT pg_sleep(30)")
        finally:
            store.close()
