"""While serving, SQLite checkpoints its WAL from a background thread, not inside requests."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStore, open_store
from medpolicy.store.database import WalCheckpointer
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
        return int(conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1])


def test_a_long_wal_is_started_over_by_the_next_write(
    tmp_path: Path, registry: PolicyRegistry
) -> None:
    """Past ``restart_pages`` the checkpointer's second pass holds the writers' lock, so it
    copies every frame; the next commit then writes at the start of the WAL, not its end."""
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}", sqlite_checkpoint_pages=100_000)
    try:
        for i in range(20):
            submit(store, registry, approved_request(f"PA-WAL-{i}"))
        long_wal = _wal_frames(store)
        checkpointer = WalCheckpointer(store.engine, writer_lock=store.writer_lock, restart_pages=1)
        frames, copied = checkpointer.checkpoint()
        assert frames == copied == long_wal
        submit(store, registry, approved_request("PA-WAL-next"))
        assert 0 < _wal_frames(store) < long_wal / 10
        assert store.count() == 21 and store.verify_audit().ok
    finally:
        store.close()


def test_the_writers_lock_is_taken_only_for_a_long_wal(
    tmp_path: Path, registry: PolicyRegistry
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}", sqlite_checkpoint_pages=100_000)
    try:
        for i in range(5):
            submit(store, registry, approved_request(f"PA-WAL-{i}"))
        frames = _wal_frames(store)
        with ThreadPoolExecutor(1) as pool, store.writer_lock:
            short = WalCheckpointer(store.engine, writer_lock=store.writer_lock)
            assert short.checkpoint() == (frames, frames)  # did not wait for the held lock
            long = WalCheckpointer(
                store.engine, writer_lock=store.writer_lock, restart_pages=frames
            )
            waiting = pool.submit(long.checkpoint)
            time.sleep(0.2)
            assert not waiting.done(), "a long WAL's second pass waits for the writers"
        assert waiting.result(timeout=30) == (frames, frames)
    finally:
        store.close()
