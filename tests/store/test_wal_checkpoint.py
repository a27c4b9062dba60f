"""While serving, SQLite checkpoints its WAL from a background thread, not inside requests."""

from __future__ import annotations

import time
from pathlib import Path

from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import open_store
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
