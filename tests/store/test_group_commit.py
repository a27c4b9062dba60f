"""Group commit: concurrent submissions share transactions without losing or mixing any."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, text

from medpolicy.adapters.native import parse_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.request import Request
from medpolicy.service import evaluate_request
from medpolicy.store import CaseStore, IdempotencyConflict, StoreBusy, SubmitResult
from medpolicy.store.group_commit import GroupCommit
from tests.api.support import approved_request, not_met_request
from tests.store.helpers import PROVIDER, submit


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


def test_async_submissions_from_one_event_loop_all_land_once(
    store: CaseStore, registry: PolicyRegistry
) -> None:
    """The REST route's path: many coroutines await their commits, batched by the writer."""
    requests = [parse_request(approved_request(f"PA-GCA-{i}")) for i in range(64)]

    async def submit_all() -> list[SubmitResult]:
        return await asyncio.gather(
            *(
                store.submit_async(r, evaluate_request(registry, r), actor=PROVIDER)
                for r in requests
            )
        )

    results = asyncio.run(submit_all())
    assert all(r.created for r in results)
    assert [r.case.request_id for r in results] == [r.request_id for r in requests]
    assert len({r.case.id for r in results}) == len(requests) == store.count()
    for result in results:
        assert result.records is not None
        assert result.records.history == store.history(result.case.id)
    verification = store.verify_audit()
    assert verification.ok and verification.events == len(requests)


def test_one_idempotency_key_twice_in_one_batch(store: CaseStore, registry: PolicyRegistry) -> None:
    """Retries that land in the same batch: one case, the others replay it; a different request
    under the same key is refused, and none of it fails the other submissions of the batch."""
    same = parse_request(approved_request("PA-GCK-1"))
    other = parse_request(approved_request("PA-GCK-2"))
    unrelated = parse_request(approved_request("PA-GCK-3"))

    async def submit(request: Request, key: str | None) -> SubmitResult:
        return await store.submit_async(
            request,
            evaluate_request(registry, request),
            actor=PROVIDER,
            idempotency_key=key,
            idempotency_scope="tampa-oncology",
        )

    async def submit_all() -> list[SubmitResult | BaseException]:
        return await asyncio.gather(
            submit(same, "k1"),
            submit(same, "k1"),
            submit(other, "k1"),
            submit(unrelated, None),
            submit(same, "k1"),
            return_exceptions=True,
        )

    first, second, conflict, alone, third = asyncio.run(submit_all())
    assert isinstance(first, SubmitResult) and first.created
    assert isinstance(second, SubmitResult) and isinstance(third, SubmitResult)
    assert not second.created and not third.created
    assert second.case.id == third.case.id == first.case.id
    assert isinstance(conflict, IdempotencyConflict)
    assert isinstance(alone, SubmitResult) and alone.created
    assert store.count() == 2
    assert store.verify_audit().ok


def _recording_group(
    store: CaseStore,
    batches: list[tuple[int, list[str]]],
    writable: Callable[[], bool] = lambda: True,
) -> GroupCommit[str, str]:
    """Writes in the event loop (as the service does on SQLite), recording each batch's thread
    and items; an item named "bad" fails its write."""

    def write_batch(conn: Connection, items: Sequence[str]) -> list[str]:
        batches.append((threading.get_ident(), list(items)))
        if "bad" in items:
            raise ValueError("this write fails")
        conn.execute(text("SELECT 1"))
        return [item.upper() for item in items]

    return GroupCommit(
        store.transaction, write_batch, max_batch=4, inline_async=True, writable=writable
    )


def test_inline_batches_are_what_one_loop_pass_submitted(store: CaseStore) -> None:
    batches: list[tuple[int, list[str]]] = []
    group = _recording_group(store, batches)
    items = [f"item{i}" for i in range(10)]

    async def submit_all() -> tuple[int, list[str]]:
        results = await asyncio.gather(*(group.submit_async(item) for item in items))
        return threading.get_ident(), results

    loop_thread, results = asyncio.run(submit_all())
    assert results == [item.upper() for item in items]
    # Ten submitted in one pass, written by the loop's own thread, at most max_batch at a time.
    assert [b for _, b in batches] == [items[0:4], items[4:8], items[8:10]]
    assert {thread for thread, _ in batches} == {loop_thread}


def test_inline_a_failing_write_does_not_fail_its_batch(store: CaseStore) -> None:
    batches: list[tuple[int, list[str]]] = []
    group = _recording_group(store, batches)

    async def submit_all() -> list[str | BaseException]:
        return await asyncio.gather(
            *(group.submit_async(item) for item in ("a", "bad", "c")), return_exceptions=True
        )

    first, failed, last = asyncio.run(submit_all())
    assert (first, last) == ("A", "C")
    assert isinstance(failed, ValueError)
    # The batch failed as a whole, then each item was retried in a transaction of its own.
    assert [b for _, b in batches] == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


def test_inline_flush_waits_without_blocking_while_the_store_is_busy(store: CaseStore) -> None:
    """While a write would wait (e.g. a checkpoint holds the writer lock), the loop goes on; the
    submissions made meanwhile join the batch written once the store is free."""
    batches: list[tuple[int, list[str]]] = []
    busy = threading.Event()
    busy.set()
    group = _recording_group(store, batches, writable=lambda: not busy.is_set())

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(group.submit_async("a"))
        await asyncio.sleep(0.02)  # the loop ran on while the flush waited
        assert batches == [] and not first.done()
        second = asyncio.ensure_future(group.submit_async("b"))
        busy.clear()
        return list(await asyncio.gather(first, second))

    assert asyncio.run(scenario()) == ["A", "B"]
    assert [b for _, b in batches] == [["a", "b"]]


def test_a_batch_that_cannot_begin_fails_whole_not_item_by_item() -> None:
    """A busy store (a lock held elsewhere past the lock timeout) fails the batch at once: retrying
    each item would make each wait its own timeout."""
    attempts: list[bool] = []
    release = threading.Event()

    @contextmanager
    def busy(wait: bool = True) -> Iterator[Connection]:
        attempts.append(wait)
        release.wait(timeout=30)  # the batch gathers while the first attempt "waits"
        raise StoreBusy("held elsewhere")
        yield  # pragma: no cover

    group: GroupCommit[str, str] = GroupCommit(
        busy, lambda conn, items: list(items), busy=StoreBusy
    )
    first = group.submit("first")
    while not attempts:
        threading.Event().wait(0.01)
    rest = [group.submit(f"item{i}") for i in range(5)]
    release.set()
    for future in [first, *rest]:
        with pytest.raises(StoreBusy):
            future.result(timeout=30)
    group.close()
    assert len(attempts) == 2, "one attempt per batch, none per item"


def test_the_event_loop_holds_submissions_back_while_the_store_is_busy(store: CaseStore) -> None:
    """Inline (SQLite) batches never wait on the loop: a busy store keeps them and retries, and
    fails them once they have waited the limit."""
    busy_until = [3]
    attempts: list[bool] = []

    @contextmanager
    def sometimes_busy(wait: bool = True) -> Iterator[Connection]:
        attempts.append(wait)
        if len(attempts) <= busy_until[0]:
            raise StoreBusy("held elsewhere")
        with store.transaction(wait) as conn:
            yield conn

    group: GroupCommit[str, str] = GroupCommit(
        sometimes_busy,
        lambda conn, items: [item.upper() for item in items],
        inline_async=True,
        busy=StoreBusy,
        wait_limit=60,
    )

    async def submit_all() -> list[str]:
        return await asyncio.gather(*(group.submit_async(f"item{i}") for i in range(4)))

    assert asyncio.run(submit_all()) == ["ITEM0", "ITEM1", "ITEM2", "ITEM3"]
    assert attempts == [False] * 4, "never waiting on the loop; retried until it could begin"
    busy_until[0] = 10**6
    expiring: GroupCommit[str, str] = GroupCommit(
        sometimes_busy,
        lambda conn, items: list(items),
        inline_async=True,
        busy=StoreBusy,
        wait_limit=0,
    )

    async def submit_one() -> str:
        return await expiring.submit_async("late")

    with pytest.raises(StoreBusy):
        asyncio.run(submit_one())
