"""Group commit: concurrent submissions share transactions without losing or mixing any."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, text

from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStore
from medpolicy.store.group_commit import GroupCommit
from tests.api.support import approved_request, not_met_request
from tests.store.helpers import submit


def test_concurrent_submissions_all_land_once(store: CaseStore, registry: PolicyRegistry) -> None:
    bodies = [
        approved_request(f"PA-GC-{i}") if i % 2 else not_met_request(f"PA-GC-{i}")
        for i in range(96)
    ]
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda body: submit(store, registry, body), bodies))
    assert all(r.created for r in results)
    assert len({r.case.id for r in results}) == len(bodies) == store.count()
    for body, result in zip(bodies, results, strict=True):
        assert result.case.request_id == body["request_id"]
        [event] = store.history(result.case.id)
        assert event.event_type == "case.submitted"
    verification = store.verify_audit()
    assert verification.ok and verification.events == len(bodies)


def test_a_failing_write_does_not_fail_its_batch(store: CaseStore) -> None:
    """The first write holds the writer until the rest are queued, so they form one batch."""
    group = GroupCommit(store.transaction)
    release = threading.Event()

    def first(conn: Connection) -> str:
        release.wait(timeout=30)
        return "first"

    def good(n: int) -> Callable[[Connection], int]:
        def write(conn: Connection) -> int:
            conn.execute(text("SELECT 1"))
            return n

        return write

    def bad(conn: Connection) -> None:
        raise ValueError("this write fails")

    with ThreadPoolExecutor(8) as pool:
        head = pool.submit(group.run, first)
        futures = [pool.submit(group.run, w) for w in (good(1), bad, good(2), good(3))]
        release.set()
        assert head.result(timeout=30) == "first"
        assert futures[0].result(timeout=30) == 1
        with pytest.raises(ValueError, match="this write fails"):
            futures[1].result(timeout=30)
        assert [f.result(timeout=30) for f in futures[2:]] == [2, 3]
    group.close()
