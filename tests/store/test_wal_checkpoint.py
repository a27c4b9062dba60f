"""While serving, SQLite checkpoints its WAL from a background thread, not inside requests."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStore, open_store
from medpolicy.store.database import WalCheckpointer, wal_checkpoint
from tests.api.conftest import Tokens, make_tokens
from tests.api.support import approved_request
from tests.store.helpers import submit


def test_background_checkpoint_moves_the_wal_into_the_database(
    tmp_path: Path, registry: PolicyRegistry
) -> None:
    path = tmp_path / "cases.db"
    store = open_store(f"sqlite:///{path}", sqlite_checkpoint_pages=100_000)
    try:
        for i in range(40):
            submit(store, registry, approved_request(f"PA-WAL-{i}"))
        before = path.stat().st_size
        wal = Path(f"{path}-wal").stat().st_size
        assert wal > before, "with a high limit, the commits wait in the WAL"
        checkpointer = WalCheckpointer(store.engine, interval=0.05)
        checkpointer.start()
        deadline = time.monotonic() + 30
        while path.stat().st_size <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        checkpointer.stop()
        assert path.stat().st_size > before, "the checkpointer copied the WAL into the database"
        assert store.count() == 40 and store.verify_audit().ok
    finally:
        store.close()


def _wal_frames(store: CaseStore) -> int:
    with store.engine.connect() as conn:
        return wal_checkpoint(conn)[1]


def test_a_long_wal_is_started_over_with_the_writers_help(
    tmp_path: Path, registry: PolicyRegistry
) -> None:
    """Past ``restart_pages`` the checkpointer asks for help; the next writer copies what is left
    before releasing the writers' lock, and the write after it starts the WAL over."""
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}", sqlite_checkpoint_pages=100_000)
    try:
        for i in range(20):
            submit(store, registry, approved_request(f"PA-WAL-{i}"))
        long_wal = _wal_frames(store)
        short = WalCheckpointer(store.engine, restart_pages=long_wal + 1)
        short.checkpoint()
        assert not short.restart_wanted, "a short WAL is left to grow"
        # This test drives the passes itself: the background thread would wait an hour.
        checkpointer = store.checkpoint_in_background(
            WalCheckpointer(store.engine, interval=3600, restart_pages=long_wal)
        )
        frames, copied = checkpointer.checkpoint()
        assert frames == copied == long_wal and checkpointer.restart_wanted

        submit(store, registry, approved_request("PA-WAL-helper"))
        assert not checkpointer.restart_wanted, "the writer copied the rest"
        submit(store, registry, approved_request("PA-WAL-next"))
        assert 0 < _wal_frames(store) < long_wal / 10, "and the next write started the WAL over"
        assert store.count() == 22 and store.verify_audit().ok
    finally:
        store.close()


def test_a_failing_helper_pass_never_fails_the_write_it_follows(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}")
    try:
        checkpointer = WalCheckpointer(store.engine)
        checkpointer.restart_wanted = True
        with store.engine.connect() as conn:
            driver = conn.connection.dbapi_connection
            assert driver is not None
            driver.execute("BEGIN IMMEDIATE")  # SQLite refuses a checkpoint inside a transaction
            checkpointer.finish(conn)
            driver.execute("ROLLBACK")
        assert checkpointer.restart_wanted, "the next writer tries again"
    finally:
        store.close()


def test_the_service_checkpoints_its_wal_in_the_background(
    tmp_path: Path, registry: PolicyRegistry
) -> None:
    """The service's store waits 16,000 pages before checkpointing in a commit: the database
    file grows sooner only because the background checkpointer runs."""
    path = tmp_path / "service.db"
    app = create_app(Settings(database_url=f"sqlite:///{path}"), registry=registry)
    with TestClient(app) as client:
        token = make_tokens(app.state.services.store).provider
        before = path.stat().st_size
        for i in range(10):
            body = approved_request(f"PA-SVC-WAL-{i}")
            response = client.post("/api/v1/cases", json=body, headers=Tokens.auth(token))
            assert response.status_code == 201
        deadline = time.monotonic() + 30
        while path.stat().st_size <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size > before
